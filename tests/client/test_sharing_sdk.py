"""Sharing between users through the SDK, on both stores (a real server, real keys).

`Conversation.share_with / unshare / access_list`, `owner_user_id`, `role`,
`Response.author_user_id`, a share URL given to `get_conversation`, and the typed
`ReadOnlyShareError` / `NotOwnerError` (both `AccessDeniedError`s).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from grove_explorer.client import (
    AccessDeniedError,
    Client,
    InvalidArgumentError,
    NotFoundError,
    NotOwnerError,
    PermissionDeniedError,
    ReadOnlyShareError,
)
from grove_explorer.server.runtime import GroveServer
from tests import both_stores
from tests.helpers import TEAM_KEYS, collect

server_config = both_stores.server_config
make_server = both_stores.make_server

Clients = tuple[Client, Client, Client]


@pytest.fixture
async def clients(make_server: Callable[..., GroveServer]) -> AsyncIterator[Clients]:
    running = make_server(api_keys=TEAM_KEYS)
    await running.start()
    made = tuple(
        Client(api_host=running.address, api_key=f"key-{name}")
        for name in ("alice", "bob", "carol")
    )
    try:
        yield made  # type: ignore[misc]
    finally:
        for client in made:
            await client.close()
        await running.stop()


async def test_share_read_write_and_revoke_through_the_sdk(clients: Clients) -> None:
    alice, bob, carol = clients
    mine = alice.grok.create_conversation()
    stream, future = mine.add_response("How deep do quince roots go?")
    await collect(stream)
    reply = await future
    url = await reply.share()
    await mine.load()
    assert (mine.owner_user_id, mine.role, mine.read_only) == ("alice", "owner", False)

    with pytest.raises(NotFoundError):
        await bob.grok.get_conversation(url)
    grant = await mine.share_with("bob")
    assert (grant.user_id, grant.role, grant.granted_by) == ("bob", "reader", "alice")

    shared = await bob.grok.get_conversation(url)
    assert shared.conversation_id == mine.conversation_id
    assert (shared.owner_user_id, shared.role, shared.read_only) == ("alice", "reader", True)
    assert [r.message for r in shared.responses] == [r.message for r in mine.responses]
    listed = await bob.grok.list_conversations()
    assert [c.conversation_id for c in listed] == [mine.conversation_id]

    stream, future = shared.add_response("and pear roots?")
    with pytest.raises(ReadOnlyShareError) as refused:
        await collect(stream)
    assert refused.value.owner_user_id == "alice"
    assert "alice shares this conversation with you as a reader" in refused.value.message
    assert isinstance(refused.value, AccessDeniedError)
    assert isinstance(refused.value, PermissionDeniedError)
    with pytest.raises(ReadOnlyShareError):
        await future
    with pytest.raises(NotOwnerError, match="Only alice, who owns this conversation"):
        await shared.set_title("Bob's now")
    with pytest.raises(NotOwnerError):
        await shared.share_with("carol")

    await mine.share_with("bob", "writer")
    await shared.load()
    assert shared.role == "writer"
    stream, future = shared.add_response("and pear roots?")
    await collect(stream)
    bobs = await future
    assert bobs.author_user_id == "bob"
    await mine.load()
    authors = [(r.sender, r.author_user_id) for r in mine.responses]
    assert authors == [("human", ""), ("model", ""), ("human", "bob"), ("model", "bob")]
    with pytest.raises(NotOwnerError, match="shared with you as a writer"):
        await shared.delete()

    assert [(g.user_id, g.role) for g in await mine.access_list()] == [("bob", "writer")]
    with pytest.raises(NotFoundError):
        await carol.grok.get_conversation(url)
    with pytest.raises(InvalidArgumentError, match="owns this conversation already"):
        await mine.share_with("alice")
    with pytest.raises(InvalidArgumentError, match="share as 'reader' or 'writer'"):
        await mine.share_with("carol", "owner")

    assert await mine.unshare("bob")
    assert not await mine.unshare("bob")
    with pytest.raises(NotFoundError):
        await shared.load()
    assert await mine.access_list() == []
