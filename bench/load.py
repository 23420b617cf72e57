"""Load benchmark: many concurrent reply streams against one real server, on loopback.

Usage: `python -m bench.load [--streams 200] [--tokens-per-second 50] [--tokens 150]
[--duration-limit 120] [--client-procs K] [--probe-server-loop] [--server-args FLAGS]
[--skip-cap-check] [--quick]`.

What it measures (the issue's wording: "a load run (outside the unit tests, bounded in
time, loopback only) of 200 concurrent streams at 50 tokens/s each, printing streams/s,
p50/p99 time to first token, p99 gap between token messages, server CPU, and errors; then
count stored responses: nothing lost. Targets: 0 errors, 0 lost, p99 gap < 50 ms. Set a
server-side cap on concurrent streams (`--max-streams`) that answers RESOURCE_EXHAUSTED
beyond it."):

- The Chat server runs as a subprocess on 127.0.0.1
  (`python -m grove_explorer.server --port 0`), with a
  temporary SQLite file, `--token-delay-ms` = 1000 / tokens-per-second (20 ms for 50
  tokens/s), `--offline-min-tokens` = `--tokens` (so every reply is exactly that long) and
  `--max-streams` a little above `--streams` (the run itself must never hit the cap). A
  separate process is the only way to see the server's CPU apart from the client's: its
  utime+stime are read from `/proc/<pid>/stat` before and after the streaming phase.
- The client side uses the SDK as an application would: one conversation per stream
  (`create_conversation` + `ensure_created`, before the clock starts), then every stream
  starts at once with `Conversation.sample(prompt, parent_response_id=None, sampling=...)`
  and its typed events are iterated. Per stream: time to first token (request start to the
  first `TokensEvent`), the gap between consecutive `TokensEvent`s (each is one wire
  message; the server batches tokens every `--batch-interval-ms`, 15 ms by default, which at
  one token per 20 ms means one token per message, so the ideal gap is ~20 ms), tokens and
  text received, and any exception (counted by type, first message kept).
- All streams share one gRPC channel per client process. The Grove server sets no
  `grpc.max_concurrent_streams`, and extra `Client` objects in one process would not
  help anyway: channels with the same target and arguments share one subchannel (one TCP
  connection) through gRPC's global subchannel pool. Checked rather than assumed: with a
  per-connection limit, the streams beyond it would wait a whole reply for their first
  token; with 200 and with 300 streams on one channel the TTFT max stayed below one
  reply's duration, nearly all of it spent before the stored human message came back.
- `--client-procs K` splits the streams over K worker processes (`python -m bench.load
  --worker ...`), each with its own event loop and connection: it answers whether one
  Python client process, not the server, is what delays token messages. Workers open their
  conversations, say READY, start streaming when the parent writes GO, and print their
  records as one JSON line; the parent merges them (perf_counter is CLOCK_MONOTONIC on
  Linux, so times from different processes compare).
- Where the time goes. Each client process runs a 5 ms ticker and records how late it
  wakes (event-loop lag) and its garbage-collector pauses: a saturated client loop delays
  every token message it has not yet read. Server pacing comes from the stored replies
  themselves (`total_time_seconds` against the ideal (tokens - 1) x delay). CPU is split
  into the server process and its event-loop thread (one Python thread cannot use more
  than one core), the client, and everything else on the machine (`/proc/stat`: other
  processes and interrupt work; on a shared 2-core machine other processes move every
  figure). `--probe-server-loop` runs the same server entry point with a lag ticker and a
  GC recorder on its loop; `--server-args` passes extra flags to the measured server
  (e.g. `--batch-interval-ms`, `--checkpoint-ms`) to compare settings.
- After the run every conversation is fetched with `get_conversation`; a stream is lost
  when no stored model reply matches what its client received: a complete, non-partial
  reply with the same text for a stream that finished; a reply (partial allowed) whose
  text starts with the received text for one that failed.
- Cap check: a fresh server with `--max-streams 10`; 10 streams run, and once all of them
  have produced a token an 11th is started, which must fail with RESOURCE_EXHAUSTED
  (`client.ResourceExhaustedError`) while the 10 complete; after they finish, one more
  stream must succeed (the cap is released).

Everything is bounded: server start-up, conversation set-up, the streaming phase
(`--duration-limit`, each stream records a TimeoutError when it passes), verification and
the cap check. The server gets SIGTERM at the end (SIGKILL if it does not stop). It prints
figures and PASS/FAIL against the targets; it exits 0 either way (it is a benchmark, not a
test).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grove_explorer.client import Client, Conversation, ResourceExhaustedError, SamplingParams
from grove_explorer.client.streams import ModelResponseEvent, TokensEvent, UserResponseEvent
from grove_explorer.server import launcher

DEFAULT_STREAMS = 200
DEFAULT_TOKENS = 150
DEFAULT_TOKENS_PER_SECOND = 50.0
DEFAULT_DURATION_LIMIT_S = 120.0
QUICK_STREAMS = 40
QUICK_TOKENS = 60
GAP_TARGET_MS = 50.0
# --max-streams of the measured server: above --streams, so the run never meets the cap.
CAP_HEADROOM = 10
# The cap check: a fresh server limited to CAP_STREAMS, replies of CAP_TOKENS tokens.
CAP_STREAMS = 10
CAP_TOKENS = 30
CAP_CHECK_TIMEOUT_S = 30.0
PROMPT = "Tell me about trees, gardens and the weather."
TICK_S = 0.005
PROJECT_ROOT = Path(__file__).resolve().parents[1]
_STARTUP_TIMEOUT_S = 60.0
_SHUTDOWN_TIMEOUT_S = 20.0
_SETUP_TIMEOUT_S = 60.0
_VERIFY_TIMEOUT_S = 120.0
# Conversation set-up and verification RPCs in flight at once (they are not measured).
_SETUP_CONCURRENCY = 32


# -- records -------------------------------------------------------------------------------


@dataclass
class StreamRecord:
    """What one stream saw at the client. Times are perf_counter seconds."""

    index: int
    conversation_id: str
    started: float = 0.0
    ended: float = 0.0
    # Seconds from the request's start to the first TokensEvent; None if none came.
    first_token: float | None = None
    # Seconds from the request's start to the stored human message (UserResponseEvent):
    # the part of the time to first token spent before sampling starts.
    user_response: float | None = None
    # Seconds between consecutive TokensEvents (one per token wire message).
    gaps: list[float] = field(default_factory=list)
    tokens: int = 0
    messages: int = 0
    text: str = ""
    # The model response the stream ended with (ModelResponseEvent), if it got that far.
    response_id: str = ""
    partial: bool = False
    error_type: str = ""
    error_message: str = ""

    @property
    def completed(self) -> bool:
        """The stream ended normally with a complete (non-partial) model response."""
        return not self.error_type and bool(self.response_id) and not self.partial


@dataclass
class ClientResult:
    """One client process's streaming phase: its streams, loop lag and CPU."""

    records: list[StreamRecord]
    loop_lags: list[float]
    gc_pauses: list[float]
    cpu_seconds: float
    # CPU of the thread running the event loop (the rest is gRPC's own threads).
    loop_cpu_seconds: float
    started: float
    ended: float

    def to_json(self) -> str:
        """One line of JSON (a worker's answer to the parent)."""
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> ClientResult:
        """Reads a worker's line back."""
        data = json.loads(line)
        data["records"] = [StreamRecord(**r) for r in data["records"]]
        return cls(**data)


