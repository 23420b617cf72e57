"""A conversation's title and star keep the latest state, whatever order news comes in.

The watch's events are read on the server when they are sent. One read before this
client's own change was stored can reach the client after that change's answer; taking
it would undo the change (the snapshot tests met it under load: a starred conversation
went back to "Untitled", and the next star sent the empty title to the server).
"""

from __future__ import annotations

import asyncio
import datetime

import pytest

from grove_explorer.client import Client
from grove_explorer.client.conversation import Conversation
from grove_explorer.client.events import ConversationUpdated
from grove_explorer.client.service import ConversationService
from grove_explorer.client.watching import TitleChanged, WatchStarted
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.servicer import rpcs, watching
from grove_explorer.server.store import Store
from tests.helpers import Recorder, collect


async def test_an_event_read_before_our_own_change_does_not_undo_it(
    server: GroveServer, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ConversationService(client)
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    await service.send(cid, "Name me.", None)
    service.follow(cid)
    assert await service.follow_started()

    # The server reads the first title event's state, then is slow to send it.
    read, release = asyncio.Event(), asyncio.Event()
    complete = watching.completed

    async def read_then_held(
        store: Store, user: str, event: chat_pb2.ConversationEvent
    ) -> chat_pb2.ConversationEvent | None:
        wire = await complete(store, user, event)
        if event.HasField("conversation_changed") and not release.is_set():
            read.set()
            await release.wait()
        return wire

    monkeypatch.setattr(watching, "completed", read_then_held)
    events = Recorder(service)
    async with Client(api_host=server.address) as other:
        theirs = await other.grok.get_conversation(cid)
        await theirs.star()  # read for our watch as ("", starred), and held
        async with asyncio.timeout(30):
            await read.wait()
        await service.set_title(cid, "Mine")  # stored after that read, answered first
        release.set()
        await theirs.load()
        await theirs.set_title("Theirs")  # the last change: once here, all before are
        await events.until(lambda seen: forest.conversation.title == "Theirs")

    titles = [e.conversation.title for e in events if isinstance(e, ConversationUpdated)]
    assert titles == ["Mine", "Theirs"], "the held event's older state was not taken"
    service.stop_following()


async def test_a_watch_begun_after_a_change_it_never_heard_of_takes_it(
    server: GroveServer, client: Client
) -> None:
    service = ConversationService(client)
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    await service.send(cid, "Name me before you watch.", None)
    async with Client(api_host=server.address) as other:
        theirs = await other.grok.get_conversation(cid)
        await theirs.set_title("Named before the watch")
        await theirs.star()
    events = Recorder(service)
    service.follow(cid)  # no event tells of those changes: the watch's start does
    assert await service.follow_started()
    assert (forest.conversation.title, forest.conversation.starred) == (
        "Named before the watch",
        True,
    )
    assert [e.conversation.title for e in events if isinstance(e, ConversationUpdated)] == [
        "Named before the watch"
    ]
    service.stop_following()


async def test_answers_and_events_carry_the_time_their_state_was_read(client: Client) -> None:
    conversation = client.grok.create_conversation()
    await collect_reply(conversation)
    before = conversation.update_time
    assert before is not None
    await conversation.set_title("Set")
    after_set = conversation.update_time
    assert after_set is not None and after_set > before

    title = await conversation.generate_title()
    after_generated = conversation.update_time
    assert after_generated is not None and after_generated > after_set
    assert conversation.title == title

    # A state read before the one held is not taken; one read after it is.
    assert not conversation.changed_elsewhere("Stale", True, after_set)
    assert (conversation.title, conversation.starred) == (title, False)
    later = after_generated + datetime.timedelta(microseconds=1)
    assert conversation.changed_elsewhere("Newer", True, later)
    assert (conversation.title, conversation.starred) == ("Newer", True)
    assert conversation.update_time == later
    assert conversation.forest.conversation.title == "Newer"
    # Without a time (an older server) the state is taken, as before.
    assert conversation.changed_elsewhere("Untimed", False)
    assert conversation.title == "Untimed"


async def test_a_watch_event_says_when_its_title_and_star_were_read(client: Client) -> None:
    conversation = client.grok.create_conversation()
    await collect_reply(conversation)
    events = conversation.watch()
    try:
        begun = await anext(events)
        assert isinstance(begun, WatchStarted) and begun.marks is not None
        assert (begun.marks.title, begun.marks.starred) == (conversation.title, False)
        created = conversation.update_time  # as created: the reply moved it on since
        assert begun.marks.update_time is not None and created is not None
        assert begun.marks.update_time > created
        await conversation.star()
        async with asyncio.timeout(30):
            changed = await anext(events)
        assert isinstance(changed, TitleChanged)
        assert changed.starred and changed.update_time == conversation.update_time
    finally:
        await events.aclose()  # type: ignore[attr-defined]


async def collect_reply(conversation: Conversation) -> None:
    """Stores a first exchange (the conversation is created on the server with it)."""
    stream, future = conversation.add_response("What makes a good title?")
    await collect(stream)
    await future


async def test_a_star_set_while_a_title_is_generated_is_kept(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = client.grok.create_conversation()
    await collect_reply(conversation)
    reading, release = asyncio.Event(), asyncio.Event()
    title_for = rpcs.title_for

    async def slow_title(*args: object, **kwargs: object) -> str:
        reading.set()  # the conversation (unstarred) was read before this
        await release.wait()
        return await title_for(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rpcs, "title_for", slow_title)
    titling = asyncio.ensure_future(conversation.generate_title())
    async with asyncio.timeout(30):
        await reading.wait()
    async with Client(api_host=client.api_host) as other:
        await (await other.grok.get_conversation(conversation.conversation_id)).star()
        release.set()
        title = await titling
        stored = await other.grok.get_conversation(conversation.conversation_id)
    assert (stored.title, stored.starred) == (title, True)
    # The answer says so: the star set elsewhere holds here too, not the one read before.
    assert (conversation.title, conversation.starred) == (title, True)


async def test_reopening_with_a_read_older_than_our_own_change_keeps_the_change(
    server: GroveServer, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload (`open` of a conversation already open: the app's first screen opens the
    newest one) read before this service titled and starred it, answered after: the new
    SDK object must not bring the old title back. The snapshot tests met it under load:
    the demo's starred conversation showed "★ Untitled" beside the help screen.
    """
    service = ConversationService(client)
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    await service.send(cid, "Name me.", None)

    read, release = hold_the_next_read(monkeypatch)
    reopening = asyncio.create_task(service.open(cid))
    async with asyncio.timeout(30):
        await read.wait()  # the reload read the untitled, unstarred conversation
    await service.set_title(cid, "Mine")
    await service.set_starred(cid, True)
    release.set()
    reopened = await reopening

    assert (reopened.conversation.title, reopened.conversation.starred) == ("Mine", True)
    summary = await service.set_starred(cid, False)  # built from the reopened SDK object
    assert (summary.title, summary.starred) == ("Mine", False)
    async with Client(api_host=server.address) as other:
        theirs = await other.grok.get_conversation(cid)
        assert (theirs.title, theirs.starred) == ("Mine", False)  # what the server stored
        await theirs.set_title("Theirs")
    # The other way round: a title set elsewhere after ours is what a reload shows.
    assert (await service.open(cid)).conversation.title == "Theirs"


async def test_a_load_read_before_our_own_change_keeps_the_change(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's own reload (`Conversation.load`) of the object it titles: the same race."""
    conversation = client.grok.create_conversation()
    await conversation.ensure_created()
    read, release = hold_the_next_read(monkeypatch)
    loading = asyncio.create_task(conversation.load())
    async with asyncio.timeout(30):
        await read.wait()  # the load read the untitled conversation
    await conversation.set_title("Mine")
    await conversation.star()
    release.set()
    await loading
    assert (conversation.title, conversation.starred) == ("Mine", True)
    assert (conversation.forest.conversation.title, conversation.forest.conversation.starred) == (
        "Mine",
        True,
    )


def hold_the_next_read(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """Holds the server's next conversation read after it is made: (read, release).

    The call that read waits for `release`, so its answer is older than anything this
    client changes meanwhile and arrives after those changes' answers.
    """
    read, release = asyncio.Event(), asyncio.Event()
    conversation_or_abort = rpcs.conversation_or_abort

    async def read_then_held(*args: object) -> object:
        record = await conversation_or_abort(*args)  # type: ignore[arg-type]
        if not read.is_set():
            read.set()
            await release.wait()
        return record

    monkeypatch.setattr(rpcs, "conversation_or_abort", read_then_held)
    return read, release
