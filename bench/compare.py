"""Compare benchmark: parallel resamples through one server, and the Compare screen streaming.

Usage: `python -m bench.compare [--rounds R] [--quick] [--token-delay-ms MS] [--columns N ...]
[--profile FILE]`.

What it measures (the issue's wording: "wall time of 8 parallel resamples of 500 tokens
against 8 sequential ones through the same server (ratio printed; target ≤ 1.5x one
sample's time), and p95 time between frames while 8 columns stream at 200 tokens/s each"):

- One Chat server runs as a subprocess (`python -m grove_explorer.server --port 0 --token-delay-ms 5
  --offline-min-tokens 500`), so the client and the server each get their own core, as in
  real use. 5 ms per token is 200 tokens/s per stream, the pace of a real hosted model;
  the offline model keeps writing (paragraph breaks) until 500 tokens, so every sample is
  exactly `max_tokens` = 500 tokens long and each one ideally takes 500 / 200 = 2.5 s.
- (a) Through the SDK's `ConversationService` (the layer the app uses): a conversation
  with one message and its 500-token reply, then per round ONE resample of the reply,
  8 SEQUENTIAL resamples and 8 PARALLEL ones (`resample_many`), each timed by wall clock
  and each sample checked to have 500 tokens (not partial). Printed: the three wall
  times, parallel ÷ one sample (target ≤ 1.5) and sequential ÷ parallel (the speed-up;
  8x would be perfect). Medians over `--rounds`.
- (b) The real `GroveApp`, headless (`App.run_test(size=(160, 50))`), against the same
  server: it opens a fresh conversation (one message, one reply), opens the Compare screen
  on the reply, sets the batch's `max_tokens` to 500 and presses `8` then `R`, so 8
  columns stream at 200 tokens/s each. Frames are timestamped as `bench.tui` does (the
  headless driver skips turning a frame into terminal bytes, so the app does it, then
  records the frame with `bench.tui.FrameProbe`). The streaming window runs from the first
  token event to the last stored reply (as the app's service publishes them). Printed:
  p50/p95/max time between frames in that window; event-loop lag (a 10 ms ticker's
  lateness) p95/max; loop busy share and longest stretch without returning to the
  selector (`bench.tui.LoopMeter`); garbage-collector pauses; and the time from `R` until
  all 8 replies were stored, and until the frame that showed all 8 finished, against the
  ideal 2.5 s.
- (b) runs once per `--columns` count: by default 8 and then 16 columns (issue 15's bar:
  "16 columns in Compare stay responsive"), the 16 typed as the count prefix `1`, `6`
  before `R`, so 16 streams at 200 tokens/s each (3,200 tokens/s into one screen).
  `--profile FILE` writes a cProfile of the app's process over the streaming window of the
  last run of the largest count (`python -m pstats FILE`), to see where per-frame time goes.

Goals (issue 13: "Compare, 8 columns streaming: event-loop lag p95 < 16.7 ms; frame gap
p95 < 50 ms"; and issue 4's parallel ÷ one sample ≤ 1.5): a *frame* is what `bench.tui`
calls one (one call of `App._display` with an update, rendered to terminal output), and
the frame gap is the time between consecutive frames in the streaming window. The
Compare screen draws streamed text at most `FLUSH_HZ` (30) times a second, so gaps are
~33 ms when every flush is on time; a p95 under 50 ms means hardly any flush or paint
was late. Event-loop lag p95 under one 60 fps frame (16.7 ms) means input and drawing are
never held up noticeably; all 8 stored within 1.5x the ideal mirrors the parallel goal.
With 16 columns (issue 15) the goal is a frame gap p95 under 100 ms: twice the streams
into the same frames, and still responsive to keys.

It prints figures, then each goal beside its figure with PASS/FAIL (`bench.goals`); it
exits 0 either way (it is a benchmark, not a test). `--quick` runs (a) and (b) once with
200-token samples (the figures of a quick run are not comparable with the goals).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import itertools
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import textual
from textual import events
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.screen import Screen

from bench.goals import Goal, print_goals
from bench.sdk import server_process
from bench.tui import SIZE, FrameProbe, GcMeter, LoopMeter, median, ms, p95
from grove_explorer.app.config import AppConfig
from grove_explorer.app.grove_app import GroveApp
from grove_explorer.app.screens.compare import FLUSH_HZ, MAX_SAMPLES, CompareScreen
from grove_explorer.app.screens.main import MainScreen
from grove_explorer.client import Client, SamplingParams
from grove_explorer.client.models import ResponseNode
from grove_explorer.client.service import (
    ConversationService,
    ResponseCompleted,
    ServiceEvent,
    StreamFailed,
    TokensAppended,
)

TOKENS = 500
SAMPLES = 8
TOKEN_DELAY_MS = 5.0
FULL_ROUNDS = 3
QUICK_ROUNDS = 1
QUICK_TOKENS = 200
MESSAGE = "Tell me about trees, gardens and the weather."

TARGET_PARALLEL_RATIO = 1.5
TARGET_FRAME_GAP_S = 0.050
TARGET_WIDE_FRAME_GAP_S = 0.100
"""Issue 15: frame gap p95 with more than 8 columns (16) streaming."""
COLUMNS = (8, 16)
TARGET_LAG_S = 1 / 60
TARGET_DONE_RATIO = 1.5

LAG_TICK_S = 0.010
WAIT_STEP_S = 0.005

perf = time.perf_counter


@dataclass(frozen=True)
class Setup:
    """What a run measures: sample length, batch size, the server's pace, rounds."""

    tokens: int
    samples: int
    token_delay_ms: float
    rounds: int

    @property
    def rate(self) -> float:
        """Tokens per second of one stream (the server's pace)."""
        return 1000 / self.token_delay_ms if self.token_delay_ms > 0 else float("inf")

    @property
    def ideal(self) -> float:
        """Seconds one sample takes at the server's pace."""
        return self.tokens * self.token_delay_ms / 1000