# -- the server subprocess -----------------------------------------------------------------


class ServerProcess(launcher.ServerProcess):
    """The shared launcher's server on 127.0.0.1, with its CPU time read from /proc.

    The pid lets the server's own CPU time be read while the client runs in other
    processes. With `probe` the same server entry point runs under `serve_probed`, which
    writes its event-loop lag there. The server's log goes to this console.
    """

    def __init__(self, db: Path, extra_args: Sequence[str] = (), probe: Path | None = None) -> None:
        entry = (
            launcher.SERVER_ENTRY
            if probe is None
            else ("-m", "bench.load", "--serve-probed", str(probe))
        )
        super().__init__(
            db,
            ("--host", "127.0.0.1", *extra_args),
            entry=entry,
            cwd=PROJECT_ROOT,
            startup_timeout=_STARTUP_TIMEOUT_S,
            shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
            capture_stderr=False,
        )

    def cpu_seconds(self) -> float:
        """The server's user+system CPU time so far (all its threads), from /proc."""
        return process_cpu_seconds(self.pid)

    def cpu_snapshot(self) -> tuple[float, float, float, float]:
        """(process, its main thread, machine busy, machine irq+softirq) CPU seconds so far."""
        return self.cpu_seconds(), self.loop_cpu_seconds(), *machine_busy_seconds()

    def loop_cpu_seconds(self) -> float:
        """CPU time of the server's main thread (its event loop; tid = pid) so far.

        One Python thread cannot use more than one core (the GIL), so this thread near
        100 % means the server's loop is saturated even when the process total looks low.
        """
        return process_cpu_seconds(self.pid, self.pid)


