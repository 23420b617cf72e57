"""The stack's floor: the same streams against a bare grpc.aio server, through bare stubs.

`python -m bench.load --floor` runs, before Grove's run, the same N simultaneous
AddResponse streams of `--tokens` tokens at the same pace against a server process that
does nothing but gRPC: it answers each request with the human message, the tokens one
message each at the given delay, and the reply — no key or conversation check, no store,
no sampler, no checkpoints — on uvloop, as `grove serve` runs. The client is one process
with bare generated stubs on one channel (no SDK). What this run shows is what gRPC's
Python stack alone costs on this machine for the figure: the time to first token of the
last of N simultaneous starts and the gap between token messages. Grove's own figure,
printed after it, is then read against it (how much of it is the floor, how much Grove's).
Messages are the same kinds and about the same sizes as Grove's.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field

import grpc

from bench.load.records import p50_p99_max
from bench.load.settings import PROJECT_ROOT
from grove_explorer.protos import chat_pb2, chat_pb2_grpc, sampler_public_pb2
from grove_explorer.server.launcher import ServerProcess as Launcher

FLOOR_FLAG = "--serve-floor"
_REPLY_ID = "0" * 32


class FloorServicer(chat_pb2_grpc.ChatServicer):
    """AddResponse and nothing else: the messages of a reply, paced, with no work between."""

    def __init__(self, tokens: int, delay_s: float) -> None:
        self._tokens = tokens
        self._delay_s = delay_s

    async def AddResponse(
        self, request: chat_pb2.AddResponseRequest, context: grpc.aio.ServicerContext
    ) -> None:
        human = chat_pb2.Response(response_id=_REPLY_ID, sender="human", message=request.message)
        await context.write(chat_pb2.AddResponseResponse(user_response=human))
        text = []
        loop = asyncio.get_running_loop()
        due = loop.time()
        for index in range(self._tokens):
            piece = f" word{index % 10}"
            text.append(piece)
            sample = sampler_public_pb2.SampleTokensResponse()
            sample.token.final_logit.string_token = piece
            sample.token.final_logit.logprob = -0.5
            await context.write(chat_pb2.AddResponseResponse(token=sample))
            due += self._delay_s
            await asyncio.sleep(max(0.0, due - loop.time()))
        reply = chat_pb2.Response(response_id=_REPLY_ID, sender="model", message="".join(text))
        await context.write(chat_pb2.AddResponseResponse(model_response=reply))


async def _serve(tokens: int, delay_s: float) -> None:
    server = grpc.aio.server()
    chat_pb2_grpc.add_ChatServicer_to_server(FloorServicer(tokens, delay_s), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    # The launcher's start line (server/launcher.py reads "… on HOST:PORT …").
    print(f"Grove Chat server on 127.0.0.1:{port} (floor: bare grpc.aio)", flush=True)
    await server.wait_for_termination()


def serve_floor(argv: list[str]) -> int:
    """Entry point of the floor server process: `--serve-floor … TOKENS DELAY_S`.

    The launcher's own flags (`--port 0 --db … --log-level …`) come first and mean
    nothing here (the port is always a free one); the last two arguments are the reply's.
    """
    import uvloop

    uvloop.run(_serve(int(argv[-2]), float(argv[-1])))
    return 0


@dataclass
class FloorFigures:
    """What bare streams did: times to first token, gaps between token messages, errors."""

    first_tokens: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    errors: int = 0


async def stream_bare(
    stub: chat_pb2_grpc.ChatStub,
    figures: FloorFigures,
    request: chat_pb2.AddResponseRequest | None = None,
) -> None:
    """One stream through a bare stub, its first token and gaps added to `figures`.

    `request` is the floor's own (any conversation id does) unless given (`bench.ab`).
    """
    if request is None:
        request = chat_pb2.AddResponseRequest(
            conversation_id="floor", message="Tell me about trees."
        )
    started = time.perf_counter()
    last: float | None = None
    try:
        async for message in stub.AddResponse(request):
            if message.WhichOneof("response") != "token":
                continue
            now = time.perf_counter()
            if last is None:
                figures.first_tokens.append(now - started)
            else:
                figures.gaps.append(now - last)
            last = now
    except grpc.RpcError:
        figures.errors += 1


async def run_floor(
    streams: int, tokens: int, delay_ms: float, folder: os.PathLike[str]
) -> FloorFigures:
    """Starts the floor server, runs `streams` streams at once through bare stubs."""
    figures = FloorFigures()
    launcher = Launcher(
        os.fspath(folder),
        (str(tokens), f"{delay_ms / 1000.0:g}"),
        entry=("-m", "bench.load", FLOOR_FLAG),
        cwd=PROJECT_ROOT,
        capture_stderr=False,
    )
    async with launcher as server, grpc.aio.insecure_channel(server.address) as channel:
        stub = chat_pb2_grpc.ChatStub(channel)
        await stream_bare(stub, FloorFigures())  # connected, warm
        await asyncio.gather(*(stream_bare(stub, figures) for _ in range(streams)))
    return figures


def print_floor(figures: FloorFigures) -> None:
    """The floor's lines, in the report's layout."""
    print("\nThe stack's floor (bare grpc.aio server and stubs, same streams, no Grove)")
    if not figures.first_tokens:
        print(f"  no stream got a token ({figures.errors} errors)")
        return
    print(f"  time to first token  {p50_p99_max(figures.first_tokens)}")
    if figures.gaps:
        print(f"  token-message gap    {p50_p99_max(figures.gaps)}")
    print(f"  errors               {figures.errors}", flush=True)