# -- (a) parallel against sequential, through the service ------------------------------------


@dataclass
class SdkRound:
    """Wall times of one round: one resample, N sequential ones, N parallel ones."""

    one: float
    sequential: float
    parallel: float
    samples: int
    bad: list[str] = field(default_factory=list)
    """Samples that did not come back with the expected tokens (should stay empty)."""
    parallel_server_times: list[float] = field(default_factory=list)
    """Each parallel sample's total time by the server's clock."""

    @property
    def ratio(self) -> float:
        """Parallel wall time ÷ one sample's wall time (target ≤ 1.5)."""
        return self.parallel / self.one

    @property
    def speedup(self) -> float:
        """Sequential wall time ÷ parallel wall time (N would be perfect)."""
        return self.sequential / self.parallel


def check_samples(nodes: Sequence[ResponseNode | None], tokens: int, what: str) -> list[str]:
    """Describes every sample that failed, was partial or has the wrong token count."""
    problems: list[str] = []
    for index, node in enumerate(nodes):
        if node is None:
            problems.append(f"{what} #{index + 1}: failed")
        elif node.partial or node.token_count != tokens:
            state = " (partial)" if node.partial else ""
            problems.append(f"{what} #{index + 1}: {node.token_count} tokens{state}")
    return problems


async def conversation_with_reply(
    service: ConversationService, sampling: SamplingParams, title: str
) -> tuple[str, ResponseNode]:
    """A new conversation (titled, so the app does not ask for a title) with one reply."""
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    await service.set_title(cid, title)
    reply = await service.send(cid, MESSAGE, None, sampling=sampling)
    if reply is None:
        raise RuntimeError("The first reply failed; is the server healthy?")
    return cid, reply


async def sdk_round(
    service: ConversationService, cid: str, reply_id: str, tokens: int, samples: int
) -> SdkRound:
    """One round: one resample, `samples` sequential resamples, `samples` parallel ones."""
    sampling = SamplingParams(max_tokens=tokens)
    start = perf()
    one = await service.resample(cid, reply_id, sampling=sampling, select=False)
    one_time = perf() - start
    bad = check_samples([one], tokens, "one")

    start = perf()
    sequential = [
        await service.resample(cid, reply_id, sampling=sampling, select=False)
        for _ in range(samples)
    ]
    sequential_time = perf() - start
    bad += check_samples(sequential, tokens, "sequential")

    start = perf()
    parallel = await service.resample_many(cid, reply_id, samples, sampling=sampling)
    parallel_time = perf() - start
    bad += check_samples(parallel, tokens, "parallel")
    return SdkRound(
        one=one_time,
        sequential=sequential_time,
        parallel=parallel_time,
        samples=samples,
        bad=bad,
        parallel_server_times=[n.total_time for n in parallel if n is not None],
    )


