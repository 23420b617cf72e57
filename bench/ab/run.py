"""The A/B run: two servers, alternating bursts, per-round figures and medians."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import sys
import tempfile
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from bench.load.client import open_conversations
from bench.load.floor import FloorFigures, stream_bare
from bench.load.records import percentile
from bench.load.settings import PROJECT_ROOT, PROMPT
from grove_explorer.client import Client
from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.launcher import ServerProcess

DEFAULT_ROUNDS = 8
DEFAULT_STREAMS = 200
DEFAULT_TOKENS = 150
QUICK_ROUNDS = 2
QUICK_STREAMS = 20
QUICK_TOKENS = 20
TOKENS_PER_SECOND = 50.0
PAUSE_S = 0.3  # between bursts: the last stream's reply is stored, the loop quiet again


@dataclass
class Side:
    """One server of the A/B, its conversations, and its figures per round."""

    name: str
    args: list[str]
    env: dict[str, str]
    python: str | None
    server: ServerProcess | None = None
    stub: chat_pb2_grpc.ChatStub | None = None
    conversation_ids: list[str] = field(default_factory=list)
    first_token_p99: list[float] = field(default_factory=list)
    gap_p99: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def label(self) -> str:
        """What makes this side itself, as given."""
        parts = [*self.args, *(f"{k}={v}" for k, v in self.env.items())]
        if self.python:
            parts.append(f"python {self.python}")
        return " ".join(parts) or "(defaults)"


def _request(conversation_id: str, tokens: int) -> chat_pb2.AddResponseRequest:
    """A resumable start, as the SDK sends it."""
    request = chat_pb2.AddResponseRequest(
        conversation_id=conversation_id,
        message=PROMPT,
        resumable=True,
        request_id=uuid.uuid4().hex,
    )
    request.sampling_params.max_tokens = tokens
    return request


async def _burst(side: Side, tokens: int) -> None:
    """Every conversation of `side` streams at once; the round's p99s are recorded."""
    assert side.stub is not None
    figures = FloorFigures()
    await asyncio.gather(
        *(stream_bare(side.stub, figures, _request(cid, tokens)) for cid in side.conversation_ids)
    )
    side.errors += figures.errors
    side.first_token_p99.append(percentile(figures.first_tokens, 0.99))
    side.gap_p99.append(percentile(figures.gaps, 0.99))


async def run(args: argparse.Namespace) -> None:
    """Starts both servers, runs the rounds, prints the table."""
    delay_ms = 1000.0 / TOKENS_PER_SECOND
    common = [
        "--host",
        "127.0.0.1",
        "--token-delay-ms",
        f"{delay_ms:g}",
        "--offline-min-tokens",
        str(args.tokens),
        "--max-streams",
        str(args.streams + 10),
    ]
    sides = [
        Side("A", shlex.split(args.args_a), dict(args.env_a), args.python_a),
        Side("B", shlex.split(args.args_b), dict(args.env_b), args.python_b),
    ]
    print(
        f"Grove A/B: {args.rounds} rounds of {args.streams} simultaneous streams x "
        f"{args.tokens} tokens at {TOKENS_PER_SECOND:g} tokens/s on each server, in turns",
        flush=True,
    )
    for side in sides:
        print(f"  {side.name}: {side.label}")
    with tempfile.TemporaryDirectory(prefix="grove-ab-") as folder:
        async with AsyncExitStack() as stack:
            for side in sides:
                side.server = await stack.enter_async_context(
                    ServerProcess(
                        Path(folder) / f"{side.name}.sqlite3",
                        [*common, *side.args],
                        cwd=PROJECT_ROOT,
                        env={**os.environ, **side.env},
                        executable=side.python,
                        capture_stderr=False,
                    )
                )
                client = await stack.enter_async_context(Client(api_host=side.server.address))
                conversations = await open_conversations(client, args.streams)
                side.conversation_ids = [c.conversation_id for c in conversations]
                channel = await stack.enter_async_context(
                    grpc.aio.insecure_channel(side.server.address)
                )
                side.stub = chat_pb2_grpc.ChatStub(channel)
                # One small burst first: the model's tables built, the connection warm.
                warm = FloorFigures()
                await asyncio.gather(
                    *(
                        stream_bare(side.stub, warm, _request(cid, 5))
                        for cid in side.conversation_ids[:10]
                    )
                )
            for round_index in range(args.rounds):
                order = sides if round_index % 2 == 0 else sides[::-1]
                for side in order:
                    await _burst(side, args.tokens)
                    await asyncio.sleep(PAUSE_S)
    _report(sides)


def _report(sides: list[Side]) -> None:
    a, b = sides
    print("\nround  A ttft p99  B ttft p99   A gap p99  B gap p99   (ms)")
    for i, (af, bf, ag, bg) in enumerate(
        zip(a.first_token_p99, b.first_token_p99, a.gap_p99, b.gap_p99, strict=True), 1
    ):
        print(f"{i:5d} {1000 * af:10.1f} {1000 * bf:11.1f} {1000 * ag:11.1f} {1000 * bg:10.1f}")
    wins = sum(af < bf for af, bf in zip(a.first_token_p99, b.first_token_p99, strict=True))
    print("\nmedians over the rounds")
    for side in sides:
        print(
            f"  {side.name}: time to first token p99 "
            f"{1000 * statistics.median(side.first_token_p99):.1f} ms, token gap p99 "
            f"{1000 * statistics.median(side.gap_p99):.1f} ms, errors {side.errors}"
        )
    print(
        f"  A's p99 time to first token was the lower in {wins} of {len(a.first_token_p99)} rounds"
    )


def _environment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parses the command line; `--quick` picks a small run."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.ab",
        description="Two servers side by side take turns under the same bursts of "
        "simultaneous streams; prints each round's p99 time to first token and token gap "
        "for both, and the medians: an A/B that a noisy machine cannot tilt.",
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help=f"rounds (default: {DEFAULT_ROUNDS})"
    )
    parser.add_argument(
        "--streams", type=int, default=None, help=f"streams per burst (default: {DEFAULT_STREAMS})"
    )
    parser.add_argument(
        "--tokens", type=int, default=None, help=f"tokens per reply (default: {DEFAULT_TOKENS})"
    )
    for side in ("a", "b"):
        parser.add_argument(
            f"--args-{side}",
            default="",
            metavar="FLAGS",
            help=f"extra flags of server {side.upper()}",
        )
        parser.add_argument(
            f"--env-{side}",
            type=_environment,
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=f"an environment variable of server {side.upper()} (repeatable)",
        )
        parser.add_argument(
            f"--python-{side}",
            metavar="PY",
            help=f"the interpreter of server {side.upper()} (another checkout's venv: its code)",
        )
    parser.add_argument("--quick", action="store_true", help="a small run (CI)")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS)
    args.streams = args.streams or (QUICK_STREAMS if args.quick else DEFAULT_STREAMS)
    args.tokens = args.tokens or (QUICK_TOKENS if args.quick else DEFAULT_TOKENS)
    if args.rounds < 1 or args.streams < 1 or args.tokens < 2:
        parser.error("--rounds and --streams must be at least 1, --tokens at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m bench.ab`; 0 whatever the outcome."""
    asyncio.run(run(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
