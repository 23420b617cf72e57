"""The service follows the open conversation: changes made elsewhere join its forest."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from grove_explorer.client import Client
from grove_explorer.client.errors import ServerUnavailableError
from grove_explorer.client.events import (
    DeletedElsewhere,
    ReplyElsewhereEnded,
    ReplyElsewhereStarted,
    ReplyElsewhereText,
    ResponseAdded,
    WatchReconnecting,
    WatchStopped,
)
from grove_explorer.client.service import ConversationService
from grove_explorer.client.service.watching import ELSEWHERE_PREFIX
from grove_explorer.server.runtime import GroveServer
from tests.helpers import Recorder, collect


async def test_a_reply_sampled_elsewhere_streams_into_the_forest_marked(
    server: GroveServer, client: Client
) -> None:
    service = ConversationService(client)
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    mine = await service.send(cid, "What lives under bark?", None)
    assert mine is not None
    place = forest.leaf_id
    service.follow(cid)
    assert await service.follow_started()
    events = Recorder(service)

    async with Client(api_host=server.address) as other:
        theirs = await other.grok.get_conversation(cid)
        stream = theirs.sample(parent_response_id=mine.parent_id, select=False)
        _ = [event async for event in stream]
        reply = await stream.future
        added, future = theirs.get_response(reply.response_id).replace("A hand-written one.")
        await collect(added)
        manual = await future
    # The manual response is the last change: once it is here, so is everything before.
    await events.until(lambda seen: any(isinstance(e, ResponseAdded) for e in seen))

    (started,) = [e for e in events if isinstance(e, ReplyElsewhereStarted)]
    assert started.node.response_id.startswith(ELSEWHERE_PREFIX)
    assert started.node.made_by == "", "the same user in another session"
    assert started.node.parent_id == mine.parent_id
    texts = [e.text for e in events if isinstance(e, ReplyElsewhereText)]
    assert "".join(texts) == reply.message
    (ended,) = [e for e in events if isinstance(e, ReplyElsewhereEnded)]
    assert ended.node is not None and ended.node.response_id == reply.response_id
    assert forest.responses[reply.response_id].made_by == ""
    assert not any(r.startswith(ELSEWHERE_PREFIX) for r in forest.responses)
    assert forest.responses[manual.response_id].manual
    assert forest.leaf_id == place, "nothing elsewhere moves the user's place"
    assert forest.sibling_index(reply.response_id) == (2, 3)
    service.stop_following()


async def test_own_replies_are_not_shown_twice(client: Client) -> None:
    service = ConversationService(client)
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    await service.send(cid, "First.", None)
    service.follow(cid)
    assert await service.follow_started()
    events = Recorder(service)
    reply = await service.send(cid, "Second.", forest.leaf_id)
    assert reply is not None
    await service.annotate(cid, reply.response_id, tags=["mine"])
    await service.set_title(cid, "Mine")
    # Another client's change after them: once the watch brings it, it brought ours.
    async with Client(api_host=client.api_host) as other:
        await (await other.grok.get_conversation(cid)).star()
    await events.until(lambda seen: bool(forest.conversation.starred))
    assert not [
        e for e in events if type(e).__name__.startswith(("ReplyElsewhere", "DeletedElsewhere"))
    ]
    assert len(forest.responses) == 4
    service.stop_following()


async def test_deleted_elsewhere_is_announced_and_forgotten(
    server: GroveServer, client: Client
) -> None:
    service = ConversationService(client)
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    await service.send(cid, "Soon gone.", None)
    service.follow(cid)
    assert await service.follow_started()
    events = Recorder(service)
    async with Client(api_host=server.address) as other:
        await (await other.grok.get_conversation(cid)).delete()
    await events.until(bool)
    assert events == [DeletedElsewhere(cid, "")]
    assert service.following is None


async def test_what_was_stored_before_the_watch_began_is_caught_up(
    server: GroveServer, client: Client
) -> None:
    service = ConversationService(client)
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    mine = await service.send(cid, "Loaded before the others wrote.", None)
    assert mine is not None
    # Stored after this forest was loaded and before it is followed: no event tells it.
    async with Client(api_host=server.address) as other:
        theirs = await other.grok.get_conversation(cid)
        stream, future = theirs.add_response("Meanwhile, elsewhere.")
        await collect(stream)
        reply = await future
    assert reply.response_id not in forest.responses
    service.follow(cid)
    assert await service.follow_started()
    assert reply.response_id in forest.responses
    assert reply.parent_response_id in forest.responses
    assert forest.leaf_id == mine.response_id
    service.stop_following()


async def test_annotations_and_titles_set_elsewhere_join_the_forest(
    server: GroveServer, client: Client
) -> None:
    service = ConversationService(client)
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    reply = await service.send(cid, "Annotate me elsewhere.", None)
    assert reply is not None
    service.follow(cid)
    assert await service.follow_started()
    events = Recorder(service)
    async with Client(api_host=server.address) as other:
        theirs = await other.grok.get_conversation(cid)
        await theirs.get_response(reply.response_id).annotate(tags=["lichen"], bookmarked=True)
        await theirs.set_title("Named elsewhere")
    await events.until(lambda seen: forest.conversation.title == "Named elsewhere")
    node = forest.responses[reply.response_id]
    assert node.annotation.tags == ("lichen",) and node.annotation.bookmarked
    assert [e.node.response_id for e in events if isinstance(e, ResponseAdded)] == [
        reply.response_id
    ]
    service.stop_following()


async def test_a_watch_lost_at_shutdown_says_why_drops_its_placeholders_and_retries(
    make_server: Callable[..., GroveServer],
) -> None:
    server = make_server(token_delay_ms=5.0, offline_min_reply_tokens=400)
    await server.start()
    client = Client(api_host=server.address)
    other = Client(api_host=server.address)
    try:
        service = ConversationService(client)
        forest = await service.new_conversation()
        cid = forest.conversation.conversation_id
        await service.send(cid, "Then the server goes.", None)
        service.follow(cid)
        assert await service.follow_started()
        events = Recorder(service)
        theirs = await other.grok.get_conversation(cid)
        stream = theirs.sample(parent_response_id=forest.leaf_id, select=False)
        reading = asyncio.create_task(_drain(stream))
        await events.until(lambda seen: any(isinstance(e, ReplyElsewhereText) for e in seen))
        await server.stop()
        await events.until(lambda seen: any(isinstance(e, WatchReconnecting) for e in seen))
        assert not any(isinstance(e, WatchStopped) for e in events), "lost, not stopped"
        lost = [e for e in events if isinstance(e, WatchReconnecting)]
        assert isinstance(lost[0].error, ServerUnavailableError)
        assert "shutting down" in str(lost[0].error)
        assert lost[0].attempt == 1 and lost[0].delay > 0
        # The reply was stored partial at shutdown: its end came first, then the stop.
        ended = [e for e in events if isinstance(e, ReplyElsewhereEnded)]
        assert ended and ended[0].node is not None and ended[0].node.partial
        assert not any(r.startswith(ELSEWHERE_PREFIX) for r in forest.responses)
        await asyncio.gather(reading, return_exceptions=True)
        assert service.following == cid, "tried again until the conversation is closed"
        service.stop_following()
        assert service.following is None
    finally:
        await other.close()
        await client.close()
        await server.stop()


async def _drain(stream: object) -> None:
    async for _ in stream:  # type: ignore[attr-defined]
        pass


def test_the_rewatch_delay_doubles_with_jitter_up_to_a_cap() -> None:
    from grove_explorer.client.service.watching import (
        REWATCH_FIRST_DELAY,
        REWATCH_MAX_DELAY,
        rewatch_delay,
    )

    for attempt in range(1, 40):
        step = min(REWATCH_MAX_DELAY, REWATCH_FIRST_DELAY * 2 ** (attempt - 1))
        assert step / 2 <= rewatch_delay(attempt) <= step
