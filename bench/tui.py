"""TUI benchmark: streaming into the thread view, and opening and navigating big forests.

Usage: `python -m bench.tui [--quick] [--switches N] [--seed S] [--profile FILE]`.

What it measures (the issue's wording: "(a) stream an 8 KB reply at 500 and at 2,000
tokens/s into a thread that already shows 50 messages, and print lag at the end and p95
time between frames; (b) load a 10,000-response forest (branching ~3) and a 5,000-deep
path, print time to first paint and median sibling switch"):

- A small bench app with the explorer's layout (`ForestTree` 38 columns wide on the left,
  `ThreadView` on the right) runs headless in `App.run_test(size=(160, 50))`: Textual's real
  compositor and 60 fps update timer, no server. The headless driver skips turning each
  frame into terminal bytes, so the bench app does it (`render_segments`, as a real driver
  would) and timestamps the frame right after: a *frame* is one call of `App._display`
  with an update, i.e. what would be written to the terminal.
- "Painted" means *visible*: every frame's strips are read back per pane, and a change
  counts as painted at the first frame in which its marker text has been drawn (the last
  word of the reply; for forests, the unique marker `Q<n>Z` that starts and ends every
  message, looked for in the thread pane and, for the leaf's run, in the tree pane). The
  time spent reading frames back is measured and excluded.
- (a) A path of N messages (alternating, model messages with paragraphs, lists and code
  blocks) is shown, then a streaming placeholder as the screen does (`show_path`,
  `begin_stream`, `ForestTree.set_streaming` per batch). The ~8 KB reply is split into
  word tokens; token i is due at (i + 1) / rate, and every 15 ms (the server's batching
  window) a producer calls `append_tokens` with the text of every token due by then. Ideal
  time = tokens / rate; done = until the frame that shows the reply's last word. Per
  append: the synchronous `append_tokens` call, and the *work* it causes: event-loop busy
  time (wall time minus time blocked in the selector) from that append to the next, which
  covers the live reply's update (parsing and rendering its open block), layout and
  painting; and the main thread's CPU time over the same spans (`cpu/append`: what the
  loop did without the time other processes took the core). Also the time between
  frames, the work per frame (Screen update: layout, compositing, output) and how it
  grows from the first to the last quarter of the reply, the longest stretch the loop was
  busy without returning to the selector, and the garbage collector's pauses
  (`gc.callbacks`). The runs at 0 and 200 earlier messages show whether the cost depends on
  the thread's length.
- (b) A 10,000-response random forest (each message gets 1-5 replies, breadth first, fixed
  seed) and a 5,000-deep linear path (with a 5,000-deep alternative branch half way down
  and a few siblings near the bottom). Time from `show_forest` + `show_path` to the frame
  that shows the leaf in both panes. Then sibling switches at a fixed depth (the message
  cursor put there first, as a user would): `Forest.switch_sibling`, `show_path`,
  `refresh_forest`, `set_current_path`, `focus_message`, as the screen does; time until
  the new sibling is visible in the thread and the new leaf's run in the tree, with the
  event-loop busy time in that span (the rest is waiting for Textual's 60 fps update timer).
- Frames are rendered as for a 24-bit colour terminal (`COLORTERM=truecolor` unless set).

`--profile FILE` runs only the stream at 2,000 tokens/s after 50 messages, with cProfile
on during each screen update of the stream (layout, compositing, output; the live reply
takes its text in while measured), writes the stats to FILE (`python -m pstats FILE`)
and prints the functions with the most cumulative time. Its figures are inflated by the
profiler, so it prints no goals.

It prints the detailed figures, then each goal beside its figure with PASS/FAIL
(`bench.goals`): issue 13's goal is event-loop work per append, p95, under one 60 fps
frame (16 ms) while streaming at 2,000 tokens/s after 50 messages, with the forest
figures kept (painted < 1 s, sibling switch median < 50 ms). It exits 0 either way (it is
a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import itertools
import os
import platform
import pstats
import random
import re
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import textual
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

from bench.goals import Goal, print_goals
from grove_explorer.app.memory import freeze_long_lived, tune_collector
from grove_explorer.app.widgets.forest_tree import ForestTree, run_start
from grove_explorer.app.widgets.thread_view import ThreadView
from grove_explorer.client.forest import Forest
from grove_explorer.client.models import ConversationSummary, ResponseNode

SIZE = (160, 50)
REPLY_BYTES = 8 * 1024
BATCH_WINDOW_S = 0.015
RATES = (500, 2_000)
PRIOR_MESSAGES = 50
EXTRA_PRIORS = (0, 200)
FOREST_RESPONSES = 10_000
DEEP_PATH = 5_000
SWITCHES = 50
QUICK_SWITCHES = 10
DEFAULT_SEED = 20_240_601
PAINT_TIMEOUT_S = 15.0

TARGET_RATIO = 1.10
TARGET_APPEND_MS = 10.0
TARGET_WORK_MS = 16.0
TARGET_PAINT_S = 1.0
TARGET_SWITCH_MS = 50.0

perf = time.perf_counter

# -- content -----------------------------------------------------------------------------

_WORDS = (
    "tree leaf root branch moss fern oak path rain soil seed bark wind sun shade grove stem "
    "bud twig pine elm ash glade brook stone light cloud field hill dew mist bloom grass "
    "reed pond vine hedge thorn bird nest wing song dawn dusk frost thaw which that with "
    "from under over near the a of and in on to is was grows falls turns holds keeps finds "
    "shows each every more less old new slow fast"
).split()


def _sentence(rng: random.Random, low: int = 6, high: int = 14) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(low, high))]
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice(".....?!")


def _paragraph(rng: random.Random, low: int = 2, high: int = 5) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(low, high)))


def _bullets(rng: random.Random, ordered: bool = False) -> str:
    items = [_sentence(rng, 3, 9) for _ in range(rng.randint(3, 5))]
    if ordered:
        return "\n".join(f"{k}. {item}" for k, item in enumerate(items, 1))
    return "\n".join(f"- {item}" for item in items)


def _code_block(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(3, 8)):
        a, b = rng.choice(_WORDS), rng.choice(_WORDS)
        lines.append(f"{a}_{b} = grow({b!r}, depth={rng.randint(1, 99)})")
    return "```python\n" + "\n".join(lines) + "\n```"


def marker(number: int) -> str:
    """The unique word that starts and ends message `number` (looked for on screen)."""
    return f"Q{number}Z"


def marker_of(response_id: str) -> str:
    """The marker of a generated response (ids are `n<number>`)."""
    return marker(int(response_id[1:]))


def model_markdown(rng: random.Random, mark: str) -> str:
    """A model message: paragraphs, sometimes a list or a code block, between markers."""
    blocks = [f"{mark} {_paragraph(rng)}"]
    for _ in range(rng.randint(0, 2)):
        kind = rng.random()
        if kind < 0.4:
            blocks.append(_bullets(rng, ordered=rng.random() < 0.3))
        elif kind < 0.6:
            blocks.append(_code_block(rng))
        blocks.append(_paragraph(rng, 1, 3))
    blocks[-1] += f" {mark}"
    return "\n\n".join(blocks)


def human_text(rng: random.Random, mark: str) -> str:
    """A person's message: a sentence or three between markers."""
    return f"{mark} " + " ".join(_sentence(rng) for _ in range(rng.randint(1, 3))) + f" {mark}"


