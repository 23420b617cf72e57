"""A watch begun again after an outage that finds the open conversation gone closes it.

The server goes away; meanwhile another client (through a second server on the same
database) deletes the conversation or revokes the user's share. When the app's server is
back, its watch begun again is refused (NOT_FOUND): the app closes the conversation with
the notice of a deletion seen live — or, for a shared one, says the share was revoked —
instead of "Live updates stopped".
"""

from __future__ import annotations

from collections.abc import Callable

from grove_explorer.client import Client
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import TEAM_KEYS, alice_shares, explorer, send, settle, until

SIZE = (130, 40)


async def test_a_conversation_deleted_during_an_outage_is_closed_when_live_again(
    make_server: Callable[..., GroveServer],
) -> None:
    first = make_server()
    await first.start()
    port = int(first.address.rsplit(":", 1)[1])
    second: GroveServer | None = None
    try:
        async with explorer(first.address, size=SIZE) as (app, pilot, screen):
            await send(pilot, "Soon gone.")
            await settle(pilot)
            assert screen.forest is not None
            cid = screen.forest.conversation.conversation_id
            assert await screen.service.follow_started()

            await first.stop()  # the watch ends with UNAVAILABLE; the app tries again
            await until(pilot, lambda: screen.status.live == "reconnecting", "reconnecting")
            await _meanwhile(make_server, "", lambda other: _delete(other, cid))

            second = make_server(port=port)  # the app's address and database, back
            await second.start()
            await until(pilot, lambda: screen.conversation_id is None, "the conversation closed")
            await settle(pilot)
            notes = [(str(n.title), str(n.message)) for n in app._notifications]
            assert any(
                title == "Deleted elsewhere" and "was deleted elsewhere" in message
                for title, message in notes
            ), notes
            assert not any(title == "Live updates stopped" for title, _ in notes)
            assert screen.service.following is None
    finally:
        if second is not None:
            await second.stop()
        await first.stop()


async def test_a_share_revoked_during_an_outage_closes_it_saying_so(
    make_server: Callable[..., GroveServer],
) -> None:
    first = make_server(api_keys=TEAM_KEYS)
    await first.start()
    port = int(first.address.rsplit(":", 1)[1])
    second: GroveServer | None = None
    try:
        async with Client(api_host=first.address, api_key="key-alice") as alice:
            cid = (await alice_shares(alice, "reader", "Medlar notes")).conversation_id
        async with explorer(first.address, size=SIZE, api_key="key-bob") as (app, pilot, screen):
            await settle(pilot)
            assert screen.conversation_id == cid
            assert await screen.service.follow_started()

            await first.stop()
            await until(pilot, lambda: screen.status.live == "reconnecting", "reconnecting")
            await _meanwhile(make_server, "key-alice", lambda other: _unshare(other, cid))

            second = make_server(port=port, api_keys=TEAM_KEYS)
            await second.start()
            await until(pilot, lambda: screen.conversation_id is None, "the conversation closed")
            await settle(pilot)
            notes = [(str(n.title), str(n.message)) for n in app._notifications]
            assert any(
                title == "No longer shared"
                and "Medlar notes is no longer shared with you: alice revoked" in message
                for title, message in notes
            ), notes
            assert not any(title == "Live updates stopped" for title, _ in notes)
    finally:
        if second is not None:
            await second.stop()
        await first.stop()


async def _meanwhile(
    make_server: Callable[..., GroveServer], api_key: str, act: Callable[[Client], object]
) -> None:
    """Does `act` through another client, on a server of another port, same database."""
    side = make_server(api_keys=TEAM_KEYS) if api_key else make_server()
    await side.start()
    try:
        async with Client(api_host=side.address, api_key=api_key or None) as other:
            await act(other)  # type: ignore[misc]
    finally:
        await side.stop()


async def _delete(other: Client, cid: str) -> None:
    await (await other.grok.get_conversation(cid)).delete()


async def _unshare(other: Client, cid: str) -> None:
    assert await (await other.grok.get_conversation(cid)).unshare("bob")