async def run_sdk(address: str, setup: Setup) -> list[SdkRound]:
    """Runs the (a) rounds through a `ConversationService` of its own."""
    tokens, samples = setup.tokens, setup.samples
    client = Client(api_host=address)
    try:
        await client.wait_ready()
        service = ConversationService(client)
        cid, reply = await conversation_with_reply(
            service, SamplingParams(max_tokens=tokens), "bench.compare (a)"
        )
        results: list[SdkRound] = []
        for round_no in range(1, setup.rounds + 1):
            result = await sdk_round(service, cid, reply.response_id, tokens, samples)
            results.append(result)
            server = result.parallel_server_times
            print(
                f"  round {round_no}  one {result.one:6.3f} s  {samples} sequential "
                f"{result.sequential:7.3f} s  {samples} parallel {result.parallel:6.3f} s  "
                f"parallel/one {result.ratio:5.3f}  speed-up {result.speedup:5.2f}x  "
                f"(parallel samples by the server's clock {min(server, default=0):.3f}-"
                f"{max(server, default=0):.3f} s)",
                flush=True,
            )
            for problem in result.bad:
                print(f"    warning: {problem}", flush=True)
        return results
    finally:
        await client.close()


# -- (b) the Compare screen streaming 8 columns -----------------------------------------------


class ProbedGroveApp(GroveApp):
    """The real app, recording every frame of the current screen it paints."""

    def __init__(self, config: AppConfig) -> None:
        super().__init__(config)
        self.probe = FrameProbe()
        self.frame_hook: Callable[[float], None] | None = None
        """Called with each frame's timestamp, right after the frame was recorded."""

    def _display(self, screen: Screen[Any], renderable: Any) -> None:
        """Renders the update to terminal output as a real driver would, then records it.

        As `bench.tui.BenchApp._display` does (the headless driver skips the rendering).
        """
        super()._display(screen, renderable)
        if renderable is None or self._batch_count or screen is not self.screen:
            return
        if isinstance(renderable, LayoutUpdate | ChopsUpdate):
            renderable.render_segments(self.console)
        self.probe.on_frame(renderable)
        if self.frame_hook is not None:
            self.frame_hook(self.probe.frames[-1])


@contextlib.contextmanager
def timing_screen_updates(app: ProbedGroveApp, work: list[tuple[float, float]]) -> Iterator[None]:
    """Records (end, duration) of each screen update that paints a frame of `app`.

    The update (layout, compositing, output) runs in `Screen._on_timer_update`, which
    `bench.tui` times by overriding it on its own screen; the Compare screen is the app's,
    so the method is wrapped on `Screen` for the duration instead (screens created inside
    pick the wrapper up when they start their update timer).
    """
    original = Screen._on_timer_update

    def timed(screen: Screen[Any]) -> None:
        probe = app.probe
        frames, overhead, start = len(probe.frames), probe.overhead, perf()
        original(screen)
        if len(probe.frames) > frames:
            end = perf()
            work.append((end, end - start - (probe.overhead - overhead)))

    Screen._on_timer_update = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        Screen._on_timer_update = original  # type: ignore[method-assign]


@dataclass
class TuiRun:
    """Figures of one Compare-screen run."""

    samples: int
    tokens: int
    ideal: float
    first_token: float | None
    """From pressing R to the first token event."""
    stored: float | None
    """From pressing R until every reply was stored (the service's last completion)."""
    painted: float | None
    """From pressing R until the frame that showed every sample finished."""
    frame_gaps: list[float]
    lags: list[float]
    busy_share: float | None
    """Share of the time from R to the finished frame the event loop was busy."""
    frame_work: list[float]
    """Duration of each screen update that painted a frame (layout, compositing, output)."""
    frame_share: float | None
    """Share of that same time spent in those screen updates."""
    frame_work_quarters: tuple[float, float]
    """Median screen update in the first and in the last quarter of the streaming window."""
    stalls: list[float]
    gc: tuple[float, int, float]
    token_events: int
    tokens_seen: int
    exact: int
    """Samples stored with exactly `tokens` tokens (not partial)."""
    frames: int
    note: str = ""