def reply_markdown(rng: random.Random, size: int, last_word: str) -> str:
    """A streamed reply of about `size` bytes of Markdown ending with `last_word`."""
    blocks: list[str] = []
    length = 0
    step = 0
    while length < size - 300:
        kinds = (
            lambda: f"## {_sentence(rng, 2, 5).rstrip('.?!')}",
            lambda: _paragraph(rng),
            lambda: _bullets(rng),
            lambda: _paragraph(rng),
            lambda: _code_block(rng),
            lambda: _bullets(rng, ordered=True),
        )
        block = kinds[step % len(kinds)]()
        step += 1
        blocks.append(block)
        length += len(block) + 2
    blocks.append(_paragraph(rng, 1, 2) + f" {last_word}")
    return "\n\n".join(blocks)


def tokenize(text: str) -> list[str]:
    """Word tokens with their leading whitespace (so they join back into `text`)."""
    tokens = re.findall(r"\s*\S+", text)
    assert "".join(tokens) == text
    return tokens


# -- forests -----------------------------------------------------------------------------

SUMMARY = ConversationSummary(conversation_id="bench", title="Bench", starred=False)


def _node(number: int, parent: str | None, human: bool, rng: random.Random) -> ResponseNode:
    mark = marker(number)
    return ResponseNode(
        response_id=f"n{number}",
        parent_id=parent,
        sender="human" if human else "model",
        message=human_text(rng, mark) if human else model_markdown(rng, mark),
        model_name="" if human else "grok-bench",
        token_count=0 if human else rng.randint(50, 400),
    )


def thread_forest(prior: int, rng: random.Random) -> tuple[Forest, ResponseNode]:
    """A linear path of `prior` messages ending with a person's, and a streaming reply."""
    nodes: list[ResponseNode] = []
    parent: str | None = None
    for index in range(prior):
        node = _node(index, parent, human=(prior - 1 - index) % 2 == 0, rng=rng)
        nodes.append(node)
        parent = node.response_id
    placeholder = ResponseNode(
        response_id="pending:bench",
        parent_id=parent,
        sender="model",
        message="",
        model_name="grok-bench",
        streaming=True,
    )
    return Forest.build(SUMMARY, [*nodes, placeholder], placeholder.response_id), placeholder


def random_forest(size: int, rng: random.Random) -> Forest:
    """`size` responses, breadth first from one root, each with 1-5 replies (mean 3)."""
    nodes = [_node(0, None, human=True, rng=rng)]
    queue: deque[ResponseNode] = deque(nodes)
    while queue and len(nodes) < size:
        parent = queue.popleft()
        for _ in range(rng.randint(1, 5)):
            if len(nodes) >= size:
                break
            child = _node(len(nodes), parent.response_id, not parent.is_human, rng)
            nodes.append(child)
            queue.append(child)
    forest = Forest.build(SUMMARY, nodes, None)
    forest.select(forest.descend(nodes[0].response_id))
    return forest