def process_cpu_seconds(pid: int, tid: int | None = None) -> float:
    """utime+stime of `pid` (or of its thread `tid`) in seconds, from /proc (Linux only).

    The command name (field 2) may contain spaces and parentheses, so the fields are
    counted from the last ')'; utime and stime are fields 14 and 15, in clock ticks.
    """
    where = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    stat = Path(where).read_text(encoding="ascii", errors="replace")
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state), so field n is fields[n - 3].
    ticks = int(fields[14 - 3]) + int(fields[15 - 3])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> tuple[float, float]:
    """CPU seconds all cores spent busy since boot, and of those in irq/softirq (/proc/stat).

    Busy is everything but idle and iowait. Minus the server and the client, it is what
    other processes took during the run (on a shared machine they distort every figure),
    plus interrupt work, which includes loopback TCP's receive path and is charged to no
    process.
    """
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is inside user).
    busy = sum(fields[:8]) - fields[3] - fields[4]
    tick = os.sysconf("SC_CLK_TCK")
    return busy / tick, (fields[5] + fields[6]) / tick


# -- the client side -----------------------------------------------------------------------


class LoopLagMeter:
    """A ticker that records how late the event loop wakes it (every `TICK_S`).

    A busy loop reads token messages late, so its lag is added to every gap the client
    measures; the server cannot be blamed for that part.
    """

    def __init__(self) -> None:
        # (perf_counter when the tick should have come, how late it came), seconds.
        self.ticks: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    def lags(self, start: float = -math.inf, end: float = math.inf) -> list[float]:
        """Lags of the ticks due within [start, end]."""
        return [lag for due, lag in self.ticks if start <= due <= end]

    def start(self) -> None:
        """Starts ticking."""
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        """Stops ticking."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _tick(self) -> None:
        while True:
            due = time.perf_counter() + TICK_S
            await asyncio.sleep(TICK_S)
            self.ticks.append((due, max(0.0, time.perf_counter() - due)))


class GcMeter:
    """Records garbage-collector pauses (a pause stops the whole event loop)."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        # When each pause started (perf_counter), to cut them to a window later.
        self.starts: list[float] = []
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.starts.append(self._started)
            self.pauses.append(time.perf_counter() - self._started)

    def __enter__(self) -> GcMeter:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


async def open_conversations(client: Client, count: int) -> list[Conversation]:
    """Creates `count` conversations on the server (unmeasured set-up, bounded)."""
    gate = asyncio.Semaphore(_SETUP_CONCURRENCY)

    async def one() -> Conversation:
        async with gate:
            conversation = client.grok.create_conversation()
            await conversation.ensure_created()
            return conversation

    async with asyncio.timeout(_SETUP_TIMEOUT_S):
        return list(await asyncio.gather(*(one() for _ in range(count))))


async def stream_one(
    conversation: Conversation, index: int, tokens: int, deadline: float
) -> StreamRecord:
    """Runs one stream to its end (or the deadline, a loop.time()) and records it.

    Any exception is recorded, never raised, so one failed stream does not hide the
    figures of the others.
    """
    record = StreamRecord(index=index, conversation_id=conversation.conversation_id)
    pieces: list[str] = []
    last: float | None = None
    record.started = time.perf_counter()
    try:
        async with asyncio.timeout_at(deadline):
            stream = conversation.sample(
                PROMPT,
                parent_response_id=None,
                sampling=SamplingParams(max_tokens=tokens, seed=index + 1),
            )
            async for event in stream:
                if isinstance(event, TokensEvent):
                    now = time.perf_counter()
                    if last is None:
                        record.first_token = now - record.started
                    else:
                        record.gaps.append(now - last)
                    last = now
                    record.messages += 1
                    record.tokens += len(event.tokens)
                    pieces.append(event.text)
                elif isinstance(event, UserResponseEvent):
                    record.user_response = time.perf_counter() - record.started
                elif isinstance(event, ModelResponseEvent):
                    record.response_id = event.response.response_id
                    record.partial = event.response.partial
    except Exception as error:  # every failure is a figure of the run
        record.error_type = type(error).__name__
        record.error_message = str(error) or repr(error)
    record.ended = time.perf_counter()
    record.text = "".join(pieces)
    return record


