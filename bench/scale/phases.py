"""One phase of the benchmark: the load over both replicas, with or without a kill -9."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.load.client import WorkerProcess, split
from bench.load.records import ClientResult, StreamRecord
from bench.load.server import ServerProbe, machine_busy_seconds, process_cpu_seconds, read_probe
from bench.load.settings import SHUTDOWN_TIMEOUT_S
from bench.scale.placement import Placement, until_recovered
from bench.scale.settings import (
    BUSY_SAMPLE_S,
    CAP_HEADROOM,
    KILL_AFTER_S,
    RECOVERY_LIMIT_S,
)
from bench.scale.team import Replica, fresh_database, replicas
from bench.scale.verify import Checked, verify


@dataclass
class Kill:
    """Replica A's kill -9 in phase 2, and the survivor's recovery of its replies."""

    # Seconds from the streams' start to the kill.
    at: float
    # Streams seen running (checkpointed) so far when A was killed; those running on A
    # then (the replies B must recover); the conversations not seen on B (A's, or never
    # seen running: their errors are the kill's).
    seen: int
    victims: set[str]
    not_on_survivor: set[str] = field(default_factory=set)
    # Partial replies the survivor stored for A's streams, and the seconds from the kill
    # until the last of them was there (None: not all within RECOVERY_LIMIT_S).
    recovered: int = 0
    recovery: float | None = None
    # The victim's CPU seconds so far, read just before the kill (gone from /proc after).
    cpu_at_kill: float = 0.0


@dataclass
class Phase:
    """What one phase came to."""

    name: str
    results: list[ClientResult]
    # Stream count per replica name, from the checkpoints; streams never seen in one.
    split: dict[str, int]
    unseen: int
    # CPU seconds of each replica during the streams (A's until its kill).
    cpu: dict[str, float]
    wall: float
    checked: Checked
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    kill: Kill | None = None
    server_errors: list[str] = field(default_factory=list)
    # CPU seconds the whole machine spent busy during the streams (every process: the
    # replicas, the clients, PostgreSQL and whatever else runs), from /proc/stat.
    machine_busy: float = 0.0
    # (perf_counter, the machine's busy CPU seconds) every BUSY_SAMPLE_S during the
    # streams: how busy the cores were in a part of the phase (report.busy_cores_between).
    busy_samples: list[tuple[float, float]] = field(default_factory=list)
    # The streams' window (perf_counter, as the replicas' probes count), and what each
    # probed replica saw in it (--probe-replicas; None: no probe, e.g. killed with -9).
    window: tuple[float, float] = (0.0, 0.0)
    probes: dict[str, ServerProbe | None] = field(default_factory=dict)

    @property
    def busy_cores(self) -> float:
        """Cores busy on average during the streams (2.0 on a 2-core machine: saturated)."""
        return self.machine_busy / self.wall if self.wall else 0.0

    @property
    def records(self) -> list[StreamRecord]:
        """Every stream of the phase."""
        return [r for result in self.results for r in result.records]


def server_args(args: argparse.Namespace) -> tuple[str, ...]:
    """The flags of both replicas: the pace, the reply length, a cap above the load."""
    return (
        "--token-delay-ms",
        f"{1000.0 / args.tokens_per_second:g}",
        "--offline-min-tokens",
        str(args.tokens),
        "--max-streams",
        str(args.streams + CAP_HEADROOM),
        *shlex.split(args.server_args),
    )


async def run_phase(args: argparse.Namespace, admin: str, name: str, kill: bool) -> Phase:
    """A fresh database and two replicas; the streams over both; A killed if `kill`.

    With --probe-replicas the replicas' probes are read once they stopped (a probe writes
    its figures on the way out), cut to the streams' window.
    """
    with tempfile.TemporaryDirectory(prefix="grove-scale-probes-") as folder:
        probes = Path(folder) if args.probe_replicas else None
        async with (
            fresh_database(admin) as url,
            replicas(url, server_args(args), probes) as team,
            Placement(url) as placement,
        ):
            phase = await _streams(args, url, team, placement, name, kill)
        if probes is not None:
            start, end = phase.window
            phase.probes = {r.name: read_probe(r.probe, start, end) for r in team}
        return phase


async def _streams(
    args: argparse.Namespace,
    url: str,
    team: list[Replica],
    placement: Placement,
    name: str,
    kill: bool,
) -> Phase:
    """The workers' streams over `team`, watched in the database; verified at the end."""
    addresses = ",".join(r.address for r in team)
    worker_args = argparse.Namespace(
        tokens=args.tokens, duration_limit=args.duration_limit, watchers=False
    )
    workers: list[WorkerProcess] = []
    first = 0
    for count in split(args.streams, args.client_procs):
        workers.append(WorkerProcess(addresses, first, count, worker_args))
        first += count
    busy_samples: list[tuple[float, float]] = []
    sampling: asyncio.Task[None] | None = None
    try:
        await asyncio.gather(*(w.start() for w in workers))
        load_before = os.getloadavg()
        cpu_before = {r.name: process_cpu_seconds(r.pid) for r in team}
        busy_before = machine_busy_seconds()[0]
        cpu: dict[str, float] = {}
        placement.start()
        sampling = asyncio.get_running_loop().create_task(_sample_busy(busy_samples))
        started = time.perf_counter()
        for worker in workers:
            worker.go()
        killed: Kill | None = None
        recovery: asyncio.Task[tuple[int, float | None]] | None = None
        if kill:
            killed, recovery = await _kill(args, url, team[0], placement, started)
        async with asyncio.timeout(args.duration_limit + SHUTDOWN_TIMEOUT_S):
            results = list(await asyncio.gather(*(w.result() for w in workers)))
        wall = time.perf_counter() - started
        machine_busy = machine_busy_seconds()[0] - busy_before
        busy_samples.append((time.perf_counter(), machine_busy_seconds()[0]))
        for replica in team:
            alive = replica.process.returncode is None
            gone = killed.cpu_at_kill if killed is not None else 0.0
            now = process_cpu_seconds(replica.pid) if alive else gone
            cpu[replica.name] = now - cpu_before[replica.name]
        load_after = os.getloadavg()
        await placement.stop()
        if killed is not None and recovery is not None:
            killed.recovered, killed.recovery = await recovery
    finally:
        if sampling is not None:
            sampling.cancel()
        for worker in workers:
            worker.kill()
    records = [r for result in results for r in result.records]
    live = ",".join(r.address for r in team if r.process.returncode is None)
    if killed is not None:
        survivors = {r.pid for r in team if r.process.returncode is None}
        where = placement.where
        killed.not_on_survivor = {
            r.conversation_id for r in records if where.get(r.conversation_id) not in survivors
        }
    checked = await verify(
        live,
        records,
        killed.not_on_survivor if killed else (),
        killed.victims if killed else (),
    )
    by_pid = {r.pid: r.name for r in team}
    counts = {r.name: 0 for r in team}
    for record in records:
        pid = placement.where.get(record.conversation_id)
        if pid in by_pid:
            counts[by_pid[pid]] += 1
    unseen = sum(r.conversation_id not in placement.where for r in records)
    errors = [r.process.stderr.strip() for r in team if r.process.stderr.strip()]
    return Phase(
        name,
        results,
        counts,
        unseen,
        cpu,
        wall,
        checked,
        load_before,
        load_after,
        killed,
        errors,
        machine_busy,
        busy_samples,
        (started, started + wall),
    )


