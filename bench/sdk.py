"""SDK overhead benchmark: `add_response` against the raw generated stub, same server, same run.

Usage: `python -m bench.sdk [--tokens N] [--rounds R] [--quick]`.

What it measures (the issue's wording: "stream 100,000 tokens through the SDK's
`add_response` and through the raw generated stub in the same run, alternating, several
rounds; print tokens/s for both and their ratio (SDK ÷ raw); target ≥ 0.95; also print
server-side tokens/s with batching on and off"):

- A Chat server runs as a subprocess (`python -m grove_explorer.server --port 0`, zero
  token delay), so the
  client and the server each get their own core, as in real use.
- Each round streams at least `--tokens` tokens through each path. The offline model ends a
  reply at a paragraph end, so a round is many `AddResponse` calls (`max_tokens` 4096),
  each in a fresh conversation (or every `--per-conversation` replies), until enough tokens
  arrived. Both paths send the same requests with the same seeds (`select_reply` too:
  the server keeps the user's place following the reply, an extra write per reply), so
  the server does the same work for both and the token counts match.
- Before measuring, both paths stream a whole round unmeasured with the same seeds (reply
  by reply, alternating): the offline model memoises its n-gram tables per process, and a
  cold first pass is much slower than later ones, which would otherwise penalise
  whichever path runs first.
- Rounds alternate SDK and raw: by default reply by reply inside each round (reply `i`
  goes through both paths back to back, the order flipping every reply; each path still
  streams the full token count per round and its time is the sum of its replies' times),
  which cancels drift (the database grows, other load on the machine comes and goes).
  `--interleave round` instead alternates whole rounds (flipping which path goes first);
  its per-round ratios scatter far more (0.90-1.07 against 0.98-1.01 on a shared 2-core
  machine). The figure per path is the median over rounds.
- Server-side: the raw path against the default server (batching on) and against a
  `--batch-max-tokens 1` server (batching off), with tokens/s seen by the client, tokens/s
  of the server's own sampling clock (`Response.total_time_seconds`) and wire messages per
  token.

It prints figures and PASS/FAIL against the target; it exits 0 either way (it is a
benchmark, not a test).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import grpc

from grove_explorer.client import Client, Conversation, SamplingParams
from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.launcher import ServerProcess

TARGET_RATIO = 0.95
FULL_TOKENS = 100_000
FULL_ROUNDS = 3
QUICK_TOKENS = 10_000
QUICK_ROUNDS = 1
# The offline sampler's ceiling; replies usually end earlier, at a paragraph end.
DEFAULT_MAX_TOKENS = 4096
MESSAGE = "Tell me about trees, gardens and the weather."
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The same channel options the SDK's Client uses, so the raw path is not handicapped.
_CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
)
_STARTUP_TIMEOUT_S = 60.0
_SHUTDOWN_TIMEOUT_S = 20.0


@dataclass
class RunStats:
    """What one measured run (a round of one path) received and how long it took."""

    label: str
    tokens: int = 0
    chars: int = 0
    replies: int = 0
    # Raw path only: every AddResponseResponse, and those carrying one or more tokens.
    wire_messages: int = 0
    token_messages: int = 0
    # From the stored model responses: the server's own view of the sampling.
    server_tokens: int = 0
    server_seconds: float = 0.0
    elapsed: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        """Tokens received per wall-clock second of the run, as the client saw them."""
        return self.tokens / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def server_tokens_per_second(self) -> float:
        """Tokens per second by the server's clock (sampling and streaming, not storing)."""
        return self.server_tokens / self.server_seconds if self.server_seconds > 0 else 0.0


@dataclass(frozen=True)
class Workload:
    """The requests of a round; identical for both paths so the server work is equal."""

    tokens: int
    max_tokens: int
    temperature: float | None
    seed: int
    per_conversation: int
    message: str = MESSAGE

    def sampling(self, index: int) -> SamplingParams:
        """Sampling parameters of the `index`-th request of a round."""
        return SamplingParams(
            max_tokens=self.max_tokens, temperature=self.temperature, seed=self.seed + index
        )


class StreamPath(Protocol):
    """One way of streaming replies: the SDK or the raw stub."""

    label: str

    async def reply(self, workload: Workload, index: int, stats: RunStats) -> None:
        """Streams the `index`-th reply of a round, adding what arrived to `stats`."""
        ...


