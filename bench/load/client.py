"""The client side: conversations, streams through the SDK, worker processes, checks."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import callgrind
from bench.load.burner import Burner
from bench.load.records import ClientResult, GcMeter, LoopLagMeter, StartWindow, StreamRecord
from bench.load.server import ServerProcess
from bench.load.settings import (
    CAP_CHECK_TIMEOUT_S,
    CAP_STREAMS,
    CAP_TOKENS,
    PROJECT_ROOT,
    PROMPT,
    SETUP_CONCURRENCY,
    SETUP_TIMEOUT_S,
    SHUTDOWN_TIMEOUT_S,
    VERIFY_TIMEOUT_S,
)
from bench.load.watchers import Watchers, WatchFigures
from grove_explorer.client import Client, Conversation, ResourceExhaustedError, SamplingParams
from grove_explorer.client.streams import ModelResponseEvent, TokensEvent, UserResponseEvent

# -- the client side -----------------------------------------------------------------------

# The stream whose task is running: the SDK's log lines are emitted in that task.
_CURRENT_STREAM: ContextVar[StreamRecord | None] = ContextVar("bench_stream", default=None)


class _ResumeCounter(logging.Handler):
    """Counts the SDK's "resuming" lines (client/resuming.py) on the stream that logs them.

    The SDK resumes a stream on its own and says so only in its log; counting the lines
    per stream tells `bench.scale` which replies survived a lost connection.
    """

    def emit(self, record: logging.LogRecord) -> None:
        stream = _CURRENT_STREAM.get()
        if stream is not None and record.getMessage().endswith("resuming"):
            stream.resumes += 1


def count_resumes() -> None:
    """Installs the resume counter on the SDK's resuming logger (once per process)."""
    logger = logging.getLogger("grove_explorer.client.resuming")
    if not any(isinstance(h, _ResumeCounter) for h in logger.handlers):
        logger.addHandler(_ResumeCounter())
        logger.setLevel(logging.INFO)
        logger.propagate = False  # counted, not printed


async def open_conversations(client: Client, count: int) -> list[Conversation]:
    """Creates `count` conversations on the server (unmeasured set-up, bounded)."""
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def one() -> Conversation:
        async with gate:
            conversation = client.grok.create_conversation()
            await conversation.ensure_created()
            return conversation

    async with asyncio.timeout(SETUP_TIMEOUT_S):
        return list(await asyncio.gather(*(one() for _ in range(count))))