async def run_client(
    address: str,
    first_index: int,
    count: int,
    tokens: int,
    duration_limit: float,
    ready: Callable[[], Awaitable[None]],
) -> ClientResult:
    """One client process's share: open `count` conversations, await `ready`, stream.

    `ready` returns when every process may start (at once for a single process; the
    parent's GO line for workers), so set-up is never inside the measured window.
    """
    async with Client(api_host=address) as client:
        async with asyncio.timeout(_SETUP_TIMEOUT_S):
            await client.wait_ready()
        conversations = await open_conversations(client, count)
        # The client gets the collector policy the app and the server use: what exists
        # now lives for the whole run, and young collections run less often, so a
        # client-side GC pause does not show up as a server token gap.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        await ready()
        meter = LoopLagMeter()
        meter.start()
        cpu_before = time.process_time()
        loop_cpu_before = time.thread_time()
        started = time.perf_counter()
        deadline = asyncio.get_running_loop().time() + duration_limit
        with GcMeter() as gc_meter:
            records = await asyncio.gather(
                *(
                    stream_one(conversation, first_index + i, tokens, deadline)
                    for i, conversation in enumerate(conversations)
                )
            )
        ended = time.perf_counter()
        cpu = time.process_time() - cpu_before
        loop_cpu = time.thread_time() - loop_cpu_before
        await meter.stop()
    return ClientResult(list(records), meter.lags(), gc_meter.pauses, cpu, loop_cpu, started, ended)


async def run_worker(args: argparse.Namespace) -> None:
    """`--worker` mode: READY after set-up, stream on GO, print the result as JSON."""
    loop = asyncio.get_running_loop()

    async def ready() -> None:
        print("READY", flush=True)
        # A blocking read, so it goes to a thread (never block the loop).
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if line.strip() != "GO":
            raise SystemExit("The parent did not say GO.")

    result = await run_client(
        args.worker, args.first_index, args.streams, args.tokens, args.duration_limit, ready
    )
    sys.stdout.write(result.to_json() + "\n")
    sys.stdout.flush()


