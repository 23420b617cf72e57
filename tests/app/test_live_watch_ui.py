"""Live shared trees in the explorer: what another client does shows while it is open."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest

from grove_explorer.app.elsewhere_marks import ELSEWHERE_MARK
from grove_explorer.client import Client
from grove_explorer.client.service.watching import ELSEWHERE_PREFIX
from grove_explorer.protos import chat_pb2
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.store import AnnotationRecord
from grove_explorer.server.store.sqlite import SqliteStore
from tests.app_helpers import explorer, send, settle, until

SIZE = (130, 40)


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    """Replies long and slow enough to be watched while they stream."""
    return replace(server_config, token_delay_ms=3.0, offline_min_reply_tokens=150)


async def test_a_reply_sampled_by_another_client_streams_in_the_open_conversation(
    server: GroveServer,
) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        await send(pilot, "What grows on old walls?")
        await settle(pilot)
        forest = screen.forest
        assert forest is not None
        cid = forest.conversation.conversation_id
        mine = forest.leaf_id
        assert mine is not None
        human = forest.responses[mine].parent_id
        assert screen.service.following == cid
        assert await screen.service.follow_started()

        async with Client(api_host=server.address) as other:
            theirs = await other.grok.get_conversation(cid)
            stream = theirs.sample(parent_response_id=human, select=False)
            sampled = asyncio.create_task(_drain(stream))
            await until(
                pilot,
                lambda: any(r.startswith(ELSEWHERE_PREFIX) for r in screen.forest.responses),
                "the reply sampled elsewhere in the forest",
            )
            (placeholder,) = [r for r in screen.forest.responses if r.startswith(ELSEWHERE_PREFIX)]
            assert screen.forest.leaf_id == mine, "the user's place did not move"
            # Not under the user's leaf: no notification, the forest shows it.
            assert not any("is sampling a reply" in str(n.message) for n in app._notifications)
            await until(
                pilot,
                lambda: screen.forest_pane.reveal(placeholder) is not None,
                "the forest pane showing it",
            )
            item = screen.forest_pane.reveal(placeholder)
            assert item is not None and item.data is not None
            assert ELSEWHERE_MARK in item.data.marks

            # The user goes to it: it streams in the thread's live reply.
            screen.service.select(cid, placeholder)
            await until(
                pilot,
                lambda: (
                    screen.thread.live_response_id == placeholder
                    and screen.thread.live_reply is not None
                    and len(screen.thread.live_text) > 0
                ),
                "the reply streaming in the thread",
            )
            live = screen.thread.live_reply
            assert live is not None and "⇄ another session" in live.header.plain
            reply_id = await sampled
        await until(
            pilot,
            lambda: reply_id in screen.forest.responses and screen.thread.live_response_id is None,
            "the stored reply in place of the live one",
        )
        await settle(pilot)
        node = screen.forest.responses[reply_id]
        assert node.made_by == "", "another session of the same user"
        assert screen.forest.leaf_id == reply_id, "the user stays on it as it is stored"
        assert [n.response_id for n in screen.forest.current_path] == [human, reply_id]
        assert mine in screen.forest.responses and len(screen.forest.children_of(human)) == 2


async def test_a_deletion_elsewhere_says_so_and_closes_the_conversation(
    server: GroveServer,
) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        await send(pilot, "Short-lived.")
        await settle(pilot)
        assert screen.forest is not None
        cid = screen.forest.conversation.conversation_id
        assert await screen.service.follow_started()
        async with Client(api_host=server.address) as other:
            await (await other.grok.get_conversation(cid)).delete()
        await until(pilot, lambda: screen.conversation_id is None, "the conversation closed")
        await settle(pilot)
        assert any(n.title == "Deleted elsewhere" for n in app._notifications)
        assert any("another session" in str(n.message) for n in app._notifications)


async def _drain(stream: object) -> str:
    async for _ in stream:  # type: ignore[attr-defined]
        pass
    return (await stream.future).response_id  # type: ignore[attr-defined]


async def test_a_watch_lost_to_a_server_restart_reconnects(
    make_server: Callable[..., GroveServer],
) -> None:
    first = make_server()
    await first.start()
    port = int(first.address.rsplit(":", 1)[1])
    second: GroveServer | None = None
    try:
        async with explorer(first.address, size=SIZE) as (app, pilot, screen):
            await send(pilot, "What grows on old walls?")
            await settle(pilot)
            forest = screen.forest
            assert forest is not None
            cid = forest.conversation.conversation_id
            assert screen.service.following == cid
            assert await screen.service.follow_started()

            await first.stop()  # the watch ends with UNAVAILABLE
            await until(pilot, lambda: screen.status.live == "reconnecting", "reconnecting")
            assert "live: reconnecting…" in screen.status.shown.plain
            assert screen.service.following == cid, "still following: it is tried again"

            # Meanwhile (no server runs) the title and a mark change in the database: no
            # event tells of them, so the watch begun again reads them.
            owner = forest.conversation.owner_user_id
            marked = forest.leaf_id
            assert marked is not None
            async with SqliteStore(first.config.db) as store:
                await store.update_conversation(owner, cid, "Wall plants", True)
                await store.annotate(owner, cid, marked, AnnotationRecord(tags=("moss",)))

            second = make_server(port=port)  # the same address and database
            await second.start()
            await until(pilot, lambda: screen.status.live == "again", "live again")
            assert "live again" in screen.status.shown.plain
            await until(pilot, lambda: screen.title == "Wall plants", "the title set meanwhile")
            node = screen.forest.responses[marked]
            assert node.annotation is not None and node.annotation.tags == ("moss",)
            assert not any("Live updates stopped" in str(n.title) for n in app._notifications)

            async with Client(api_host=second.address) as other:  # the watch works again
                added = await other.stub.AddModelResponse(
                    chat_pb2.AddModelResponseRequest(
                        conversation_id=cid,
                        message="seen after the restart",
                        parent_response_id=forest.leaf_id or "",
                    )
                )
            await until(
                pilot, lambda: added.response_id in screen.forest.responses, "a change after it"
            )

            await second.stop()  # lost again; closing the conversation ends the tries
            await until(pilot, lambda: screen.status.live == "reconnecting", "reconnecting")
            screen.service.stop_following()
            assert screen.service.following is None
    finally:
        if second is not None:
            await second.stop()
        await first.stop()