def deep_forest(depth: int, rng: random.Random) -> Forest:
    """A `depth`-long linear path, an equally deep branch half way, siblings near the end."""
    nodes: list[ResponseNode] = []

    def chain(parent: str | None, start_depth: int, length: int) -> list[ResponseNode]:
        made: list[ResponseNode] = []
        for offset in range(length):
            human = (start_depth + offset) % 2 == 0
            node = _node(len(nodes), parent, human, rng)
            nodes.append(node)
            made.append(node)
            parent = node.response_id
        return made

    main = chain(None, 0, depth)
    middle = depth // 2
    chain(main[middle - 1].response_id, middle, depth - middle)
    for index in (depth - 10, depth - 5):
        for _ in range(2):
            chain(main[index - 1].response_id, index, 3)
    return Forest.build(SUMMARY, nodes, main[-1].response_id)


# -- measuring frames --------------------------------------------------------------------


@dataclass
class Watch:
    """Markers to see painted, by pane.

    `future` gets the time all of them were, minus the time the probe spent reading
    frames back since the watch started (so that work does not count).
    """

    markers: dict[str, str]
    future: asyncio.Future[float]
    overhead_at_start: float
    seen: dict[str, float] = field(default_factory=dict)


def _pane_of(x: int, panes: dict[str, tuple[int, int]]) -> str | None:
    for name, (left, right) in panes.items():
        if left <= x < right:
            return name
    return None


def pane_texts(update: object, panes: dict[str, tuple[int, int]]) -> dict[str, str]:
    """The text a frame draws in each pane (lines joined with newlines)."""
    parts: dict[str, list[str]] = {name: [] for name in panes}

    def add(x: int, strip: Strip) -> None:
        name = _pane_of(x, panes)
        if name is not None:
            parts[name].append(strip.text)

    if isinstance(update, LayoutUpdate):
        for line in update.strips:
            x = update.region.x
            for strip in line:
                add(x, strip)
                x += strip.cell_length
            for chunks in parts.values():
                chunks.append("\n")
    elif isinstance(update, ChopsUpdate):
        for y, x1, x2 in update.spans:
            for x, strip in update.chops[y].items():
                if strip is not None and x < x2 and x + strip.cell_length > x1:
                    add(x, strip)
            for chunks in parts.values():
                chunks.append("\n")
    return {name: "".join(chunks) for name, chunks in parts.items()}


class FrameProbe:
    """Timestamps frames, times the screen updates that make them, and watches for markers."""

    def __init__(self) -> None:
        self.frames: list[float] = []
        """When each frame had been rendered to terminal output."""
        self.work: list[tuple[float, float]] = []
        """(end, duration) of each screen update that produced a frame."""
        self.overhead = 0.0
        """Total time spent reading frames back (excluded from figures)."""
        self.panes: dict[str, tuple[int, int]] = {}
        self._watches: list[Watch] = []

    def set_panes(self, **widgets: Widget) -> None:
        """Names the screen columns of each pane, from the widgets' current regions."""
        self.panes = {name: (w.region.x, w.region.right) for name, w in widgets.items()}

    def watch(self, markers: dict[str, str]) -> Watch:
        """Starts looking for `markers` in the frames painted from now on."""
        watch = Watch(markers, asyncio.get_running_loop().create_future(), self.overhead)
        self._watches.append(watch)
        return watch

    def on_frame(self, update: object) -> None:
        """Records a frame (called right after it was rendered)."""
        now = perf()
        self.frames.append(now)
        if not self._watches:
            return
        texts = pane_texts(update, self.panes)
        for watch in list(self._watches):
            for pane, text in watch.markers.items():
                if pane not in watch.seen and text in texts.get(pane, ""):
                    watch.seen[pane] = now
            if len(watch.seen) == len(watch.markers):
                self._watches.remove(watch)
                if not watch.future.done():
                    watch.future.set_result(now - (self.overhead - watch.overhead_at_start))
        self.overhead += perf() - now

    def forget(self, watch: Watch) -> None:
        """Stops a watch that timed out."""
        if watch in self._watches:
            self._watches.remove(watch)


