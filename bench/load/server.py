"""The measured server process: its CPU from /proc, and the probed entry point."""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import signal
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench.load.callgrind import CALLGRIND_STARTUP_TIMEOUT_S, wrap
from bench.load.records import GcMeter, LoopLagMeter
from bench.load.settings import PROJECT_ROOT, SHUTDOWN_TIMEOUT_S, STARTUP_TIMEOUT_S
from grove_explorer.server import launcher

T = TypeVar("T")

PROBE_FLAG = "--serve-probed"
"""`python -m bench.load --serve-probed FILE SERVER_ARGS...`: a server under `serve_probed`."""

# The profile file of a server started with `profile` (read by `serve_probed`).
PROFILE_ENV = "GROVE_BENCH_PROFILE"

# -- the server subprocess -----------------------------------------------------------------


class ServerProcess(launcher.ServerProcess):
    """The shared launcher's server on 127.0.0.1, with its CPU time read from /proc.

    The pid lets the server's own CPU time be read while the client runs in other
    processes. With `probe` the same server entry point runs under `serve_probed`, which
    writes its event-loop lag there. The server's log goes to this console.
    """

    def __init__(
        self,
        db: Path,
        extra_args: Sequence[str] = (),
        probe: Path | None = None,
        profile: Path | None = None,
        callgrind: Path | None = None,
    ) -> None:
        """`probe`: run under `serve_probed`, its loop's lag written there. `profile`: also
        profile the server's event-loop thread with cProfile between `profile_start()` and
        `profile_stop()`, the stats dumped to that file (`python -m pstats FILE`).
        `callgrind`: run under valgrind's callgrind, its counts written to that folder
        (bench/load/callgrind.py)."""
        if profile is not None and probe is None:
            probe = profile.with_suffix(".probe.json")
        entry = (
            launcher.SERVER_ENTRY if probe is None else ("-m", "bench.load", PROBE_FLAG, str(probe))
        )
        env = None if profile is None else {**os.environ, PROFILE_ENV: str(profile)}
        super().__init__(
            db,
            ("--host", "127.0.0.1", *extra_args),
            entry=entry,
            cwd=PROJECT_ROOT,
            env=env,
            startup_timeout=STARTUP_TIMEOUT_S if callgrind is None else CALLGRIND_STARTUP_TIMEOUT_S,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
            capture_stderr=False,
        )
        self.profile = profile
        self.callgrind = callgrind
        if callgrind is not None:
            self.command = wrap(self.command, callgrind)

    def profile_start(self) -> None:
        """Starts the server's profiler (no-op unless started with `profile`)."""
        if self.profile is not None:
            self.send_signal(signal.SIGUSR1)

    def profile_stop(self) -> None:
        """Stops the server's profiler and has it write its stats (no-op without `profile`)."""
        if self.profile is not None:
            self.send_signal(signal.SIGUSR2)

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


def serve_probed(probe: Path, server_argv: list[str]) -> int:
    """Runs `python -m grove_explorer.server` in this process with a lag ticker on its event loop.

    The server's own entry point (`server.cli.main`) runs unchanged on the loop it chooses
    (uvloop where installed); the ticker starts inside the coroutine that loop runs. (An
    event-loop policy started it before, which uvloop's runner never asks: the probe
    printed "n/a".) On exit (SIGTERM) the
    ticks go to `probe` as JSON, for the parent to cut to the streaming window (the clocks
    agree: perf_counter is CLOCK_MONOTONIC). Opt-in (`--probe-server-loop`), so a default
    run measures the server exactly as shipped.
    """
    from grove_explorer.server.cli import main as server_main

    meter = LoopLagMeter()
    gc_meter = GcMeter().__enter__()
    starts = StartTimes().install()
    profile_out = os.environ.get(PROFILE_ENV)
    if profile_out:
        install_profiler(Path(profile_out))

    from grove_explorer.server import event_loop

    run = event_loop.run

    def probed_run(main: Coroutine[Any, Any, T], choice: event_loop.EventLoopChoice = "auto") -> T:
        async def ticked() -> T:
            meter.start()
            return await main

        return run(ticked(), choice)

    event_loop.run = probed_run  # the module's attribute: what the server's cli calls
    try:
        return server_main(server_argv)
    finally:
        gc_pauses = list(zip(gc_meter.starts, gc_meter.pauses, strict=True))
        probe.write_text(
            json.dumps(
                {
                    "ticks": meter.ticks,
                    "gc": gc_pauses,
                    "starts": starts.times,
                    "trips": starts.trips,
                }
            ),
            encoding="utf-8",
        )


