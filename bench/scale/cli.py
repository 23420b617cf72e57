"""The command line and the whole run."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bench.goals import print_goals
from bench.load.cli import revision
from bench.scale.floor import WORKER_FLAG, print_scale_floor, run_scale_floor, worker_main
from bench.scale.phases import run_phase
from bench.scale.report import goals, print_phase
from bench.scale.settings import (
    DEFAULT_CLIENT_PROCS,
    DEFAULT_DURATION_LIMIT_S,
    DEFAULT_STREAMS,
    DEFAULT_TOKENS,
    DEFAULT_TOKENS_PER_SECOND,
    QUICK_STREAMS,
    QUICK_TOKENS,
)
from bench.scale.team import postgres_server


async def run(args: argparse.Namespace) -> None:
    """Both phases on one PostgreSQL server, then the now-vs-goal table."""
    print(
        f"Grove scale benchmark: PostgreSQL + 2 replicas on loopback, {args.streams} streams x "
        f"{args.tokens} tokens at {args.tokens_per_second:g} tokens/s over both (client-side "
        f"round robin), {args.client_procs} client process(es)"
        f"{'; replicas: ' + args.server_args if args.server_args else ''}; {revision()}",
        flush=True,
    )
    if args.floor:
        floor = await run_scale_floor(
            args.streams, args.tokens, args.tokens_per_second, args.client_procs
        )
        print_scale_floor(floor)
    async with postgres_server(args.pg) as admin:
        first = await run_phase(args, admin, "Phase 1: both replicas up", kill=False)
        print_phase(args, first)
        second = await run_phase(args, admin, "Phase 2: kill -9 of replica A mid-run", kill=True)
        print_phase(args, second)
    print_goals("Now vs goal (bench.scale)", goals(first, second))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parses the command line; `--quick` picks a small run."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description=(
            "PostgreSQL and two Grove replicas on loopback: N streams over both (errors, lost "
            "replies, time to first token, token gaps), then the same with one replica "
            "killed mid-run (its replies recovered as partial, nothing acknowledged lost)."
        ),
    )
    parser.add_argument(
        "--streams",
        type=int,
        default=None,
        help=f"concurrent streams (default: {DEFAULT_STREAMS}; {QUICK_STREAMS} with --quick)",
    )
    parser.add_argument(
        "--tokens",
        type=int,
        default=None,
        help=f"tokens per reply (default: {DEFAULT_TOKENS}; {QUICK_TOKENS} with --quick)",
    )
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        default=DEFAULT_TOKENS_PER_SECOND,
        help="pace of each stream (default: %(default)g)",
    )
    parser.add_argument(
        "--client-procs",
        type=int,
        default=None,
        metavar="K",
        help=f"client worker processes (default: {DEFAULT_CLIENT_PROCS}; 1 with --quick)",
    )
    parser.add_argument(
        "--duration-limit",
        type=float,
        default=DEFAULT_DURATION_LIMIT_S,
        help="seconds a phase's streams may take (default: %(default)g)",
    )
    parser.add_argument(
        "--pg",
        metavar="URL",
        help="a PostgreSQL server's maintenance database where the user may CREATE DATABASE "
        "(default: $GROVE_TEST_POSTGRES_URL, else a throwaway cluster)",
    )
    parser.add_argument(
        "--server-args",
        default="",
        metavar="FLAGS",
        help="extra flags for both replicas, e.g. '--checkpoint-ms 100'",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="first run the same streams on two bare grpc.aio servers through bare stubs "
        "(no Grove, no PostgreSQL) and print their figures: what gRPC's Python stack alone "
        "makes of this load on this machine",
    )
    parser.add_argument(
        "--probe-replicas",
        action="store_true",
        help="run each replica with a ticker and the collector's callbacks on its event "
        "loop and print, per replica, its loop's lag and the collector's passes during the "
        "streams (is a replica late, and when?); a default run measures them as shipped",
    )
    parser.add_argument("--quick", action="store_true", help="a small run (CI)")
    args = parser.parse_args(argv)
    if args.streams is None:
        args.streams = QUICK_STREAMS if args.quick else DEFAULT_STREAMS
    if args.tokens is None:
        args.tokens = QUICK_TOKENS if args.quick else DEFAULT_TOKENS
    if args.client_procs is None:
        args.client_procs = 1 if args.quick else DEFAULT_CLIENT_PROCS
    if args.streams < 2 or args.tokens < 2:
        parser.error("--streams and --tokens must be at least 2")
    if args.tokens_per_second <= 0 or args.duration_limit <= 0:
        parser.error("--tokens-per-second and --duration-limit must be positive")
    if not 1 <= args.client_procs <= args.streams:
        parser.error("--client-procs must be between 1 and --streams")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m bench.scale`; 0 whatever the verdict."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == [WORKER_FLAG]:
        return worker_main(arguments[1:])
    args = parse_args(arguments)
    if not sys.platform.startswith("linux"):
        print("bench.scale reads the replicas' CPU time from /proc: Linux only.")
        return 0
    asyncio.run(run(args))
    return 0