class LoopMeter:
    """Event-loop busy time: wall time minus time blocked in the selector (and the probe)."""

    def __init__(self, probe: FrameProbe) -> None:
        self.probe = probe
        self.idle = 0.0
        self.stalls: list[tuple[float, float]] = []
        """(end, duration) of each stretch the loop ran without waiting for I/O."""
        self._woke = perf()
        self._selector: Any = None

    def install(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Wraps the loop's selector; False when the loop has none (e.g. uvloop)."""
        selector = getattr(loop, "_selector", None)
        if selector is None:
            return False
        original = selector.select

        def select(timeout: float | None = None) -> Any:
            start = perf()
            self.stalls.append((start, start - self._woke))
            try:
                return original(timeout)
            finally:
                end = perf()
                self.idle += end - start
                self._woke = end

        selector.select = select
        self._selector = selector
        self._woke = perf()
        return True

    def uninstall(self) -> None:
        """Restores the selector."""
        if self._selector is not None:
            del self._selector.select
            self._selector = None

    def busy(self) -> float:
        """A clock that only runs while the loop is busy (minus the probe's overhead)."""
        return perf() - self.idle - self.probe.overhead


class GcMeter:
    """Pauses of Python's cyclic garbage collector, through `gc.callbacks`."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, int, float]] = []
        """(end, generation, duration) of each collection."""
        self._start = 0.0

    def __enter__(self) -> GcMeter:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        now = perf()
        if phase == "start":
            self._start = now
        else:
            self.pauses.append((now, info["generation"], now - self._start))

    def between(self, start: float, end: float) -> tuple[float, int, float]:
        """(total pause, full collections, longest pause) within [start, end]."""
        inside = [(g, d) for t, g, d in self.pauses if start <= t <= end]
        return (
            sum(d for _, d in inside),
            sum(1 for g, _ in inside if g == 2),
            max((d for _, d in inside), default=0.0),
        )


# -- the bench app -----------------------------------------------------------------------


class BenchScreen(Screen[None]):
    """The explorer's middle: forest pane on the left, thread on the right."""

    DEFAULT_CSS = """
    BenchScreen #body { height: 1fr; }
    BenchScreen #forest { width: 38; border-right: vkey $panel-lighten-2; }
    BenchScreen #thread { width: 1fr; height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        """The two panes."""
        with Horizontal(id="body"):
            yield ForestTree(id="forest")
            yield ThreadView(id="thread")

    @property
    def thread(self) -> ThreadView:
        """The thread view."""
        return self.query_one(ThreadView)

    @property
    def forest_pane(self) -> ForestTree:
        """The forest pane."""
        return self.query_one(ForestTree)

    def _on_timer_update(self) -> None:
        """Times Textual's screen update (layout, compositing, output) when it paints."""
        app = self.app
        if not isinstance(app, BenchApp):
            super()._on_timer_update()
            return
        probe = app.probe
        frames, overhead, start = len(probe.frames), probe.overhead, perf()
        profiler = app.profiler
        if profiler is None:
            super()._on_timer_update()
        else:
            profiler.enable()
            try:
                super()._on_timer_update()
            finally:
                profiler.disable()
        if len(probe.frames) > frames:
            end = perf()
            probe.work.append((end, end - start - (probe.overhead - overhead)))


class BenchApp(App[None]):
    """Runs `BenchScreen` and records every frame it paints."""

    def __init__(self) -> None:
        super().__init__()
        self.probe = FrameProbe()
        self.profiler: cProfile.Profile | None = None
        """On during screen updates when set (`--profile`)."""
        tune_collector()  # the app's GC policy (app/memory.py), as GroveApp applies it

    def get_default_screen(self) -> Screen[Any]:
        """The bench screen instead of an empty one."""
        return BenchScreen()

    @property
    def bench(self) -> BenchScreen:
        """The bench screen."""
        screen = self.screen
        assert isinstance(screen, BenchScreen)
        return screen

    def _display(self, screen: Screen[Any], renderable: Any) -> None:
        """Renders the update to terminal output as a real driver would, then records it."""
        super()._display(screen, renderable)
        if renderable is None or self._batch_count or screen is not self.screen:
            return
        if isinstance(renderable, LayoutUpdate | ChopsUpdate):
            renderable.render_segments(self.console)
        self.probe.on_frame(renderable)


async def settle(app: BenchApp, quiet: float = 0.2, limit: float = 10.0) -> None:
    """Waits until no frame was painted for `quiet` seconds (at most `limit`)."""
    deadline = perf() + limit
    while perf() < deadline:
        await asyncio.sleep(0.02)
        frames = app.probe.frames
        if not frames or perf() - frames[-1] >= quiet:
            return


async def painted(app: BenchApp, watch: Watch, limit: float = PAINT_TIMEOUT_S) -> float | None:
    """When the watched markers had all been painted, or None after `limit` seconds."""
    try:
        return await asyncio.wait_for(asyncio.shield(watch.future), limit)
    except TimeoutError:
        app.probe.forget(watch)
        return None


# -- statistics --------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    """Median, or NaN for no values."""
    return statistics.median(values) if values else float("nan")


def p95(values: Sequence[float]) -> float:
    """95th percentile (inclusive), or NaN for no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def ms(value: float | None, digits: int = 1) -> str:
    """Seconds as milliseconds."""
    if value is None or value != value:
        return "—"
    return f"{value * 1000:.{digits}f}"


# -- (a) streaming -----------------------------------------------------------------------


@dataclass
class StreamResult:
    """Figures of one streaming run."""

    prior: int
    rate: int
    tokens: int
    chars: int
    batches: int
    ideal: float
    done: float | None
    frame_gaps: list[float]
    calls: list[float]
    work: list[float]
    work_cpu: list[float]
    """CPU time of the process's main thread from one append to the next (the loop's
    work without the time other processes took the core: a figure for a busy machine)."""
    frame_work: list[float]
    frame_work_quarters: tuple[float, float]
    """Median frame work in the first and in the last quarter of the stream."""
    stalls: list[float]
    gc: tuple[float, int, float]
    """(total pause, full collections, longest pause) of the garbage collector."""
    note: str = ""

    @property
    def lag(self) -> float | None:
        """Done minus ideal."""
        return None if self.done is None else self.done - self.ideal

    @property
    def ratio(self) -> float | None:
        """Done over ideal."""
        return None if self.done is None else self.done / self.ideal


async def produce(
    append: Callable[[str, int], None], tokens: list[str], rate: float, start: float
) -> list[float]:
    """Sends every token due by each batch deadline; returns the times of the calls."""
    count = len(tokens)
    end = start + count / rate
    sent = 0
    window = 1
    calls: list[float] = []
    while sent < count:
        deadline = min(start + window * BATCH_WINDOW_S, end)
        window += 1
        delay = deadline - perf()
        if delay > 0:
            await asyncio.sleep(delay)
        now = perf()
        due = count if now >= end else min(count, int((now - start) * rate))
        if due <= sent:
            continue
        text = "".join(tokens[sent:due])
        sent = due
        before = perf()
        append(text, due)
        calls.append(perf() - before)
    return calls


async def run_stream(
    prior: int, rate: int, reply: str, seed: int, profiler: cProfile.Profile | None = None
) -> StreamResult:
    """Streams `reply` at `rate` tokens/s after a path of `prior` messages.

    `profiler`: on during the screen updates of the stream (from the first append until
    the last word is painted).
    """
    rng = random.Random(seed)
    forest, placeholder = thread_forest(prior, rng)
    tokens = tokenize(reply)
    last_word = tokens[-1].strip()
    app = BenchApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.bench
        thread, tree = screen.thread, screen.forest_pane
        app.probe.set_panes(tree=tree, thread=thread)
        tree.show_forest(forest)
        shown = forest.model_copy(update={"leaf_id": placeholder.parent_id})
        await thread.show_path(shown)
        await thread.begin_stream(placeholder, forest.sibling_index(placeholder.response_id))
        thread.focus()
        await settle(app)
        freeze_long_lived()  # as MainScreen does after opening a conversation

        meter = LoopMeter(app.probe)
        metered = meter.install(asyncio.get_running_loop())
        busy_marks: list[float] = []
        cpu_marks: list[float] = []

        def append(text: str, total: int) -> None:
            busy_marks.append(meter.busy())
            cpu_marks.append(time.thread_time())
            thread.append_tokens(text)
            tree.set_streaming(placeholder.response_id, total)

        frames_before = len(app.probe.frames)
        app.profiler = profiler
        with GcMeter() as gc_meter:
            start = perf()
            calls = await produce(append, tokens, rate, start)
            # Registered in the same step as the last append: no frame can come in between.
            watch = app.probe.watch({"thread": last_word})
            done_at = await painted(app, watch, PAINT_TIMEOUT_S + len(tokens) / rate)
            busy_end = meter.busy()
            cpu_end = time.thread_time()
        app.profiler = None
        meter.uninstall()
        end = done_at if done_at is not None else perf()
        frames = [t for t in app.probe.frames[frames_before:] if t <= end]
        gaps = [b - a for a, b in itertools.pairwise(frames)]
        marks = [*busy_marks, busy_end]
        work = [b - a for a, b in itertools.pairwise(marks)] if metered else []
        frame_work = [(t, d) for t, d in app.probe.work if start <= t <= end]
        quarter = (end - start) / 4
        first_quarter = [d for t, d in frame_work if t < start + quarter]
        last_quarter = [d for t, d in frame_work if t >= end - quarter]
        stalls = [d for t, d in meter.stalls if start <= t <= end]
        note = ""
        live = thread.live_reply
        if done_at is None:
            reached = live is not None and live.source.rstrip().endswith(last_word)
            note = "last word never painted" + ("" if reached else " (nor in the widget)")
        try:
            await asyncio.wait_for(
                thread.end_stream(placeholder.model_copy(update={"streaming": False})), 10
            )
        except TimeoutError:
            note = (note + "; " if note else "") + "end_stream did not complete in 10 s"
    return StreamResult(
        prior=prior,
        rate=rate,
        tokens=len(tokens),
        chars=len(reply),
        batches=len(calls),
        ideal=len(tokens) / rate,
        done=None if done_at is None else done_at - start,
        frame_gaps=gaps,
        calls=calls,
        work=work,
        work_cpu=[b - a for a, b in itertools.pairwise([*cpu_marks, cpu_end])],
        frame_work=[d for _, d in frame_work],
        frame_work_quarters=(median(first_quarter), median(last_quarter)),
        stalls=stalls,
        gc=gc_meter.between(start, end),
        note=note,
    )


# -- (b) forests -------------------------------------------------------------------------


@dataclass
class SwitchSeries:
    """Sibling switches at one depth of the path."""

    label: str
    index: int
    siblings: int
    sync: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)
    """Event-loop busy time from the switch until it was painted."""
    gc_pause: float = 0.0
    """Total garbage-collector pause during the timed parts."""
    missed: int = 0


@dataclass
class ForestResult:
    """Figures of one forest: opening it and switching siblings in it."""

    name: str
    responses: int
    path_length: int
    sync: float
    first_frame: float | None
    painted: float | None
    series: list[SwitchSeries]


def leaf_markers(forest: Forest) -> dict[str, str]:
    """What shows the leaf is painted: its marker in the thread, its run's in the tree."""
    leaf = forest.leaf_id
    assert leaf is not None
    return {"thread": marker_of(leaf), "tree": marker_of(run_start(forest, leaf))}