class StartTimes:
    """When each AddResponse reached the servicer, read its conversation, stored its human
    message; and every trip to the store's threads.

    Wraps methods of the probed server's classes and the store's two trip functions (the
    probe only, never a default run) and keys the times (perf_counter, comparable with the
    client's) by conversation id: with the client's send and acknowledgement times they
    split a start into gRPC's accepting of the call, the reads, the group commit, and the
    acknowledgement's way back to the client.
    """

    def __init__(self) -> None:
        # conversation id -> {"arrived", "conversation" (read), "human" (stored)}: perf_counter;
        # and the same names + " turn": the server loop's turn count then (`_run_once` calls;
        # asyncio's loop only: uvloop runs its turns in C, and the marks then have none).
        self.times: dict[str, dict[str, float]] = {}
        self._turns = 0
        # Trips to the store's threads (see `ServerProbe.trips`).
        self.trips: list[tuple[str, float, float, int, float]] = []

    def install(self) -> StartTimes:
        """Wraps the servicer's AddResponse, the store's calls and trips; returns self."""
        from grove_explorer.server.servicer.rpcs import ChatServicer
        from grove_explorer.server.store.sqlite.store import SqliteStore

        times = self.times
        add_response_rpc = ChatServicer.AddResponse
        add_response = SqliteStore.add_response
        run_once = asyncio.base_events.BaseEventLoop._run_once  # type: ignore[attr-defined]

        def counted_run_once(loop: Any) -> None:
            # Turns are what a start waits through: on a busy loop each one is long.
            self._turns += 1
            run_once(loop)

        asyncio.base_events.BaseEventLoop._run_once = counted_run_once  # type: ignore[attr-defined]

        def mark(conversation_id: str, name: str) -> None:
            marks = times.get(conversation_id)
            if marks is not None and name not in marks:
                marks[name] = time.perf_counter()
                if self._turns:  # uvloop's loop has no `_run_once`: no turns to count there
                    marks[name + " turn"] = self._turns

        async def timed_rpc(self: Any, request: Any, context: Any) -> None:
            if request.conversation_id not in times:
                times[request.conversation_id] = {}
                mark(request.conversation_id, "arrived")
            await add_response_rpc(self, request, context)

        get_conversation = SqliteStore.get_conversation

        async def timed_get(self: Any, user: str, conversation_id: str) -> Any:
            record = await get_conversation(self, user, conversation_id)
            mark(conversation_id, "conversation")
            return record

        SqliteStore.get_conversation = timed_get  # type: ignore[method-assign]
        has_conversation = SqliteStore.has_conversation

        async def timed_has(self: Any, user: str, conversation_id: str) -> Any:
            # What AddResponse checks its conversation with (an indexed lookup); a later
            # GetConversation of the same conversation must not count as the start's read.
            found = await has_conversation(self, user, conversation_id)
            mark(conversation_id, "conversation")
            return found

        SqliteStore.has_conversation = timed_has  # type: ignore[method-assign]
        # Absent before AddResponse read the caller and the owner together (older
        # revisions measured with this probe mark has_conversation instead).
        check_with_owner = getattr(SqliteStore, "check_api_key_and_owner", None)
        if check_with_owner is not None:

            async def timed_check(self: Any, key_hash: Any, conversation_id: str) -> Any:
                # AddResponse's caller check, which reads its conversation's owner too.
                found = await check_with_owner(self, key_hash, conversation_id)
                mark(conversation_id, "conversation")
                return found

            SqliteStore.check_api_key_and_owner = timed_check  # type: ignore[method-assign]

        async def timed_add(self: Any, user: str, new: Any, **kwargs: Any) -> Any:
            record = await add_response(self, user, new, **kwargs)
            if new.sender == "human":
                mark(new.conversation_id, "human")
            return record

        from grove_explorer.server.store.sqlite import connection

        trips = self.trips
        for name in ("run_reads", "run_group"):
            original = getattr(connection, name)

            def timed_trip(conn: Any, jobs: Any, _run: Any = original, _name: str = name) -> Any:
                # On the store's thread: its wall time, and its CPU (the rest is waiting
                # for the GIL or a core).
                began, cpu = time.perf_counter(), time.thread_time()
                result = _run(conn, jobs)
                ended = time.perf_counter()
                trips.append((_name, began, ended, len(jobs), time.thread_time() - cpu))
                return result

            setattr(connection, name, timed_trip)
        ChatServicer.AddResponse = timed_rpc  # type: ignore[method-assign]
        SqliteStore.add_response = timed_add  # type: ignore[method-assign]
        return self


def install_profiler(out: Path) -> None:
    """SIGUSR1 starts cProfile on the main thread (the server's event loop), SIGUSR2 stops
    it and writes the stats to `out`. Python runs signal handlers on the main thread, so
    the profiler is enabled for that thread, the one that runs every RPC coroutine."""
    # CPU time of the thread, not wall time: on a shared machine other processes would
    # otherwise be charged to whatever function was running when they took the core.
    profiler = cProfile.Profile(time.thread_time)

    def start(signum: int, frame: object) -> None:
        profiler.enable()

    def stop(signum: int, frame: object) -> None:
        profiler.disable()
        profiler.dump_stats(out)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)


@dataclass
class ServerProbe:
    """What the probed server saw during the streaming window."""

    lags: list[float]
    gc_pauses: list[float]
    # conversation id -> {"arrived": AddResponse reached the servicer, "conversation": its
    # conversation was read, "human": its human message was stored}, perf_counter seconds.
    starts: dict[str, dict[str, float]]
    # Trips to the store's threads: (kind, began, ended, statements or writes, thread CPU).
    trips: list[tuple[Any, ...]]


def read_probe(probe: Path | None, start: float, end: float) -> ServerProbe | None:
    """The probed server's loop lags, GC pauses and start times within [start, end]."""
    if probe is None or not probe.exists():
        return None
    data = json.loads(probe.read_text(encoding="utf-8"))
    lags = [lag for due, lag in data["ticks"] if start <= due <= end]
    pauses = [pause for began, pause in data["gc"] if start <= began <= end]
    starts = {
        key: marks for key, marks in data["starts"].items() if start <= marks["arrived"] <= end
    }
    trips = [tuple(trip) for trip in data["trips"] if start <= trip[1] <= end]
    return ServerProbe(lags, pauses, starts, trips)
