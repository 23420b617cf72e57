"""The command line and the whole run."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.goals import print_goals
from bench.load.burner import Burner
from bench.load.callgrind import dumped_totals
from bench.load.client import cap_check, run_streams, run_worker, verify, warm_up
from bench.load.floor import FLOOR_FLAG, print_floor, run_floor, serve_floor
from bench.load.report import Condition, goals, print_cap, report
from bench.load.server import PROBE_FLAG, ServerProcess, read_probe, serve_probed
from bench.load.settings import (
    ALONE,
    BUSY_CORE,
    CAP_HEADROOM,
    DEFAULT_DURATION_LIMIT_S,
    DEFAULT_STREAMS,
    DEFAULT_TOKENS,
    DEFAULT_TOKENS_PER_SECOND,
    PROJECT_ROOT,
    QUICK_STREAMS,
    QUICK_TOKENS,
)


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


async def run(args: argparse.Namespace) -> None:
    """Runs the whole benchmark and prints its report."""
    delay_ms = 1000.0 / args.tokens_per_second
    max_streams = args.streams + CAP_HEADROOM
    names = [ALONE, BUSY_CORE]
    if args.busy_core:
        names = [BUSY_CORE]
    elif args.alone:
        names = [ALONE]
    print(
        f"Grove load benchmark: {args.streams} concurrent streams x {args.tokens} tokens at "
        f"{args.tokens_per_second:g} tokens/s (--token-delay-ms {delay_ms:g}), server "
        f"--max-streams {max_streams}{' ' + args.server_args if args.server_args else ''}, "
        f"{args.client_procs} client process(es), "
        f"{'one watcher per stream, ' if args.watchers else ''}"
        f"limit {args.duration_limit:g} s; conditions: {', '.join(names)}; {args.revision}",
        flush=True,
    )
    conditions: list[Condition] = []
    with tempfile.TemporaryDirectory(prefix="grove-load-") as tmp_name:
        tmp = Path(tmp_name)
        if args.floor:
            floor = await run_floor(args.streams, args.tokens, delay_ms, tmp / "floor")
            print_floor(floor)
        for index, name in enumerate(names):
            condition = await run_condition(args, tmp / f"run{index}", name, delay_ms)
            report(args, condition)
            conditions.append(condition)
        cap = None if args.skip_cap_check else await cap_check(tmp, delay_ms)
    if cap is not None:
        print_cap(cap)
    print_goals("Now vs goal (bench.load)", goals(conditions, cap))


async def run_condition(
    args: argparse.Namespace, folder: Path, name: str, delay_ms: float
) -> Condition:
    """One streaming phase on a fresh server; with `BUSY_CORE`, a spinning process beside it."""
    await asyncio.to_thread(folder.mkdir)
    server_args = (
        "--token-delay-ms",
        f"{delay_ms:g}",
        "--offline-min-tokens",
        str(args.tokens),
        "--max-streams",
        str(args.streams + CAP_HEADROOM),
        *shlex.split(args.server_args),
    )
    probe = folder / "server-loop.json" if args.probe_server_loop else None
    profile = None
    if args.profile_server:
        # One stats file per condition: FILE for the first, FILE.<n> for the others.
        profile = Path(args.profile_server + ("" if name == ALONE else ".busy"))
    burner = Burner() if name == BUSY_CORE else None
    counts = None
    if args.callgrind:
        counts = Path(args.callgrind) / name.replace(" ", "-")
        await asyncio.to_thread(counts.mkdir, parents=True, exist_ok=True)
    print(f"\n[{name}]", flush=True)
    async with ServerProcess(
        folder / "load.sqlite3", server_args, probe, profile, counts
    ) as server:
        print(f"  server {server.address} (pid {server.pid}), loopback only", flush=True)
        await warm_up(server.address)
        results, server_cpu = await run_streams(args, server, burner)
        records = [r for result in results for r in result.records]
        checked = await verify(server.address, records)
    server_probe = read_probe(probe, min(r.started for r in results), max(r.ended for r in results))
    return Condition(
        name,
        results,
        server_cpu,
        checked,
        server_probe,
        None if burner is None else burner.cpu_seconds,
        None if counts is None else dumped_totals(counts, server.pid),
    )


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
    condition = parser.add_mutually_exclusive_group()
    condition.add_argument(
        "--busy-core",
        action="store_true",
        help="run only the streaming phase with another process spinning on one core "
        "(the standard run does both: alone, then with one core busy)",
    )
    condition.add_argument(
        "--alone", action="store_true", help="run only the streaming phase without it"
    )
    parser.add_argument(
        "--watchers",
        action="store_true",
        help="watch every stream's conversation (WatchConversation) from a second client "
        "and report what the watchers saw beside the streams' own figures",
    )
    parser.add_argument(
        "--skip-cap-check", action="store_true", help="skip the --max-streams check"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="first run the same streams against a bare grpc.aio server through bare "
        "stubs (no Grove: no checks, store or sampler) and print its figures: what gRPC's "
        "Python stack alone costs on this machine",
    )
    parser.add_argument(
        "--server-args",
        default="",
        metavar="FLAGS",
        help="extra flags for the measured server, e.g. '--batch-interval-ms 10'",
    )
    parser.add_argument(
        "--profile-server",
        metavar="FILE",
        help="profile the server's event-loop thread (cProfile) during the streaming phase "
        "and write the stats to FILE (read with: python -m pstats FILE)",
    )
    parser.add_argument(
        "--probe-server-loop",
        action="store_true",
        help="run the server with a lag ticker on its event loop and report its lag "
        "(diagnosis: is the server's loop or the client's late?)",
    )
    parser.add_argument(
        "--callgrind",
        metavar="DIR",
        help="run the server under valgrind's callgrind and report its instructions during "
        "the streaming phase, per thread and per stream (counts in DIR; timings of such a "
        "run are meaningless; one client process)",
    )
    # Worker mode, used by --client-procs: the server address, then this share's streams.
    parser.add_argument("--worker", metavar="ADDRESS", help=argparse.SUPPRESS)
    parser.add_argument("--first-index", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.profile_server:
        # The server runs in the project root: a relative path would land there.
        args.profile_server = os.path.abspath(args.profile_server)
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
    if args.callgrind and (args.client_procs != 1 or args.profile_server):
        parser.error("--callgrind takes one client process and no --profile-server")
    if args.callgrind:
        args.callgrind = os.path.abspath(args.callgrind)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m bench.load`; returns 0 whatever the verdict."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == [PROBE_FLAG]:
        return serve_probed(Path(arguments[1]), arguments[2:])
    if arguments[:1] == [FLOOR_FLAG]:
        return serve_floor(arguments[1:])
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