async def run_switches(
    app: BenchApp, forest: Forest, label: str, index: int, count: int
) -> SwitchSeries:
    """`count` sibling switches of the message at path index `index`, cycling."""
    thread = app.bench.thread
    target = forest.current_path[index].response_id
    series = SwitchSeries(label, index, forest.sibling_index(target)[1])
    thread.focus_message(target)
    await settle(app)
    meter = LoopMeter(app.probe)
    metered = meter.install(asyncio.get_running_loop())
    with GcMeter() as gc_meter:
        for _ in range(count):
            await _switch(app, forest, index, series, meter if metered else None, gc_meter)
    meter.uninstall()
    return series


async def _switch(
    app: BenchApp,
    forest: Forest,
    index: int,
    series: SwitchSeries,
    meter: LoopMeter | None,
    gc_meter: GcMeter,
) -> None:
    """One timed sibling switch at path index `index` (to the next sibling, cycling)."""
    screen = app.bench
    thread, tree = screen.thread, screen.forest_pane
    response_id = forest.current_path[index].response_id
    k, n = forest.sibling_index(response_id)
    delta = 1 if k < n else 1 - n
    busy_start = meter.busy() if meter is not None else 0.0
    start = perf()
    leaf = forest.switch_sibling(response_id, delta)
    assert leaf is not None
    path = forest.current_path
    new_id = path[index].response_id
    watch = app.probe.watch(
        {"thread": marker_of(new_id), "tree": marker_of(run_start(forest, leaf))}
    )
    thread.show_path(forest)
    tree.refresh_forest(forest)
    tree.set_current_path([node.response_id for node in path])
    thread.focus_message(new_id)
    series.sync.append(perf() - start)
    done_at = await painted(app, watch)
    if done_at is None:
        series.missed += 1
    else:
        series.times.append(done_at - start)
        if meter is not None:
            series.busy.append(meter.busy() - busy_start)
        series.gc_pause += gc_meter.between(start, done_at)[0]
    await settle(app, quiet=0.1)