class WorkerProcess:
    """A `python -m bench.load --worker` client process holding a share of the streams."""

    def __init__(self, address: str, first_index: int, count: int, args: argparse.Namespace):
        self._argv = [
            sys.executable,
            "-m",
            "bench.load",
            "--worker",
            address,
            "--first-index",
            str(first_index),
            "--streams",
            str(count),
            "--tokens",
            str(args.tokens),
            "--duration-limit",
            str(args.duration_limit),
        ]
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Starts the worker and waits (bounded) until its conversations are open."""
        self._process = await asyncio.create_subprocess_exec(
            *self._argv,
            cwd=PROJECT_ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 26,  # the JSON answer is one long line
        )
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), _SETUP_TIMEOUT_S)
        if line.strip() != b"READY":
            raise RuntimeError(f"A client worker failed to start: {line!r}")

    def go(self) -> None:
        """Lets the worker start streaming."""
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(b"GO\n")

    async def result(self) -> ClientResult:
        """The worker's records (the caller bounds the wait)."""
        assert self._process is not None and self._process.stdout is not None
        line = await self._process.stdout.readline()
        await self._process.wait()
        if not line.strip():
            raise RuntimeError("A client worker ended without results.")
        return ClientResult.from_json(line.decode())

    def kill(self) -> None:
        """Kills the worker if it is still running (on failure)."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()


def split(total: int, parts: int) -> list[int]:
    """`total` streams over `parts` processes, as evenly as possible."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def run_streams(
    args: argparse.Namespace, server: ServerProcess
) -> tuple[list[ClientResult], tuple[float, ...]]:
    """The measured phase, in this process or over `--client-procs` workers.

    Returns the client results and the CPU seconds spent during the phase: see
    `ServerProcess.cpu_snapshot`.
    """

    def spent(before: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(a - b for a, b in zip(server.cpu_snapshot(), before, strict=True))

    if args.client_procs == 1:
        cpu_box: list[tuple[float, ...]] = []

        async def ready() -> None:
            cpu_box.append(server.cpu_snapshot())

        result = await run_client(
            server.address, 0, args.streams, args.tokens, args.duration_limit, ready
        )
        return [result], spent(cpu_box[0])
    workers: list[WorkerProcess] = []
    first = 0
    for count in split(args.streams, args.client_procs):
        workers.append(WorkerProcess(server.address, first, count, args))
        first += count
    try:
        await asyncio.gather(*(w.start() for w in workers))
        cpu_before = server.cpu_snapshot()
        for worker in workers:
            worker.go()
        async with asyncio.timeout(args.duration_limit + _SHUTDOWN_TIMEOUT_S):
            results = list(await asyncio.gather(*(w.result() for w in workers)))
        return results, spent(cpu_before)
    finally:
        for worker in workers:
            worker.kill()


async def warm_up(address: str) -> None:
    """One short unmeasured stream, so the server's model is loaded before the clock starts.

    The offline model builds its tables on first use; the first stream would otherwise
    carry that cost into the time to first token of every stream waiting behind it.
    """
    async with Client(api_host=address) as client:
        async with asyncio.timeout(_SETUP_TIMEOUT_S):
            await client.wait_ready()
            (conversation,) = await open_conversations(client, 1)
            record = await stream_one(
                conversation, -1, 5, asyncio.get_running_loop().time() + _SETUP_TIMEOUT_S
            )
    if record.error_type:
        raise RuntimeError(f"Warm-up stream failed: {record.error_type}: {record.error_message}")


def serve_probed(probe: Path, server_argv: list[str]) -> int:
    """Runs `python -m grove_explorer.server` in this process with a lag ticker on its event loop.

    The server's own entry point (`server.cli.main`) runs unchanged; an event-loop policy
    starts the ticker on the loop `asyncio.run` creates for it. On exit (SIGTERM) the
    ticks go to `probe` as JSON, for the parent to cut to the streaming window (the clocks
    agree: perf_counter is CLOCK_MONOTONIC). Opt-in (`--probe-server-loop`), so a default
    run measures the server exactly as shipped.
    """
    from grove_explorer.server.cli import main as server_main

    meter = LoopLagMeter()
    gc_meter = GcMeter().__enter__()

    class ProbedPolicy(asyncio.DefaultEventLoopPolicy):
        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            loop = super().new_event_loop()
            loop.call_soon(meter.start)
            return loop

    asyncio.set_event_loop_policy(ProbedPolicy())
    try:
        return server_main(server_argv)
    finally:
        gc_pauses = list(zip(gc_meter.starts, gc_meter.pauses, strict=True))
        probe.write_text(json.dumps({"ticks": meter.ticks, "gc": gc_pauses}), encoding="utf-8")


def read_probe(
    probe: Path | None, start: float, end: float
) -> tuple[list[float], list[float]] | None:
    """The probed server's loop lags and GC pauses within [start, end] (None: no probe)."""
    if probe is None or not probe.exists():
        return None
    data = json.loads(probe.read_text(encoding="utf-8"))
    lags = [lag for due, lag in data["ticks"] if start <= due <= end]
    pauses = [pause for began, pause in data["gc"] if start <= began <= end]
    return lags, pauses


def revision() -> str:
    """The commit being measured, and whether server/client code differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "server", "client", "protos"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown revision"
    if not head:
        return "unknown revision"
    return f"{head}{' + uncommitted server/client changes' if dirty else ''}"


# -- verification --------------------------------------------------------------------------


@dataclass
class Verification:
    """What the server stored, against what the clients received."""

    checked: int = 0
    complete_equal: int = 0
    lost: list[str] = field(default_factory=list)
    # Server-side timings of the stored complete replies (seconds).
    server_total: list[float] = field(default_factory=list)
    server_ttft: list[float] = field(default_factory=list)


async def verify(address: str, records: Sequence[StreamRecord]) -> Verification:
    """Fetches every conversation and matches its stored model reply to the stream's text."""
    result = Verification()
    gate = asyncio.Semaphore(_SETUP_CONCURRENCY)

    async def check(client: Client, record: StreamRecord) -> None:
        async with gate:
            conversation = await client.grok.get_conversation(record.conversation_id)
        models = [r for r in conversation.responses if r.sender == "model"]
        result.checked += 1
        if record.completed:
            match = [r for r in models if not r.partial and r.message == record.text]
            if match:
                result.complete_equal += 1
                result.server_total.append(match[0].total_time)
                result.server_ttft.append(match[0].time_to_first_token)
                return
            stored = [f"{len(r.message)} chars, partial={r.partial}" for r in models] or ["none"]
            result.lost.append(
                f"stream {record.index}: received {len(record.text)} chars, stored "
                + "; ".join(stored)
            )
        elif not any(r.message.startswith(record.text) for r in models) and record.text:
            result.lost.append(
                f"stream {record.index} (failed, {record.error_type}): none of "
                f"{len(models)} stored replies starts with the {len(record.text)} chars received"
            )

    async with Client(api_host=address) as client:
        async with asyncio.timeout(_VERIFY_TIMEOUT_S):
            await asyncio.gather(*(check(client, r) for r in records))
    return result


# -- the cap check -------------------------------------------------------------------------


async def cap_check(tmp: Path, delay_ms: float) -> tuple[bool, str]:
    """A fresh server with `--max-streams CAP_STREAMS`: one stream over the cap must fail.

    The extra stream starts only after every capped stream produced a token, so all of
    them are certainly registered as running on the server when it arrives.
    """
    args = (
        "--token-delay-ms",
        f"{delay_ms:g}",
        "--offline-min-tokens",
        str(CAP_TOKENS),
        "--max-streams",
        str(CAP_STREAMS),
    )
    async with (
        ServerProcess(tmp / "cap.sqlite3", args) as server,
        Client(api_host=server.address) as client,
        asyncio.timeout(CAP_CHECK_TIMEOUT_S),
    ):
        await client.wait_ready()
        conversations = await open_conversations(client, CAP_STREAMS + 2)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CAP_CHECK_TIMEOUT_S
        started = [asyncio.Event() for _ in range(CAP_STREAMS)]

        async def capped(i: int) -> StreamRecord:
            stream = conversations[i].sample(
                PROMPT, parent_response_id=None, sampling=SamplingParams(max_tokens=CAP_TOKENS)
            )
            record = StreamRecord(index=i, conversation_id=conversations[i].conversation_id)
            try:
                async for event in stream:
                    if isinstance(event, TokensEvent):
                        record.tokens += len(event.tokens)
                        started[i].set()
                    elif isinstance(event, ModelResponseEvent):
                        record.response_id = event.response.response_id
                        record.partial = event.response.partial
            except Exception as error:  # reported below
                record.error_type = type(error).__name__
                record.error_message = str(error)
            finally:
                started[i].set()
            return record

        tasks = [loop.create_task(capped(i)) for i in range(CAP_STREAMS)]
        await asyncio.gather(*(e.wait() for e in started))
        extra = await stream_one(conversations[CAP_STREAMS], CAP_STREAMS, CAP_TOKENS, deadline)
        capped_records = await asyncio.gather(*tasks)
        after = await stream_one(
            conversations[CAP_STREAMS + 1], CAP_STREAMS + 1, CAP_TOKENS, deadline
        )
    done = sum(r.completed and r.tokens == CAP_TOKENS for r in capped_records)
    refused = extra.error_type == ResourceExhaustedError.__name__
    ok = refused and done == CAP_STREAMS and after.completed
    outcome = (
        f"RESOURCE_EXHAUSTED ({extra.error_message!r})"
        if refused
        else f"{extra.error_type or 'no error'} {extra.error_message!r}"
    )
    text = (
        f"stream {CAP_STREAMS + 1} of {CAP_STREAMS + 1} → {outcome}; "
        f"{done}/{CAP_STREAMS} capped streams completed with {CAP_TOKENS} tokens; "
        f"a stream after they finished {'succeeded' if after.completed else 'FAILED'}"
    )
    return ok, text


# -- statistics and the report -------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds: float) -> str:
    """Seconds as a millisecond figure."""
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def report(
    args: argparse.Namespace,
    results: Sequence[ClientResult],
    server_cpu: tuple[float, ...],
    checked: Verification,
    cap: tuple[bool, str] | None,
    server_probe: tuple[list[float], list[float]] | None,
) -> None:
    """Prints the figures of the run and the verdicts on the targets."""
    records = [r for result in results for r in result.records]
    started = min(r.started for r in results)
    wall = max(r.ended for r in results) - started
    delay = 1.0 / args.tokens_per_second
    ideal = (args.tokens - 1) * delay
    completed = [r for r in records if r.completed]
    tokens = sum(r.tokens for r in records)
    messages = sum(r.messages for r in records)
    ttft = [r.first_token for r in records if r.first_token is not None]
    human = [r.user_response for r in records if r.user_response is not None]
    gaps = [g for r in records for g in r.gaps]
    lags = [lag for result in results for lag in result.loop_lags]
    client_cpu = sum(r.cpu_seconds for r in results)
    client_loop_cpu = max(r.loop_cpu_seconds for r in results)
    spread = max(r.started for r in records) - min(r.started for r in records)
    short = sum(r.completed and r.tokens != args.tokens for r in records)
    errors = Counter(r.error_type for r in records if r.error_type)
    first_error = {}
    for r in records:
        if r.error_type:
            first_error.setdefault(r.error_type, r.error_message)
    per_stream_rate = [
        (r.tokens - 1) / sum(r.gaps) for r in records if r.completed and r.gaps and sum(r.gaps)
    ]

    print("\nStreaming")
    print(f"  wall time            {wall:.2f} s   (ideal {ideal:.2f} s: {args.tokens - 1} gaps)")
    print(f"  streams started      {len(records)} within {ms(spread)} of each other")
    print(
        f"  completed streams    {len(completed)}/{len(records)}   "
        f"{len(completed) / wall:.1f} streams/s"
        + (f"   ({short} with a token count other than {args.tokens})" if short else "")
    )
    print(
        f"  tokens received      {tokens:,}   {tokens / wall:,.0f} tokens/s aggregate, "
        f"{percentile(per_stream_rate, 0.5):.1f} tokens/s per stream (median); "
        f"{tokens / messages if messages else math.nan:.2f} tokens/message"
    )
    print(
        f"  time to first token  p50 {ms(percentile(ttft, 0.5))}   p99 "
        f"{ms(percentile(ttft, 0.99))}   max {ms(max(ttft, default=math.nan))}"
    )
    print(
        f"    of which human   p50 {ms(percentile(human, 0.5))}   p99 "
        f"{ms(percentile(human, 0.99))}   (until the stored human message came back)"
    )
    print(
        f"  token-message gap    p50 {ms(percentile(gaps, 0.5))}   p99 "
        f"{ms(percentile(gaps, 0.99))}   max {ms(max(gaps, default=math.nan))}   "
        f"(ideal {ms(delay)}; {len(gaps):,} gaps)"
    )
    print(
        f"  server CPU           {server_cpu[0]:.2f} s   {100 * server_cpu[0] / wall:.0f} % of "
        f"one core; its event-loop thread {100 * server_cpu[1] / wall:.0f} %"
    )
    print(
        f"  client CPU           {client_cpu:.2f} s   {100 * client_cpu / wall:.0f} % of one core "
        f"({len(results)} process{'es' if len(results) > 1 else ''}; {os.cpu_count()} cores); "
        f"busiest event-loop thread {100 * client_loop_cpu / wall:.0f} %"
    )
    irq = server_cpu[3]
    others = max(0.0, server_cpu[2] - irq - server_cpu[0] - client_cpu)
    print(
        f"  other processes CPU  {others:.2f} s   {100 * others / wall:.0f} % of one core; "
        f"interrupts {100 * irq / wall:.0f} %; machine busy "
        f"{100 * server_cpu[2] / wall / (os.cpu_count() or 1):.0f} % of {os.cpu_count()} cores"
    )
    print(
        f"  client loop lag      p50 {ms(percentile(lags, 0.5))}   p99 "
        f"{ms(percentile(lags, 0.99))}   max {ms(max(lags, default=math.nan))}   "
        f"({TICK_S * 1000:g} ms ticker)"
    )
    pauses = [p for result in results for p in result.gc_pauses]
    print(
        f"  client GC pauses     {len(pauses)}   total {ms(sum(pauses))}   "
        f"max {ms(max(pauses, default=0.0))}"
    )
    if server_probe is not None:
        lags, server_gc = server_probe
        print(
            f"  server loop lag      p50 {ms(percentile(lags, 0.5))}   p99 "
            f"{ms(percentile(lags, 0.99))}   max {ms(max(lags, default=math.nan))}"
            f"   (--probe-server-loop)"
        )
        print(
            f"  server GC pauses     {len(server_gc)}   total {ms(sum(server_gc))}   "
            f"max {ms(max(server_gc, default=0.0))}   (--probe-server-loop)"
        )
    if checked.server_total:
        print(
            f"  server pacing        reply total time p50 "
            f"{percentile(checked.server_total, 0.5):.2f} s   p99 "
            f"{percentile(checked.server_total, 0.99):.2f} s (ideal {ideal:.2f} s); server "
            f"TTFT p50 {ms(percentile(checked.server_ttft, 0.5))}   p99 "
            f"{ms(percentile(checked.server_ttft, 0.99))}   (stored replies' own clock)"
        )
    print(f"  errors               {sum(errors.values())}")
    for kind, count in errors.most_common():
        print(f"    {count:>5} x {kind}: {first_error[kind][:160]}")

    print("\nStored replies")
    print(
        f"  complete and equal   {checked.complete_equal}/{len(completed)} completed streams; "
        f"{checked.checked} conversations checked"
    )
    print(f"  lost                 {len(checked.lost)}")
    for line in checked.lost[:5]:
        print(f"    {line}")

    if cap is not None:
        print(f"\nCap check (fresh server, --max-streams {CAP_STREAMS})")
        print(f"  {verdict(cap[0])}: {cap[1]}")

    p99_gap = percentile(gaps, 0.99)
    print("\nTargets")
    gap_label = f"p99 gap < {GAP_TARGET_MS:g} ms"
    print(f"  {'errors = 0':<26} {verdict(not errors)} ({sum(errors.values())})")
    print(f"  {'lost = 0':<26} {verdict(not checked.lost)} ({len(checked.lost)})")
    print(f"  {gap_label:<26} {verdict(p99_gap * 1000 < GAP_TARGET_MS)} ({ms(p99_gap)})")
    if cap is not None:
        print(f"  {'over cap: RESOURCE_EXHAUSTED':<26} {verdict(cap[0])}")


async def run(args: argparse.Namespace) -> None:
    """Runs the whole benchmark and prints its report."""
    delay_ms = 1000.0 / args.tokens_per_second
    max_streams = args.streams + CAP_HEADROOM
    print(
        f"Grove load benchmark: {args.streams} concurrent streams x {args.tokens} tokens at "
        f"{args.tokens_per_second:g} tokens/s (--token-delay-ms {delay_ms:g}), server "
        f"--max-streams {max_streams}{' ' + args.server_args if args.server_args else ''}, "
        f"{args.client_procs} client process(es), "
        f"limit {args.duration_limit:g} s; {args.revision}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="grove-load-") as tmp_name:
        tmp = Path(tmp_name)
        server_args = (
            "--token-delay-ms",
            f"{delay_ms:g}",
            "--offline-min-tokens",
            str(args.tokens),
            "--max-streams",
            str(max_streams),
            *shlex.split(args.server_args),
        )
        probe = tmp / "server-loop.json" if args.probe_server_loop else None
        async with ServerProcess(tmp / "load.sqlite3", server_args, probe) as server:
            print(f"  server {server.address} (pid {server.pid}), loopback only", flush=True)
            await warm_up(server.address)
            results, server_cpu = await run_streams(args, server)
            records = [r for result in results for r in result.records]
            checked = await verify(server.address, records)
        server_probe = read_probe(
            probe, min(r.started for r in results), max(r.ended for r in results)
        )
        cap = None if args.skip_cap_check else await cap_check(tmp, delay_ms)
    report(args, results, server_cpu, checked, cap, server_probe)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parses the command line; `--quick` picks a small run."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=(
            "Runs N concurrent reply streams through the SDK against a server subprocess on "
            "loopback, paced at a given tokens/s, and prints streams/s, time to first token, "
            "gaps between token messages, server and client CPU, errors and lost replies, "
            "then checks that --max-streams answers RESOURCE_EXHAUSTED beyond the cap."
        ),
    )
    parser.add_argument(
        "--streams",
        type=int,
        default=None,
        help=f"concurrent streams (default: {DEFAULT_STREAMS}; {QUICK_STREAMS} with --quick)",
    )
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        default=DEFAULT_TOKENS_PER_SECOND,
        help="pace of each stream (the server's token delay; default: %(default)g)",
    )
    parser.add_argument(
        "--tokens",
        type=int,
        default=None,
        help=f"tokens per reply (default: {DEFAULT_TOKENS}; {QUICK_TOKENS} with --quick)",
    )
    parser.add_argument(
        "--duration-limit",
        type=float,
        default=DEFAULT_DURATION_LIMIT_S,
        help="seconds the streaming phase may take; streams still running fail "
        "(default: %(default)g)",
    )
    parser.add_argument(
        "--client-procs",
        type=int,
        default=1,
        metavar="K",
        help="split the streams over K client processes (default: %(default)s)",
    )
    parser.add_argument("--quick", action="store_true", help="a small run of a few seconds")
    parser.add_argument(
        "--skip-cap-check", action="store_true", help="skip the --max-streams check"
    )
    parser.add_argument(
        "--server-args",
        default="",
        metavar="FLAGS",
        help="extra flags for the measured server, e.g. '--batch-interval-ms 10'",
    )
    parser.add_argument(
        "--probe-server-loop",
        action="store_true",
        help="run the server with a lag ticker on its event loop and report its lag "
        "(diagnosis: is the server's loop or the client's late?)",
    )
    # Worker mode, used by --client-procs: the server address, then this share's streams.
    parser.add_argument("--worker", metavar="ADDRESS", help=argparse.SUPPRESS)
    parser.add_argument("--first-index", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.streams is None:
        args.streams = QUICK_STREAMS if args.quick else DEFAULT_STREAMS
    if args.tokens is None:
        args.tokens = QUICK_TOKENS if args.quick else DEFAULT_TOKENS
    if args.streams < 1 or args.tokens < 2:
        parser.error("--streams must be at least 1 and --tokens at least 2")
    if args.tokens_per_second <= 0 or args.duration_limit <= 0:
        parser.error("--tokens-per-second and --duration-limit must be positive")
    if not 1 <= args.client_procs <= args.streams:
        parser.error("--client-procs must be between 1 and --streams")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m bench.load`; returns 0 whatever the verdict."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["--serve-probed"]:
        return serve_probed(Path(arguments[1]), arguments[2:])
    args = parse_args(arguments)
    if not sys.platform.startswith("linux"):
        print("bench.load reads the server's CPU time from /proc: Linux only.")
        return 0
    args.revision = "" if args.worker else revision()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(args) if args.worker else run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