async def stream_one(
    conversation: Conversation,
    index: int,
    tokens: int,
    deadline: float,
    window: StartWindow | None = None,
) -> StreamRecord:
    """Runs one stream to its end (or the deadline, a loop.time()) and records it.

    Any exception is recorded, never raised, so one failed stream does not hide the
    figures of the others.
    """
    record = StreamRecord(index=index, conversation_id=conversation.conversation_id)
    _CURRENT_STREAM.set(record)  # this stream's own task (gather wraps each in one)
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
                        if window is not None:
                            window.first_token()
                    else:
                        record.gaps.append(now - last)
                    last = now
                    record.messages += 1
                    record.tokens += event.count  # the text stream's reader decodes no logprobs
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
    server_loop_cpu: Callable[[], float] | None = None,
    watch: bool = False,
) -> ClientResult:
    """One client process's share: open `count` conversations, await `ready`, stream.

    `ready` returns when every process may start (at once for a single process; the
    parent's GO line for workers), so set-up is never inside the measured window.
    """
    count_resumes()
    async with Client(api_host=address) as client:
        async with asyncio.timeout(SETUP_TIMEOUT_S):
            await client.wait_ready()
        conversations = await open_conversations(client, count)
        watchers = None
        if watch:  # one watcher per conversation, watching before the streams start
            watchers = Watchers(address)
            await watchers.start([c.conversation_id for c in conversations])
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
        window = StartWindow(len(conversations), server_loop_cpu)
        window.begin()
        with GcMeter() as gc_meter:
            records = await asyncio.gather(
                *(
                    stream_one(conversation, first_index + i, tokens, deadline, window)
                    for i, conversation in enumerate(conversations)
                )
            )
        ended = time.perf_counter()
        cpu = time.process_time() - cpu_before
        loop_cpu = time.thread_time() - loop_cpu_before
        await meter.stop()
    seen = WatchFigures()
    if watchers is not None:
        seen = await watchers.finish({r.conversation_id: r.text for r in records})
    return ClientResult(
        list(records),
        meter.lags(),
        gc_meter.pauses,
        cpu,
        loop_cpu,
        started,
        ended,
        window.wall,
        window.loop_cpu,
        window.server_loop_cpu,
        seen.watchers,
        seen.events,
        seen.gaps,
        seen.mismatches,
        seen.unfinished,
        seen.errors,
    )


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
        args.worker,
        args.first_index,
        args.streams,
        args.tokens,
        args.duration_limit,
        ready,
        watch=args.watchers,
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
            *(["--watchers"] if args.watchers else []),
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
        line = await asyncio.wait_for(self._process.stdout.readline(), SETUP_TIMEOUT_S)
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
    args: argparse.Namespace, server: ServerProcess, burner: Burner | None = None
) -> tuple[list[ClientResult], tuple[float, ...]]:
    """The measured phase, in this process or over `--client-procs` workers.

    Returns the client results and the CPU seconds spent during the phase: see
    `ServerProcess.cpu_snapshot`. A `burner` spins from before the conversations are
    opened (so it runs at full speed when the streams start) until the streams end; its
    CPU is counted from the start of the streams.
    """

    def spent(before: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(a - b for a, b in zip(server.cpu_snapshot(), before, strict=True))

    if burner is not None:
        burner.start()
    try:
        return await _measured(args, server, burner, spent)
    finally:
        if burner is not None:
            burner.stop()


async def _measured(
    args: argparse.Namespace,
    server: ServerProcess,
    burner: Burner | None,
    spent: Callable[[tuple[float, ...]], tuple[float, ...]],
) -> tuple[list[ClientResult], tuple[float, ...]]:
    """`run_streams` with the busy core (if any) already spinning."""
    if args.client_procs == 1:
        cpu_box: list[tuple[float, ...]] = []

        async def ready() -> None:
            if server.callgrind is not None:
                await callgrind.control(server.pid, "-i", "on")
            if burner is not None:
                burner.mark()
            cpu_box.append(server.cpu_snapshot())
            server.profile_start()

        result = await run_client(
            server.address,
            0,
            args.streams,
            args.tokens,
            args.duration_limit,
            ready,
            server.loop_cpu_seconds,
            watch=args.watchers,
        )
        server.profile_stop()
        if server.callgrind is not None:
            await callgrind.control(server.pid, "-d")
        if burner is not None:
            burner.read()
        return [result], spent(cpu_box[0])
    workers: list[WorkerProcess] = []
    first = 0
    for count in split(args.streams, args.client_procs):
        workers.append(WorkerProcess(server.address, first, count, args))
        first += count
    try:
        await asyncio.gather(*(w.start() for w in workers))
        if burner is not None:
            burner.mark()
        cpu_before = server.cpu_snapshot()
        server.profile_start()
        for worker in workers:
            worker.go()
        async with asyncio.timeout(args.duration_limit + SHUTDOWN_TIMEOUT_S):
            results = list(await asyncio.gather(*(w.result() for w in workers)))
        server.profile_stop()
        if burner is not None:
            burner.read()
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
        async with asyncio.timeout(SETUP_TIMEOUT_S):
            await client.wait_ready()
            (conversation,) = await open_conversations(client, 1)
            record = await stream_one(
                conversation, -1, 5, asyncio.get_running_loop().time() + SETUP_TIMEOUT_S
            )
    if record.error_type:
        raise RuntimeError(f"Warm-up stream failed: {record.error_type}: {record.error_message}")


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
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)

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
        async with asyncio.timeout(VERIFY_TIMEOUT_S):
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
                        record.tokens += event.count  # the text stream's reader decodes no logprobs
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