async def run_forest(
    name: str, forest: Forest, points: list[tuple[str, int]], switches: int
) -> ForestResult:
    """Opens `forest` in a fresh bench app, then switches siblings at each point."""
    path_length = len(forest.current_path)
    app = BenchApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.bench
        thread, tree = screen.thread, screen.forest_pane
        app.probe.set_panes(tree=tree, thread=thread)
        thread.focus()
        await settle(app)
        gc.collect()
        watch = app.probe.watch(leaf_markers(forest))
        frames_before = len(app.probe.frames)
        start = perf()
        tree.show_forest(forest)
        thread.show_path(forest)
        sync = perf() - start
        done_at = await painted(app, watch)
        frames = app.probe.frames[frames_before:]
        first = frames[0] - start if frames else None
        await settle(app)
        freeze_long_lived()  # as MainScreen does after opening a conversation
        series = [
            await run_switches(app, forest, label, index, switches) for label, index in points
        ]
    return ForestResult(
        name=name,
        responses=len(forest.responses),
        path_length=path_length,
        sync=sync,
        first_frame=first,
        painted=None if done_at is None else done_at - start,
        series=series,
    )


def middle_branch_point(forest: Forest) -> int:
    """The path index nearest the middle whose message has the most siblings (ties: middle)."""
    path = forest.current_path
    middle = len(path) // 2
    candidates = [
        i for i in range(1, len(path)) if len(forest.siblings_of(path[i].response_id)) > 1
    ]
    if not candidates:
        return middle
    return min(
        candidates, key=lambda i: (abs(i - middle), -len(forest.siblings_of(path[i].response_id)))
    )


# -- report ------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    """PASS / FAIL / — (not measured); bench.compare prints its targets with it."""
    return "—" if ok is None else ("PASS" if ok else "FAIL")


