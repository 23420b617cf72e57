"""The scale figure's floor: the same streams on two bare grpc.aio servers, bare clients.

`python -m bench.scale --floor` first runs phase 1's shape without Grove: two server
processes that only speak gRPC (`bench.load.floor`: the human message, the tokens one
message each at the pace, the reply; no store, no sampler, no PostgreSQL) and the same
number of client processes with bare stubs, the streams dealt over both servers as the
SDK's round robin deals them. What it prints — time to first token, the gaps between
token messages, the machine's CPU with the servers' and the clients' shares — is what
gRPC's Python stack alone makes of this load on this machine: the part of Grove's figure
that is not Grove's.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import grpc

from bench.load.floor import FLOOR_FLAG, FloorFigures, stream_bare
from bench.load.records import ms, p50_p99_max, percentile
from bench.load.server import process_cpu_seconds
from bench.load.settings import PROJECT_ROOT
from grove_explorer.protos import chat_pb2_grpc
from grove_explorer.server.launcher import ServerProcess as Launcher

WORKER_FLAG = "--floor-worker"
_LINE_LIMIT = 1 << 26  # a worker's one JSON line holds every gap it measured


@dataclass
class ScaleFloor:
    """The floor run's figures, merged over its client processes."""

    first_tokens: list[float]
    gaps: list[float]
    errors: int
    client_cpu: float
    server_cpu: float  # both servers, over the streaming
    machine_busy: float  # cores busy on average over the streaming


async def _worker(addresses: list[str], first_index: int, count: int) -> None:
    """One client process: its share of the streams, round robin over the servers."""
    async with AsyncExitStack() as stack:
        stubs = []
        for address in addresses:
            channel = await stack.enter_async_context(grpc.aio.insecure_channel(address))
            stub = chat_pb2_grpc.ChatStub(channel)
            await stream_bare(stub, FloorFigures())  # connected, warm
            stubs.append(stub)
        print("READY", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        figures = FloorFigures()
        before = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.gather(
            *(stream_bare(stubs[(first_index + i) % len(stubs)], figures) for i in range(count))
        )
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        record = {
            "first": figures.first_tokens,
            "gaps": figures.gaps,
            "errors": figures.errors,
            "cpu": cpu,
        }
        print(json.dumps(record), flush=True)


def worker_main(argv: list[str]) -> int:
    """Entry point of a floor client process: `--floor-worker FIRST COUNT ADDRESS...`."""
    asyncio.run(_worker(argv[2:], int(argv[0]), int(argv[1])))
    return 0


def _busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


async def run_scale_floor(
    streams: int, tokens: int, tokens_per_second: float, client_procs: int
) -> ScaleFloor:
    """Two floor servers, `client_procs` bare client processes, `streams` streams at once."""
    delay = 1.0 / tokens_per_second
    with tempfile.TemporaryDirectory(prefix="grove-scale-floor-") as folder:
        async with AsyncExitStack() as stack:
            servers = [
                await stack.enter_async_context(
                    Launcher(
                        os.fspath(Path(folder) / f"server{index}"),
                        (str(tokens), f"{delay:g}"),
                        entry=("-m", "bench.load", FLOOR_FLAG),
                        cwd=PROJECT_ROOT,
                        capture_stderr=False,
                    )
                )
                for index in range(2)
            ]
            addresses = [server.address for server in servers]
            shares = [
                streams // client_procs + (i < streams % client_procs) for i in range(client_procs)
            ]
            workers = []
            first = 0
            for share in shares:
                workers.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "bench.scale",
                        WORKER_FLAG,
                        str(first),
                        str(share),
                        *addresses,
                        cwd=PROJECT_ROOT,
                        stdin=asyncio.subprocess.PIPE,
                        stdout=asyncio.subprocess.PIPE,
                        limit=_LINE_LIMIT,
                    )
                )
                first += share
            for worker in workers:
                assert worker.stdout is not None
                line = await worker.stdout.readline()
                if line.strip() != b"READY":
                    raise RuntimeError(f"a floor client did not start: {line!r}")
            busy_before = _busy_seconds()
            servers_before = sum(process_cpu_seconds(server.pid) for server in servers)
            started = asyncio.get_running_loop().time()
            for worker in workers:
                assert worker.stdin is not None
                worker.stdin.write(b"go\n")
                await worker.stdin.drain()
            records = []
            for worker in workers:
                assert worker.stdout is not None
                records.append(json.loads(await worker.stdout.readline()))
                await worker.wait()
            elapsed = asyncio.get_running_loop().time() - started
            server_cpu = sum(process_cpu_seconds(server.pid) for server in servers)
            server_cpu -= servers_before
            busy = (_busy_seconds() - busy_before) / max(elapsed, 1e-9)
    return ScaleFloor(
        sorted(x for r in records for x in r["first"]),
        sorted(x for r in records for x in r["gaps"]),
        sum(r["errors"] for r in records),
        sum(r["cpu"] for r in records),
        server_cpu,
        busy,
    )


def print_scale_floor(floor: ScaleFloor) -> None:
    """The floor's lines, in the report's layout."""
    print(
        "\nThe stack's floor (two bare grpc.aio servers and bare clients, the same streams; "
        "no Grove, no PostgreSQL)"
    )
    print(
        f"  time to first token  p50 {ms(percentile(floor.first_tokens, 0.5))}   "
        f"p99 {ms(percentile(floor.first_tokens, 0.99))}"
    )
    if floor.gaps:
        print(f"  token-message gap    {p50_p99_max(floor.gaps)}")
    print(
        f"  machine              {floor.machine_busy:.2f} cores busy on average; "
        f"servers' CPU {floor.server_cpu:.1f} s, clients' {floor.client_cpu:.1f} s; "
        f"errors {floor.errors}",
        flush=True,
    )