def post_key(app: GroveApp, key: str) -> None:
    """Sends a key without `pilot.press`'s wait for an idle CPU (never idle while streaming)."""
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    app.post_message(event)


async def wait_for(condition: Callable[[], bool], what: str, limit: float) -> None:
    """Polls `condition` until it holds, or raises after `limit` seconds."""
    deadline = perf() + limit
    while not condition():
        if perf() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(WAIT_STEP_S)


async def lag_ticker(lags: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """Sleeps `LAG_TICK_S` at a time and records (when, how late it woke) until `stop`."""
    while not stop.is_set():
        due = perf() + LAG_TICK_S
        await asyncio.sleep(LAG_TICK_S)
        now = perf()
        lags.append((now, max(0.0, now - due)))


async def run_tui(
    address: str, cid: str, reply_id: str, setup: Setup, profile: Path | None = None
) -> TuiRun:
    """Opens Compare on `reply_id` in a headless GroveApp, samples `setup.samples`, measures.

    With `profile`, the streaming window is profiled (cProfile) and the stats written there.
    """
    app = ProbedGroveApp(AppConfig(server=address))
    work: list[tuple[float, float]] = []
    with timing_screen_updates(app, work):
        return await _run_tui(app, work, cid, reply_id, setup, profile)


async def _run_tui(
    app: ProbedGroveApp,
    work: list[tuple[float, float]],
    cid: str,
    reply_id: str,
    setup: Setup,
    profile: Path | None,
) -> TuiRun:
    """The body of `run_tui`, inside the screen-update timing."""
    tokens, samples, ideal = setup.tokens, setup.samples, setup.ideal
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: isinstance(app.screen, MainScreen), "the explorer", 30)
        await pilot.pause()
        main = app.screen
        assert isinstance(main, MainScreen)
        service = app.service
        assert service is not None
        await service.open(cid)
        await wait_for(lambda: main.conversation_id == cid, "the conversation to open", 10)
        await pilot.pause()
        main.thread.focus()
        main.thread.focus_message(reply_id)
        main.action_compare()
        await wait_for(lambda: isinstance(app.screen, CompareScreen), "the Compare screen", 10)
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        if compare.parent_id != service.forest(cid).responses[reply_id].parent_id:
            raise RuntimeError("The Compare screen opened on another message.")
        await pilot.pause()
        compare.sampling = SamplingParams(max_tokens=tokens)
        before = len(compare.columns)
        await asyncio.sleep(0.3)  # let the first paint and any settling frames pass

        token_times: list[float] = []
        completions: list[float] = []
        failures: list[str] = []
        exact: list[str] = []
        tokens_seen = 0

        def listen(event: ServiceEvent) -> None:
            nonlocal tokens_seen
            if isinstance(event, TokensAppended):
                token_times.append(perf())
                tokens_seen += len(event.tokens)
            elif isinstance(event, ResponseCompleted):
                completions.append(perf())
                if event.node.token_count != tokens or event.node.partial:
                    failures.append(f"{event.node.token_count} tokens")
                else:
                    exact.append(event.node.response_id)
            elif isinstance(event, StreamFailed):
                failures.append(str(event.error))

        def all_finished() -> bool:
            columns = compare.columns
            return len(columns) >= before + samples and not any(c.streaming for c in columns)

        painted_at: list[float] = []

        def on_frame(when: float) -> None:
            if not painted_at and len(completions) >= samples and all_finished():
                painted_at.append(when)

        unsubscribe = service.subscribe(listen)
        app.frame_hook = on_frame
        lags: list[tuple[float, float]] = []
        stop = asyncio.Event()
        meter = LoopMeter(app.probe)
        metered = meter.install(asyncio.get_running_loop())
        note = ""
        frames_before = len(app.probe.frames)
        profiler = cProfile.Profile() if profile is not None else None
        with GcMeter() as gc_meter:
            ticker = asyncio.create_task(lag_ticker(lags, stop))
            busy_start = meter.busy()
            start = perf()
            if profiler is not None:
                profiler.enable()
            for digit in str(samples):  # the count prefix, e.g. 1 then 6 for 16
                post_key(app, digit)
            post_key(app, "R")
            try:
                await wait_for(
                    lambda: bool(painted_at) or len(completions) + len(failures) >= samples,
                    "the samples to finish",
                    ideal * 4 + 30,
                )
                await wait_for(lambda: bool(painted_at), "the finished frame", 5)
            except RuntimeError as error:
                note = str(error)
            end_wait = perf()
            if profiler is not None and profile is not None:
                profiler.disable()
                profiler.dump_stats(profile)
            busy_end = meter.busy()
            stop.set()
            await ticker
        meter.uninstall()
        app.frame_hook = None
        unsubscribe()
        if failures:
            note = (note + "; " if note else "") + f"{len(failures)} bad: {failures[:3]}"

        window_start = token_times[0] if token_times else start
        window_end = completions[-1] if completions else end_wait
        frames = [t for t in app.probe.frames[frames_before:] if window_start <= t <= window_end]
        gaps = [b - a for a, b in itertools.pairwise(frames)]
        window_lags = [lag for t, lag in lags if window_start <= t <= window_end]
        stalls = [d for t, d in meter.stalls if window_start <= t <= window_end]
        elapsed = end_wait - start
        busy_share = (busy_end - busy_start) / elapsed if metered and elapsed > 0 else None
        frame_work = [d for t, d in work if start <= t <= end_wait]
        frame_share = sum(frame_work) / elapsed if elapsed > 0 else None
        quarter = (window_end - window_start) / 4
        first_quarter = [d for t, d in work if window_start <= t < window_start + quarter]
        last_quarter = [d for t, d in work if window_end - quarter <= t <= window_end]
        # Let the app wind down (stores, titles) before it exits.
        await asyncio.sleep(0.2)
    return TuiRun(
        samples=samples,
        tokens=tokens,
        ideal=ideal,
        first_token=token_times[0] - start if token_times else None,
        stored=completions[-1] - start if len(completions) >= samples else None,
        painted=painted_at[0] - start if painted_at else None,
        frame_gaps=gaps,
        lags=window_lags,
        busy_share=busy_share,
        frame_work=frame_work,
        frame_share=frame_share,
        frame_work_quarters=(median(first_quarter), median(last_quarter)),
        stalls=stalls,
        gc=gc_meter.between(window_start, window_end),
        token_events=len(token_times),
        tokens_seen=tokens_seen,
        exact=len(exact),
        frames=len(frames),
        note=note,
    )