def print_streams(results: list[StreamResult]) -> None:
    """The streaming table."""
    first = results[0]
    print(
        f"(a) Streaming a {first.chars:,}-character reply ({first.tokens:,} word tokens, "
        f"{first.chars / first.tokens:.1f} chars each) in {BATCH_WINDOW_S * 1000:.0f} ms batches"
    )
    header = (
        f"{'prior':>5} {'tok/s':>6} {'calls':>5} {'ideal s':>7} {'done s':>6} {'lag ms':>6} "
        f"{'ratio':>5} | {'frame gap':>13} | {'append()':>8} | {'work/append':>13} | "
        f"{'cpu/append':>13} | {'frame work':>13} | {'frame work':>11} | {'max':>5} | "
        f"{'GC pause':>12}"
    )
    sub = (
        f"{'':>5} {'':>6} {'':>5} {'':>7} {'':>6} {'':>6} {'':>5} | {'p50/p95':>13} | "
        f"{'p95':>8} | {'p50/p95':>13} | {'p50/p95':>13} | {'p50/p95':>13} | "
        f"{'1st→4th qtr':>11} | "
        f"{'stall':>5} | {'ms (full n)':>12}"
    )
    print(header)
    print(sub)
    print("-" * len(header))
    for r in results:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}"
        lag = "—" if r.lag is None else f"{r.lag * 1000:+.0f}"
        done = "—" if r.done is None else f"{r.done:.3f}"
        gc_total, gc_full, _ = r.gc
        print(
            f"{r.prior:>5} {r.rate:>6,} {r.batches:>5} {r.ideal:>7.3f} {done:>6} {lag:>6} "
            f"{ratio:>5} | {ms(median(r.frame_gaps)):>6}/{ms(p95(r.frame_gaps)):<6} | "
            f"{ms(p95(r.calls), 2):>8} | {ms(median(r.work)):>6}/{ms(p95(r.work)):<6} | "
            f"{ms(median(r.work_cpu)):>6}/{ms(p95(r.work_cpu)):<6} | "
            f"{ms(median(r.frame_work)):>6}/{ms(p95(r.frame_work)):<6} | "
            f"{ms(r.frame_work_quarters[0], 0):>4}→{ms(r.frame_work_quarters[1], 0):<6} | "
            f"{ms(max(r.stalls, default=float('nan')), 0):>5} | "
            f"{ms(gc_total, 0):>6} ({gc_full}){'':>2}" + (f"  [{r.note}]" if r.note else "")
        )
    print(
        "  All times in ms except ideal/done (s). calls = append_tokens() calls (one per "
        "batch); done = until the\n"
        "  frame that shows the last word; append() = the synchronous call; work/append = "
        "event-loop busy time from\n"
        "  one append to the next (live reply update, layout, "
        "paint); cpu/append = the\n"
        "  main thread's CPU time in the same spans (without the time other processes "
        "took the core); frame work = one screen\n"
        "  update (layout, compositing, output); max stall = longest loop stretch "
        "without returning to the selector;\n"
        "  GC pause = cyclic garbage collector during the stream (n = full collections). "
        "Frames are capped at 60 fps."
    )


def print_forests(results: list[ForestResult]) -> None:
    """The forest table."""
    print("(b) Forests")
    header = (
        f"{'forest':<18} {'responses':>9} {'path':>5} {'call':>6} {'1st':>6} {'painted':>7} "
        f"| {'switch at':<24} {'call':>5} {'busy':>6} {'p50':>6} {'p95':>6} {'max':>6} "
        f"{'GC':>5} {'n':>3}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        left = (
            f"{r.name:<18} {r.responses:>9,} {r.path_length:>5} {ms(r.sync):>6} "
            f"{ms(r.first_frame):>6} {ms(r.painted):>7}"
        )
        for row, s in enumerate(r.series):
            where = f"{s.label} (#{s.index}, {s.siblings} sib)"
            missed = f" ({s.missed} never painted)" if s.missed else ""
            gc_share = s.gc_pause / len(s.times) if s.times else float("nan")
            print(
                f"{left if row == 0 else ' ' * len(left)} | {where:<24} "
                f"{ms(median(s.sync)):>5} {ms(median(s.busy)):>6} {ms(median(s.times)):>6} "
                f"{ms(p95(s.times)):>6} {ms(max(s.times, default=float('nan'))):>6} "
                f"{ms(gc_share):>5} {len(s.times):>3}{missed}"
            )
    print(
        "  All times in ms. call = the synchronous calls (show_forest + show_path; for a "
        "switch, switch_sibling +\n"
        "  show_path + refresh_forest + set_current_path + focus_message); 1st = first frame "
        "after the call; painted =\n"
        "  until the leaf is visible in both panes. A switch is timed until the new sibling "
        "shows in the thread and the\n"
        "  new leaf's run in the tree; busy = median event-loop busy time in that span (the "
        "rest is waiting for frames);\n"
        "  GC = mean garbage-collector pause per switch."
    )