async def _sample_busy(samples: list[tuple[float, float]]) -> None:
    """Appends (perf_counter, the machine's busy CPU seconds) every BUSY_SAMPLE_S."""
    while True:
        samples.append((time.perf_counter(), machine_busy_seconds()[0]))
        await asyncio.sleep(BUSY_SAMPLE_S)


async def _kill(
    args: argparse.Namespace, url: str, victim: Replica, placement: Placement, started: float
) -> tuple[Kill, asyncio.Task[tuple[int, float | None]]]:
    """Kills `victim` with SIGKILL once every stream runs and has a checkpoint.

    At least KILL_AFTER_S after the start, at most one reply's ideal duration later (then
    the streams not seen yet are reported as such). Starts the poll for
    the survivor's recovery of the victim's streams at once.
    """
    loop = asyncio.get_running_loop()
    ideal = (args.tokens - 1) / args.tokens_per_second
    earliest = loop.time() + KILL_AFTER_S
    latest = loop.time() + KILL_AFTER_S + ideal
    await asyncio.sleep(max(0.0, earliest - loop.time()))
    await placement.until_running(args.streams, latest)
    await placement.read()
    cpu = process_cpu_seconds(victim.pid)
    victim.process.kill()
    killed_at = time.perf_counter()
    await victim.process.wait()
    victims = placement.running_on(victim.pid)
    kill = Kill(killed_at - started, len(placement.where), victims, cpu_at_kill=cpu)
    recovery = loop.create_task(until_recovered(url, victims, killed_at, RECOVERY_LIMIT_S))
    return kill, recovery