async def run_tui_rounds(address: str, setup: Setup, profile: Path | None = None) -> list[TuiRun]:
    """Runs (b) `setup.rounds` times, each in a fresh conversation and a fresh app.

    With `profile`, the last round's streaming window is profiled into that file.
    """
    tokens = setup.tokens
    client = Client(api_host=address)
    try:
        await client.wait_ready()
        service = ConversationService(client)
        runs: list[TuiRun] = []
        for round_no in range(1, setup.rounds + 1):
            cid, reply = await conversation_with_reply(
                service,
                SamplingParams(max_tokens=tokens),
                f"bench.compare (b) {setup.samples} columns {round_no}",
            )
            last = round_no == setup.rounds
            run = await run_tui(address, cid, reply.response_id, setup, profile if last else None)
            runs.append(run)
            print(
                f"  round {round_no}  {run.frames} frames  gap p50/p95/max "
                f"{ms(median(run.frame_gaps))}/{ms(p95(run.frame_gaps))}/"
                f"{ms(max(run.frame_gaps, default=float('nan')))} ms  lag p95/max "
                f"{ms(p95(run.lags))}/{ms(max(run.lags, default=float('nan')))} ms  "
                f"stored {_seconds(run.stored)}  painted {_seconds(run.painted)}"
                + (f"  [{run.note}]" if run.note else ""),
                flush=True,
            )
        return runs
    finally:
        await client.close()


# -- report -----------------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f} s"