def goal_rows(streams: list[StreamResult], forests: list[ForestResult]) -> list[Goal]:
    """Each figure beside its goal (issue 13: every interaction inside one frame)."""
    rows: list[Goal] = []
    for r in streams:
        work = p95(r.work)
        rows.append(
            Goal(
                f"work per append p95, {r.rate:,} tok/s, {r.prior} prior",
                f"{ms(work)} ms",
                f"< {TARGET_WORK_MS:.0f} ms (one 60 fps frame)",
                None if work != work else work * 1000 < TARGET_WORK_MS,
            )
        )
    for r in streams:
        frame = p95(r.frame_work)
        rows.append(
            Goal(
                f"frame work p95, {r.rate:,} tok/s, {r.prior} prior",
                f"{ms(frame)} ms",
                f"< {TARGET_WORK_MS:.0f} ms",
                None if frame != frame else frame * 1000 < TARGET_WORK_MS,
            )
        )
    for r in streams:
        if r.rate == max(RATES):
            ratio, lag = r.ratio, r.lag
            figure = "never painted"
            if ratio is not None and lag is not None:
                figure = f"{ratio:.2f}x ({lag * 1000:+.0f} ms)"
            rows.append(
                Goal(
                    f"done / ideal, {r.rate:,} tok/s, {r.prior} prior",
                    figure,
                    f"<= {TARGET_RATIO}x",
                    None if ratio is None else ratio <= TARGET_RATIO,
                )
            )
    for r in streams:
        call = p95(r.calls)
        rows.append(
            Goal(
                f"append_tokens() call p95, {r.rate:,} tok/s, {r.prior} prior",
                f"{ms(call, 2)} ms",
                f"< {TARGET_APPEND_MS:.0f} ms",
                None if call != call else call * 1000 < TARGET_APPEND_MS,
            )
        )
    for f in forests:
        rows.append(
            Goal(
                f"{f.name}: open, painted",
                f"{ms(f.painted)} ms",
                f"< {TARGET_PAINT_S * 1000:.0f} ms",
                None if f.painted is None else f.painted < TARGET_PAINT_S,
            )
        )
    for f in forests:
        for s in f.series:
            value = median(s.times)
            rows.append(
                Goal(
                    f"{f.name}: sibling switch median, {s.label}",
                    f"{ms(value)} ms",
                    f"< {TARGET_SWITCH_MS:.0f} ms",
                    None if value != value else value * 1000 < TARGET_SWITCH_MS and not s.missed,
                )
            )
    return rows


# -- main --------------------------------------------------------------------------------


async def profile_stream(args: argparse.Namespace, top: int = 40) -> None:
    """`--profile`: one stream (2,000 tokens/s, 50 messages before) under cProfile."""
    profiler = cProfile.Profile()
    reply = reply_markdown(random.Random(args.seed), REPLY_BYTES, marker(999_999))
    rate = max(RATES)
    print(
        f"  profiling the stream at {rate:,} tok/s after {PRIOR_MESSAGES} messages…",
        file=sys.stderr,
    )
    result = await run_stream(PRIOR_MESSAGES, rate, reply, args.seed, profiler)
    print_streams([result])
    print(f"\n(profiled: figures above are inflated by cProfile; stats in {args.profile})\n")
    profiler.dump_stats(args.profile)
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)


async def main_async(args: argparse.Namespace) -> None:
    """Runs every scenario and prints the tables."""
    if args.profile:
        await profile_stream(args)
        return
    seed = args.seed
    switches = (
        args.switches if args.switches is not None else (QUICK_SWITCHES if args.quick else SWITCHES)
    )
    rng = random.Random(seed)
    reply = reply_markdown(rng, REPLY_BYTES, marker(999_999))
    runs = [(PRIOR_MESSAGES, rate) for rate in RATES]
    if not args.quick:
        runs += [(prior, max(RATES)) for prior in EXTRA_PRIORS]
    streams: list[StreamResult] = []
    for prior, rate in runs:
        print(f"  streaming at {rate:,} tok/s after {prior} messages…", file=sys.stderr)
        streams.append(await run_stream(prior, rate, reply, seed))

    forests: list[ForestResult] = []
    print(f"  building a {FOREST_RESPONSES:,}-response forest…", file=sys.stderr)
    wide = random_forest(FOREST_RESPONSES, random.Random(seed + 1))
    wide_point = middle_branch_point(wide)
    forests.append(await run_forest("10k forest (b≈3)", wide, [("middle", wide_point)], switches))
    del wide
    print(f"  building a {DEEP_PATH:,}-deep path…", file=sys.stderr)
    deep = deep_forest(DEEP_PATH, random.Random(seed + 2))
    points = [("near bottom", DEEP_PATH - 10), ("middle", DEEP_PATH // 2)]
    forests.append(await run_forest(f"{DEEP_PATH // 1000}k-deep path", deep, points, switches))

    print(
        f"Grove TUI benchmark — Textual {textual.__version__}, Python "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"headless {SIZE[0]}x{SIZE[1]}, seed {seed}{' (quick)' if args.quick else ''}"
    )
    print()
    print_streams(streams)
    print()
    print_forests(forests)
    print_goals("Goals (issue 13)", goal_rows(streams, forests))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.tui",
        description=(
            "Benchmark the Grove TUI headless: stream an 8 KB reply into the thread view, "
            "and open and navigate a 10,000-response forest and a 5,000-deep path. "
            "Prints figures against the targets; always exits 0."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"short run: 50 prior messages only, {QUICK_SWITCHES} switches per point",
    )
    parser.add_argument(
        "--switches",
        type=int,
        default=None,
        help=f"sibling switches per point (default {SWITCHES})",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed of the content")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        default="",
        help="only profile the screen updates of the 2,000 tok/s stream (cProfile stats to FILE)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    # Render frames as for a modern terminal (24-bit colour), whatever this shell says.
    os.environ.setdefault("COLORTERM", "truecolor")
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
