"""The records of a run: what each stream saw, and the meters of an event loop."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.load.settings import TICK_S

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
    # Times the SDK resumed the stream after a lost connection (its "resuming" log lines).
    resumes: int = 0

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
    # The starts: from the streams' start until every stream had its first token (wall
    # seconds), and the CPU seconds the client's loop thread (and, with the client in
    # the parent process, the server's loop thread) spent meanwhile. NaN: not reached.
    starts_wall: float = math.nan
    starts_loop_cpu: float = math.nan
    starts_server_loop_cpu: float = math.nan
    # With --watchers (bench/load/watchers.py): what the watchers saw.
    watchers: int = 0
    watch_events: int = 0
    watch_gaps: list[float] = dataclasses.field(default_factory=list)
    watch_mismatches: int = 0
    watch_unfinished: int = 0
    watch_errors: int = 0

    def to_json(self) -> str:
        """One line of JSON (a worker's answer to the parent)."""
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> ClientResult:
        """Reads a worker's line back."""
        data = json.loads(line)
        data["records"] = [StreamRecord(**r) for r in data["records"]]
        return cls(**data)


class StartWindow:
    """Marks the moment every stream of a client had its first token (the starts' end).

    At that moment it reads the CPU time of this process's loop thread and, given
    `server_loop_cpu`, of the server's: over the window, a loop thread near 100 % busy
    is what the starts waited for.
    """

    def __init__(self, streams: int, server_loop_cpu: Callable[[], float] | None = None):
        self._left = streams
        self._server_loop_cpu = server_loop_cpu
        self._began = (0.0, 0.0, 0.0)
        self.wall = self.loop_cpu = self.server_loop_cpu = math.nan

    def begin(self) -> None:
        """The streams start now."""
        server = self._server_loop_cpu() if self._server_loop_cpu is not None else math.nan
        self._began = (time.perf_counter(), time.thread_time(), server)

    def first_token(self) -> None:
        """One more stream had its first token (called once per stream)."""
        self._left -= 1
        if self._left == 0:
            self.wall = time.perf_counter() - self._began[0]
            self.loop_cpu = time.thread_time() - self._began[1]
            if self._server_loop_cpu is not None:
                self.server_loop_cpu = self._server_loop_cpu() - self._began[2]


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


def p50_p99_max(values: Sequence[float]) -> str:
    """A figure's p50, p99 and max in milliseconds, as every report line prints them."""
    return (
        f"p50 {ms(percentile(values, 0.5))}   p99 {ms(percentile(values, 0.99))}   "
        f"max {ms(max(values, default=math.nan))}"
    )


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"
