"""Replies that end together are stored a few at a time (`--reply-store-slots`).

What must hold: a server with N slots runs at most N reply stores at once and the rest
wait for a slot (then all are stored, each reply whole); with no limit every store runs
at once; the default is 2 with PostgreSQL and no limit with SQLite (whose group commit
stores replies ending together in one transaction); the flag refuses a negative count;
a reply waiting for its store has sent its last tokens already.
Driven through the SDK against a real server; its reply store is wrapped to hold the
first reply's store until the others have reached theirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest

from grove_explorer.client import Client
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.streams import ModelResponseEvent, TokensEvent
from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.cli import build_serve_parser, config_from_args
from grove_explorer.server.config import (
    POSTGRES_REPLY_STORE_SLOTS,
    ServerConfig,
    reply_store_slots_for,
)
from grove_explorer.server.database_location import PostgresUrl
from grove_explorer.server.runtime import GroveServer

REPLIES = 3


class CountedSlots(asyncio.Semaphore):
    """The server's slots, counting the stores that had to wait for one."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.waited = 0
        self.changed = asyncio.Event()

    async def acquire(self) -> bool:
        if self.locked():
            self.waited += 1
            self.changed.set()
        return await super().acquire()


class HeldStores:
    """Wraps a store's add_response: counts the reply stores, holds the first one."""

    def __init__(self, add_response: Callable[..., Awaitable[Any]]) -> None:
        self._add_response = add_response
        self.entered = 0
        self.running = 0
        self.most_at_once = 0
        self.release = asyncio.Event()
        self.changed = asyncio.Event()
        # How many reply stores had begun when the first was let go.
        self.begun_while_held = 0

    async def __call__(self, user_id: str, new: Any, **kwargs: Any) -> Any:
        if new.sender != "model":
            return await self._add_response(user_id, new, **kwargs)
        self.entered += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.changed.set()
        try:
            if self.entered == 1:
                await self.release.wait()
            return await self._add_response(user_id, new, **kwargs)
        finally:
            self.running -= 1


async def until(event: asyncio.Event, done: Callable[[], bool]) -> None:
    """Waits (at most 10 s: a failure, not a pace) until `done()` after `event` sets."""
    async with asyncio.timeout(10):
        while not done():
            event.clear()
            await event.wait()


async def replies_ending_together(
    server: GroveServer, stores: HeldStores
) -> list[tuple[str, str, str]]:
    """Samples REPLIES replies at once through the SDK, each in its own conversation.

    Returns (conversation id, text streamed, stored reply's text) per reply.
    """
    async with Client(api_host=server.address) as sdk:

        async def one(index: int) -> tuple[str, str, str]:
            conversation = sdk.grok.create_conversation()
            await conversation.ensure_created()
            pieces: list[str] = []
            stored = ""
            async for event in conversation.sample(
                "Tell me about trees.",
                parent_response_id=None,
                sampling=SamplingParams(max_tokens=6, seed=index + 1),
            ):
                if isinstance(event, TokensEvent):
                    pieces.append(event.text)
                elif isinstance(event, ModelResponseEvent):
                    stored = event.response.message
            return conversation.conversation_id, "".join(pieces), stored

        running = asyncio.gather(*(one(i) for i in range(REPLIES)))
        try:
            await _after_stores_reached(server, stores)
        finally:
            stores.begun_while_held = stores.entered
            stores.release.set()
        return list(await running)


async def _after_stores_reached(server: GroveServer, stores: HeldStores) -> None:
    slots = server.servicer._replies._store_slots
    if isinstance(slots, CountedSlots):
        # The first store holds the one slot; the others wait for it.
        await until(stores.changed, lambda: stores.entered >= 1)
        await until(slots.changed, lambda: slots.waited == REPLIES - 1)
        assert stores.entered == 1, "a store ran without a slot"
    else:
        # No limit: every store runs while the first is held.
        await until(stores.changed, lambda: stores.entered == REPLIES)


async def serve(config: ServerConfig) -> tuple[GroveServer, HeldStores]:
    """A server whose reply stores are held (HeldStores) and its slots, if any, counted."""
    server = GroveServer(config)
    await server.start()
    stores = HeldStores(server.store.add_response)
    server.store.add_response = stores  # type: ignore[method-assign]
    slots = reply_store_slots_for(config)
    if slots:
        server.servicer._replies._store_slots = CountedSlots(slots)
    return server, stores


async def test_with_one_slot_replies_ending_together_are_stored_one_at_a_time(
    tmp_path: Path,
) -> None:
    config = ServerConfig(host="127.0.0.1", port=0, db=tmp_path / "g.sqlite3", reply_store_slots=1)
    server, stores = await serve(config)
    try:
        replies = await replies_ending_together(server, stores)
        assert stores.begun_while_held == 1 and stores.most_at_once == 1
        assert stores.entered == REPLIES
        async with Client(api_host=server.address) as sdk:
            for conversation_id, streamed, sent in replies:
                loaded = await sdk.grok.get_conversation(conversation_id)
                [reply] = [r for r in loaded.responses if r.sender == "model"]
                assert streamed and reply.message == sent == streamed, "stored whole"
                assert not reply.partial
    finally:
        await server.stop()