def _median_known(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _row(label: str, figure: str, note: str = "") -> None:
    print(f"  {label:<44} {figure:>16}" + (f"   {note}" if note else ""))


def print_sdk(results: list[SdkRound], setup: Setup) -> None:
    """The (a) figures: medians over rounds."""
    n = setup.samples
    one = statistics.median(r.one for r in results)
    sequential = statistics.median(r.sequential for r in results)
    parallel = statistics.median(r.parallel for r in results)
    print(
        f"(a) Resamples of {setup.tokens} tokens through ConversationService, one server "
        f"(median of {len(results)} round(s))"
    )
    _row(
        f"ideal one sample ({setup.tokens} tokens at {setup.rate:.0f} tok/s)",
        _seconds(setup.ideal),
    )
    _row("one resample", _seconds(one))
    _row(f"{n} sequential resamples", _seconds(sequential))
    _row(f"{n} parallel resamples (resample_many)", _seconds(parallel))
    _row(
        "parallel ÷ one sample",
        f"{statistics.median(r.ratio for r in results):.3f}",
        f"target ≤ {TARGET_PARALLEL_RATIO}",
    )
    _row(
        "sequential ÷ parallel (speed-up)",
        f"{statistics.median(r.speedup for r in results):.2f}x",
        f"{n}x is perfect",
    )
    bad = sum(len(r.bad) for r in results)
    checked = len(results) * (1 + 2 * n)
    _row(f"samples with exactly {setup.tokens} tokens", f"{checked - bad} of {checked}")


def print_tui(runs: list[TuiRun], setup: Setup) -> None:
    """The (b) figures: times are medians over runs, frame and lag figures pooled."""
    n = setup.samples
    gaps = [g for r in runs for g in r.frame_gaps]
    lags = [lag for r in runs for lag in r.lags]
    stalls = [s for r in runs for s in r.stalls]
    nan = float("nan")
    print(
        f"(b) Compare screen, {n} columns streaming {setup.tokens} tokens at {setup.rate:.0f} "
        f"tok/s each (GroveApp headless {SIZE[0]}x{SIZE[1]}, {len(runs)} run(s))"
    )
    _row(f"ideal ({setup.tokens} tokens / {setup.rate:.0f} tok/s)", _seconds(setup.ideal))
    _row(
        f"samples with exactly {setup.tokens} tokens",
        f"{sum(r.exact for r in runs)} of {n * len(runs)}",
    )
    _row("R → first token", _seconds(_median_known([r.first_token for r in runs])))
    _row(f"R → all {n} stored", _seconds(_median_known([r.stored for r in runs])))
    _row(
        f"R → frame showing all {n} finished",
        _seconds(_median_known([r.painted for r in runs])),
    )
    _row(
        "frames in the streaming window",
        f"{statistics.median(r.frames for r in runs):.0f}",
        f"token events {statistics.median(r.token_events for r in runs):.0f}, tokens "
        f"{statistics.median(r.tokens_seen for r in runs):.0f}",
    )
    _row(
        "time between frames p50/p95/max",
        f"{ms(median(gaps))}/{ms(p95(gaps))}/{ms(max(gaps, default=nan))} ms",
        f"columns draw at most {FLUSH_HZ}/s",
    )
    _row(
        f"event-loop lag ({LAG_TICK_S * 1000:.0f} ms ticker) p50/p95/max",
        f"{ms(median(lags))}/{ms(p95(lags))}/{ms(max(lags, default=nan))} ms",
    )
    busy = _median_known([r.busy_share for r in runs])
    _row(
        "event loop busy (R → finished frame)",
        "—" if busy is None else f"{busy * 100:.0f} %",
        f"longest stretch without I/O {ms(max(stalls, default=nan))} ms",
    )
    frame_work = [d for r in runs for d in r.frame_work]
    share = _median_known([r.frame_share for r in runs])
    _row(
        "screen update per frame p50/p95/max",
        f"{ms(median(frame_work))}/{ms(p95(frame_work))}/{ms(max(frame_work, default=nan))} ms",
        "layout, compositing, output: "
        + ("—" if share is None else f"{share * 100:.0f} % of the time"),
    )
    _row(
        "screen update p50, 1st → last quarter",
        f"{ms(_median_known([r.frame_work_quarters[0] for r in runs]))} → "
        f"{ms(_median_known([r.frame_work_quarters[1] for r in runs]))} ms",
        "grows with the columns' text if drawing is O(text)",
    )
    _row(
        "GC pauses (all runs)",
        f"{ms(sum(r.gc[0] for r in runs))} ms",
        f"{sum(r.gc[1] for r in runs)} full, longest {ms(max(r.gc[2] for r in runs))} ms",
    )
    for index, run in enumerate(runs, 1):
        if run.note:
            print(f"  run {index}: {run.note}")


def goals(sdk: list[SdkRound], tui: dict[int, list[TuiRun]], setup: Setup) -> list[Goal]:
    """Each goal beside its figure (PASS/FAIL; — when the part did not run).

    Per column count of (b): up to 8 columns, issue 13's lag, frame-gap and finishing
    goals; more (16), issue 15's frame gap p95 < 100 ms.
    """
    rows: list[Goal] = []
    n = setup.samples
    if sdk:
        ratio = statistics.median(r.ratio for r in sdk)
        rows.append(
            Goal(
                f"(a) {n} parallel resamples ÷ one sample",
                f"{ratio:.3f}x",
                f"≤ {TARGET_PARALLEL_RATIO}x",
                ratio <= TARGET_PARALLEL_RATIO,
            )
        )
    else:
        rows.append(Goal(f"(a) {n} parallel resamples ÷ one sample", "skipped", "≤ 1.5x", None))
    if not tui:
        name = f"(b) Compare, {SAMPLES} columns streaming:"
        for what, goal in (
            ("event-loop lag p95", f"< {TARGET_LAG_S * 1000:.1f} ms"),
            ("frame gap p95", f"< {TARGET_FRAME_GAP_S * 1000:.0f} ms"),
        ):
            rows.append(Goal(f"{name} {what}", "skipped", goal, None))
        return rows
    for columns, runs in tui.items():
        rows += (_narrow_goals if columns <= SAMPLES else _wide_goals)(columns, runs, setup)
    return rows


def _frame_gap_goal(columns: int, runs: list[TuiRun], target: float) -> Goal:
    gap = p95([g for r in runs for g in r.frame_gaps])
    return Goal(
        f"(b) Compare, {columns} columns streaming: frame gap p95",
        f"{ms(gap)} ms",
        f"< {target * 1000:.0f} ms",
        None if gap != gap else gap < target,
    )


def _wide_goals(columns: int, runs: list[TuiRun], setup: Setup) -> list[Goal]:
    """Issue 15: many columns stay responsive (frame gap p95 < 100 ms)."""
    return [_frame_gap_goal(columns, runs, TARGET_WIDE_FRAME_GAP_S)]


def _narrow_goals(columns: int, runs: list[TuiRun], setup: Setup) -> list[Goal]:
    """Issue 13: lag p95 < 16.7 ms, frame gap p95 < 50 ms, all stored within 1.5x ideal."""
    rows: list[Goal] = []
    lag = p95([lag for r in runs for lag in r.lags])
    rows.append(
        Goal(
            f"(b) Compare, {columns} columns streaming: event-loop lag p95",
            f"{ms(lag)} ms",
            f"< {TARGET_LAG_S * 1000:.1f} ms",
            None if lag != lag else lag < TARGET_LAG_S,
        )
    )
    rows.append(_frame_gap_goal(columns, runs, TARGET_FRAME_GAP_S))
    stored = _median_known([r.stored for r in runs])
    ratio_done = None if stored is None else stored / setup.ideal
    rows.append(
        Goal(
            f"(b) all {columns} stored ÷ ideal {setup.ideal:g} s",
            "never" if ratio_done is None else f"{ratio_done:.2f}x ({stored:.2f} s)",
            f"≤ {TARGET_DONE_RATIO}x",
            None if ratio_done is None else ratio_done <= TARGET_DONE_RATIO,
        )
    )
    return rows


# -- main -------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    """Starts the server, runs (a) and (b) against it and prints the report."""
    setup = Setup(
        tokens=args.tokens,
        samples=args.samples,
        token_delay_ms=args.token_delay_ms,
        rounds=args.rounds,
    )
    print(
        f"Grove Compare benchmark — Textual {textual.__version__}, Python "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs"
        f"{' (quick)' if args.quick else ''}\n"
        f"Server: --token-delay-ms {setup.token_delay_ms:g} = {setup.rate:.0f} tokens/s per "
        f"stream (the pace of a real hosted model), --offline-min-tokens {setup.tokens}, so "
        f"every sample is exactly {setup.tokens} tokens; ideal per sample "
        f"{setup.ideal:.2f} s.",
        flush=True,
    )
    sdk: list[SdkRound] = []
    tui: dict[int, list[TuiRun]] = {}
    widest = max(args.columns)
    with tempfile.TemporaryDirectory(prefix="grove-bench-compare-") as tmp:
        extra = (
            "--token-delay-ms",
            f"{setup.token_delay_ms:g}",
            "--offline-min-tokens",
            str(setup.tokens),
        )
        async with server_process(Path(tmp) / "bench.sqlite3", extra) as server:
            if not args.skip_sdk:
                print(f"\n(a) server {server.address}", flush=True)
                sdk = await run_sdk(server.address, setup)
            if not args.skip_tui:
                for columns in args.columns:
                    print(f"\n(b) {columns} columns, server {server.address}", flush=True)
                    profile = args.profile if columns == widest else None
                    tui[columns] = await run_tui_rounds(
                        server.address, replace(setup, samples=columns), profile
                    )
    print()
    if sdk:
        print_sdk(sdk, setup)
        print()
    for columns, runs in tui.items():
        print_tui(runs, replace(setup, samples=columns))
        print()
    if args.profile is not None and tui:
        print(f"cProfile of the last {widest}-column run's streaming window: {args.profile}")
    quick = " (--quick: small sizes, not comparable with the goals)" if args.quick else ""
    print_goals(f"Goals, now vs goal{quick}", goals(sdk, tui, setup))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parses the command line; `--quick` picks short samples and one round."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare",
        description=(
            "Times 8 parallel resamples of 500 tokens against 8 sequential ones through one "
            "server subprocess (200 tokens/s per stream), then streams 8 and 16 columns into "
            "the Compare screen of the real app, headless, and prints time between frames, "
            "event-loop lag and time to finish. Prints PASS/FAIL against the targets; "
            "always exits 0."
        ),
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help=f"rounds of (a) and runs of (b) (default: {FULL_ROUNDS}; {QUICK_ROUNDS} with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a short run: one round, {QUICK_TOKENS}-token samples (unless --tokens is given)",
    )
    parser.add_argument(
        "--tokens",
        type=int,
        default=None,
        help=f"tokens per sample (default: {TOKENS}; {QUICK_TOKENS} with --quick)",
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=SAMPLES,
        help="samples per batch of (a), 1-16 (default: %(default)s)",
    )
    parser.add_argument(
        "--columns",
        type=int,
        nargs="+",
        default=list(COLUMNS),
        metavar="N",
        help="columns streaming in (b), one run set per count, 1-16 each (default: 8 16)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="write a cProfile of the widest (b) run's streaming window (its last round)",
    )
    parser.add_argument(
        "--token-delay-ms",
        type=float,
        default=TOKEN_DELAY_MS,
        help="the server's pause between tokens; 5 ms = 200 tokens/s (default: %(default)s)",
    )
    parser.add_argument("--skip-sdk", action="store_true", help="skip (a), the SDK timings")
    parser.add_argument("--skip-tui", action="store_true", help="skip (b), the Compare screen")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = QUICK_ROUNDS if args.quick else FULL_ROUNDS
    if args.tokens is None:
        args.tokens = QUICK_TOKENS if args.quick else TOKENS
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not 1 <= args.tokens <= 4096:
        parser.error("--tokens must be between 1 and 4096 (the offline model's max_tokens)")
    if not 1 <= args.samples <= MAX_SAMPLES:
        parser.error(f"--samples must be between 1 and {MAX_SAMPLES}")
    if not all(1 <= c <= MAX_SAMPLES for c in args.columns):
        parser.error(f"--columns must be between 1 and {MAX_SAMPLES} (one Compare batch)")
    if not args.token_delay_ms > 0:
        parser.error("--token-delay-ms must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m bench.compare`; returns 0 whatever the verdict."""
    args = parse_args(argv)
    # Render frames as for a modern terminal (24-bit colour), whatever this shell says.
    os.environ.setdefault("COLORTERM", "truecolor")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