class SdkPath:
    """Streams through the SDK: `Conversation.add_response`, the token stream, the future."""

    label = "sdk"

    def __init__(self, client: Client) -> None:
        self._client = client
        self._conversation: Conversation | None = None

    async def reply(self, workload: Workload, index: int, stats: RunStats) -> None:
        """Streams one reply (new conversation every `per_conversation` replies)."""
        if self._conversation is None or index % workload.per_conversation == 0:
            self._conversation = self._client.grok.create_conversation()
        token_stream, future = self._conversation.add_response(
            workload.message, sampling=workload.sampling(index)
        )
        tokens = 0
        chars = 0
        async for text in token_stream:
            tokens += 1
            chars += len(text)
        response = await future
        stats.tokens += tokens
        stats.chars += chars
        stats.replies += 1
        stats.server_tokens += response.token_count
        stats.server_seconds += response.total_time


class RawPath:
    """Streams through the generated `ChatStub`, reading tokens exactly as the SDK does."""

    label = "raw"

    def __init__(self, stub: chat_pb2_grpc.ChatStub) -> None:
        self._stub = stub
        self._conversation_id = ""
        self._parent_id = ""

    async def reply(self, workload: Workload, index: int, stats: RunStats) -> None:
        """Streams one reply, building the same request the SDK builds."""
        if not self._conversation_id or index % workload.per_conversation == 0:
            conversation: chat_pb2.Conversation = await self._stub.CreateConversation(
                chat_pb2.CreateConversationRequest()
            )
            self._conversation_id = conversation.conversation_id
            self._parent_id = ""
        request = chat_pb2.AddResponseRequest(
            conversation_id=self._conversation_id,
            message=workload.message,
            parent_response_id=self._parent_id,
            use_grok=True,
            request_id=uuid.uuid4().hex,
            # As `add_response` asks since issue 12 (the user's place follows the reply):
            # the server then writes the place at the start and with each stored response,
            # work both paths must pay for the ratio to measure the SDK alone.
            select_reply=True,
        )
        request.sampling_params.CopyFrom(workload.sampling(index).to_proto())
        tokens = 0
        chars = 0
        wire = 0
        token_messages = 0
        model: chat_pb2.Response | None = None
        async for msg in self._stub.AddResponse(request):
            wire += 1
            kind = msg.WhichOneof("response")
            if kind == "token":
                sample = msg.token
                if sample.tokens:
                    token_messages += 1
                    for token in sample.tokens:
                        tokens += 1
                        chars += len(token.final_logit.string_token)
                elif sample.HasField("token"):
                    token_messages += 1
                    tokens += 1
                    chars += len(sample.token.final_logit.string_token)
            elif kind == "model_response":
                model = msg.model_response
        if model is None:
            raise RuntimeError("The server ended AddResponse without a model response.")
        self._parent_id = model.response_id
        stats.tokens += tokens
        stats.chars += chars
        stats.replies += 1
        stats.wire_messages += wire
        stats.token_messages += token_messages
        stats.server_tokens += model.token_count
        stats.server_seconds += model.total_time_seconds


async def run_round(path: StreamPath, workload: Workload, tokens: int | None = None) -> RunStats:
    """Streams replies through `path` until at least `tokens` (default: the target) arrived."""
    target = workload.tokens if tokens is None else tokens
    stats = RunStats(path.label)
    index = 0
    started = time.perf_counter()
    while stats.tokens < target:
        await _reply(path, workload, index, stats)
        index += 1
    stats.elapsed = time.perf_counter() - started
    return stats


async def run_interleaved_round(
    first: StreamPath, second: StreamPath, workload: Workload
) -> tuple[RunStats, RunStats]:
    """Alternates the paths reply by reply, timing each reply; returns their stats in order.

    Reply `i` goes through both paths back to back (the order flips every reply), so load
    from elsewhere on the machine and the server's warming caches hit both paths alike. A
    path's elapsed time is the sum of its replies' times.
    """
    stats = {first.label: RunStats(first.label), second.label: RunStats(second.label)}
    index = 0
    while min(s.tokens for s in stats.values()) < workload.tokens:
        for path in (first, second) if index % 2 == 0 else (second, first):
            started = time.perf_counter()
            await _reply(path, workload, index, stats[path.label])
            stats[path.label].elapsed += time.perf_counter() - started
        index += 1
    return stats[first.label], stats[second.label]


async def _reply(path: StreamPath, workload: Workload, index: int, stats: RunStats) -> None:
    before = stats.tokens
    await path.reply(workload, index, stats)
    if stats.tokens == before:
        raise RuntimeError("A reply carried no tokens; the benchmark cannot progress.")