async def test_without_a_limit_every_reply_store_runs_at_once(tmp_path: Path) -> None:
    config = ServerConfig(host="127.0.0.1", port=0, db=tmp_path / "g.sqlite3")
    assert reply_store_slots_for(config) == 0, "SQLite: no limit"
    server, stores = await serve(config)
    try:
        assert server.servicer._replies._store_slots is None
        await replies_ending_together(server, stores)
        assert stores.begun_while_held == REPLIES
    finally:
        await server.stop()


def test_the_default_is_two_slots_with_postgresql_and_no_limit_with_sqlite() -> None:
    sqlite = ServerConfig(db=Path("grove.sqlite3"))
    postgres = replace(sqlite, db=PostgresUrl("postgresql://grove@127.0.0.1:5432/grove"))
    assert reply_store_slots_for(sqlite) == 0
    assert reply_store_slots_for(postgres) == POSTGRES_REPLY_STORE_SLOTS == 2
    assert reply_store_slots_for(replace(postgres, reply_store_slots=0)) == 0
    assert reply_store_slots_for(replace(sqlite, reply_store_slots=4)) == 4


def test_the_flag_sets_the_slots_and_refuses_a_negative_count() -> None:
    parser = build_serve_parser()
    assert config_from_args(parser.parse_args(["--reply-store-slots", "3"])).reply_store_slots == 3
    assert config_from_args(parser.parse_args([])).reply_store_slots is None
    with pytest.raises(SystemExit, match="--reply-store-slots must be 0"):
        config_from_args(parser.parse_args(["--reply-store-slots", "-1"]))


LAST_TOKENS = 6


class Seen:
    """What a caller has received of a reply's tokens so far, and a signal for more."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.tokens = 0
        self.changed = asyncio.Event()

    def add(self, text: str, tokens: int) -> None:
        self.pieces.append(text)
        self.tokens += tokens
        self.changed.set()


async def sdk_stream(address: str, conversation_id: str, seen: Seen) -> str:
    """Streams a reply through the SDK (a resumable call); its stored text."""
    async with Client(api_host=address) as sdk:
        conversation = await sdk.grok.get_conversation(conversation_id)
        stored = ""
        async for event in conversation.sample(
            "Tell me about trees.",
            parent_response_id=None,
            sampling=SamplingParams(max_tokens=LAST_TOKENS, seed=3),
        ):
            if isinstance(event, TokensEvent):
                seen.add(event.text, event.count)
            elif isinstance(event, ModelResponseEvent):
                stored = event.response.message
        return stored


async def bare_stream(address: str, conversation_id: str, seen: Seen) -> str:
    """Streams a reply through a bare stub (not resumable: the call itself is written)."""
    async with grpc.aio.insecure_channel(address) as channel:
        request = chat_pb2.AddResponseRequest(
            conversation_id=conversation_id, message="Tell me about trees."
        )
        request.sampling_params.max_tokens = LAST_TOKENS
        request.sampling_params.seed = 3
        stored = ""
        async for message in chat_pb2_grpc.ChatStub(channel).AddResponse(request):
            kind = message.WhichOneof("response")
            sample = message.token
            if kind == "token" and (sample.tokens or sample.WhichOneof("response") == "token"):
                tokens = list(sample.tokens) or [sample.token]  # a batch, or one token
                seen.add("".join(t.final_logit.string_token for t in tokens), len(tokens))
            elif kind == "model_response":
                stored = message.model_response.message
        return stored


@pytest.mark.parametrize("stream", [sdk_stream, bare_stream], ids=["sdk", "bare-stub"])
async def test_a_reply_waiting_for_its_store_has_sent_its_last_tokens(
    tmp_path: Path, stream: Callable[[str, str, Seen], Awaitable[str]]
) -> None:
    # A batch interval no stream reaches: after the first token, every token waits in
    # the batch until the stream ends, so all but one are among its last writes.
    config = ServerConfig(
        host="127.0.0.1",
        port=0,
        db=tmp_path / "g.sqlite3",
        batch_interval_ms=600_000.0,
        batch_max_tokens=1000,
    )
    server, stores = await serve(config)
    try:
        async with Client(api_host=server.address) as sdk:
            conversation = sdk.grok.create_conversation()
            await conversation.ensure_created()
        seen = Seen()
        running = asyncio.create_task(stream(server.address, conversation.conversation_id, seen))
        try:
            await until(stores.changed, lambda: stores.entered == 1)  # its store is held
            # Every token reaches the caller while the reply waits to be stored.
            await until(seen.changed, lambda: seen.tokens == LAST_TOKENS)
            assert not running.done(), "the stored reply is not sent before it is stored"
        finally:
            stores.release.set()
        stored = await running
        assert seen.tokens == LAST_TOKENS and stored == "".join(seen.pieces)
    finally:
        await server.stop()