def server_process(db: Path, extra_args: Sequence[str] = ()) -> ServerProcess:
    """The benchmark's server: the shared launcher, its log on this console."""
    return ServerProcess(
        db,
        extra_args,
        cwd=PROJECT_ROOT,
        startup_timeout=_STARTUP_TIMEOUT_S,
        shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
        capture_stderr=False,
    )


def _median(runs: Sequence[RunStats], attribute: str = "tokens_per_second") -> float:
    return statistics.median(getattr(r, attribute) for r in runs)


def _print_run(round_no: int, stats: RunStats) -> None:
    print(
        f"  round {round_no}  {stats.label:<4} {stats.tokens:>9,} tokens  {stats.replies:>5,} "
        f"replies  {stats.elapsed:7.3f} s  {stats.tokens_per_second:>10,.0f} tokens/s",
        flush=True,
    )


def _print_server_side(name: str, runs: Sequence[RunStats]) -> None:
    tokens = sum(r.tokens for r in runs)
    token_messages = sum(r.token_messages for r in runs)
    wire = sum(r.wire_messages for r in runs)
    print(
        f"  {name:<13} {_median(runs):>10,.0f} tokens/s at the client, "
        f"{_median(runs, 'server_tokens_per_second'):>10,.0f} tokens/s by the server's clock; "
        f"{token_messages / tokens:.4f} token messages/token "
        f"({wire / tokens:.4f} wire messages/token, {tokens / token_messages:.1f} tokens/message)"
    )


async def _channel_ready(channel: grpc.aio.Channel) -> None:
    async with asyncio.timeout(_STARTUP_TIMEOUT_S):
        await channel.channel_ready()


async def compare_sdk_and_raw(
    address: str, workload: Workload, rounds: int, warmup: int, interleave: str
) -> tuple[list[RunStats], list[RunStats]]:
    """Alternates SDK and raw rounds against one server; returns (sdk runs, raw runs)."""
    client = Client(api_host=address)
    channel = grpc.aio.insecure_channel(address, options=_CHANNEL_OPTIONS)
    try:
        await client.wait_ready()
        await _channel_ready(channel)
        sdk: StreamPath = SdkPath(client)
        raw: StreamPath = RawPath(chat_pb2_grpc.ChatStub(channel))
        if warmup > 0:
            await run_interleaved_round(raw, sdk, dataclasses.replace(workload, tokens=warmup))
        sdk_runs: list[RunStats] = []
        raw_runs: list[RunStats] = []
        for round_no in range(1, rounds + 1):
            order = (sdk, raw) if round_no % 2 else (raw, sdk)
            if interleave == "request":
                results = await run_interleaved_round(*order, workload)
            else:
                results = (await run_round(order[0], workload), await run_round(order[1], workload))
            for stats in results:
                (sdk_runs if stats.label == sdk.label else raw_runs).append(stats)
                _print_run(round_no, stats)
            if sdk_runs[-1].chars != raw_runs[-1].chars:
                print(
                    f"  warning: the paths received different text ({sdk_runs[-1].chars:,} vs "
                    f"{raw_runs[-1].chars:,} characters)"
                )
        return sdk_runs, raw_runs
    finally:
        await channel.close()
        await client.close()


async def _warm_up(path: StreamPath, workload: Workload, tokens: int) -> None:
    """Unmeasured replies with the measured seeds, so the server's model caches are warm.

    The offline model memoises its n-gram tables per context for the life of the process;
    the first pass over a set of seeds is markedly slower than later ones, and would
    otherwise penalise whichever path runs first.
    """
    if tokens > 0:
        await run_round(path, workload, tokens)


async def raw_only(address: str, workload: Workload, rounds: int, warmup: int) -> list[RunStats]:
    """Raw-stub rounds against one server (for the batching-off figures)."""
    channel = grpc.aio.insecure_channel(address, options=_CHANNEL_OPTIONS)
    try:
        await _channel_ready(channel)
        raw = RawPath(chat_pb2_grpc.ChatStub(channel))
        await _warm_up(raw, workload, warmup)
        runs: list[RunStats] = []
        for round_no in range(1, rounds + 1):
            stats = await run_round(raw, workload)
            runs.append(stats)
            _print_run(round_no, stats)
        return runs
    finally:
        await channel.close()


async def run(args: argparse.Namespace) -> None:
    """Runs the whole benchmark and prints its report."""
    workload = Workload(
        tokens=args.tokens,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        seed=args.seed,
        per_conversation=args.per_conversation,
    )
    warmup = int(args.tokens * args.warmup_fraction)
    temperature = "server default" if args.temperature is None else f"{args.temperature:g}"
    print(
        f"Grove SDK benchmark: {args.tokens:,} tokens per round, {args.rounds} round(s) per "
        f"path, max_tokens {args.max_tokens}, temperature {temperature}, "
        f"{args.per_conversation} reply(ies) per conversation, warm-up {warmup:,} tokens, "
        f"alternating per {args.interleave}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="grove-bench-") as tmp:
        async with server_process(Path(tmp) / "bench.sqlite3") as server:
            print(f"\nSDK vs raw stub, server {server.address} (token delay 0, batching on)")
            sdk_runs, raw_runs = await compare_sdk_and_raw(
                server.address, workload, args.rounds, warmup, args.interleave
            )
        off_runs: list[RunStats] = []
        if not args.skip_batching_off:
            async with server_process(
                Path(tmp) / "bench-unbatched.sqlite3", ("--batch-max-tokens", "1")
            ) as server:
                print(f"\nRaw stub, server {server.address} with --batch-max-tokens 1")
                off_runs = await raw_only(server.address, workload, args.rounds, warmup)

    sdk_rate = _median(sdk_runs)
    raw_rate = _median(raw_runs)
    ratio = sdk_rate / raw_rate
    verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
    print(f"\nSDK vs raw (median of {args.rounds} round(s) each)")
    print(f"  SDK add_response  {sdk_rate:>10,.0f} tokens/s")
    print(f"  raw ChatStub      {raw_rate:>10,.0f} tokens/s")
    print(f"  ratio SDK ÷ raw   {ratio:>10.3f}   (target ≥ {TARGET_RATIO}: {verdict})")
    per_round = "  ".join(
        f"{s.tokens_per_second / r.tokens_per_second:.3f}"
        for s, r in zip(sdk_runs, raw_runs, strict=True)
    )
    print(f"  per-round ratios  {per_round}")
    print("\nServer-side, raw stub (median tokens/s; message counts over all rounds)")
    _print_server_side("batching on", raw_runs)
    if off_runs:
        _print_server_side("batching off", off_runs)
        print(f"  batching speed-up at the client: {raw_rate / _median(off_runs):.2f}x")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parses the command line; `--quick` picks small defaults for tokens and rounds."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.sdk",
        description=(
            "Streams tokens through the SDK's add_response and through the raw ChatStub "
            "against one server subprocess (zero token delay), alternating rounds, and "
            "prints tokens/s for both, their ratio (SDK ÷ raw, target ≥ 0.95) and the "
            "server's tokens/s with batching on and off."
        ),
    )
    parser.add_argument(
        "--tokens",
        type=int,
        default=None,
        help=f"tokens per round and path (default: {FULL_TOKENS:,}; {QUICK_TOKENS:,} with --quick)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help=f"rounds per path (default: {FULL_ROUNDS}; {QUICK_ROUNDS} with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="a small run that finishes in seconds")
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        help="max_tokens of every request (default: %(default)s)",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="sampling temperature (default: the server's)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        help="seed of a round's first request; request i uses seed+i (default: %(default)s)",
    )
    parser.add_argument(
        "--per-conversation",
        type=int,
        default=1,
        help="replies per conversation before starting a fresh one (default: %(default)s)",
    )
    parser.add_argument(
        "--warmup-fraction",
        type=float,
        default=1.0,
        help=(
            "unmeasured warm-up through each path with the measured seeds, as a fraction "
            "of --tokens (default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--interleave",
        choices=("round", "request"),
        default="request",
        help=(
            "alternate the SDK and the raw stub reply by reply within each round (robust "
            "to drift and other load) or whole rounds at a time (default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--skip-batching-off",
        action="store_true",
        help="skip the --batch-max-tokens 1 server",
    )
    args = parser.parse_args(argv)
    if args.tokens is None:
        args.tokens = QUICK_TOKENS if args.quick else FULL_TOKENS
    if args.rounds is None:
        args.rounds = QUICK_ROUNDS if args.quick else FULL_ROUNDS
    if args.tokens < 1 or args.rounds < 1 or args.per_conversation < 1:
        parser.error("--tokens, --rounds and --per-conversation must be at least 1")
    if args.warmup_fraction < 0:
        parser.error("--warmup-fraction cannot be negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m bench.sdk`; returns 0 whatever the verdict."""
    args = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
