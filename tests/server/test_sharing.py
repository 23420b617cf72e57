"""Sharing between users, RPC by RPC, on both stores (a real server, real keys).

Alice owns a conversation and shares it with Bob as a reader, then as a writer; Carol is a
stranger. A reader reads, searches and keeps a place of their own but writes nothing
(PERMISSION_DENIED, nothing stored); a writer adds responses (recorded as theirs) but
cannot rename, delete, title, link or share; a stranger gets NOT_FOUND for everything,
search hits included; revocation works on the next call; deleting the conversation
deletes its shares; a share link resolves for a reader and not for a stranger.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2

from grove_explorer.client import Client
from grove_explorer.protos import chat_pb2
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.keys import create_key
from grove_explorer.server.runtime import GroveServer
from tests import both_stores
from tests.helpers import TEAM_KEYS

server_config = both_stores.server_config
make_server = both_stores.make_server

EMPTY = empty_pb2.Empty()
READER, WRITER = chat_pb2.SHARE_ROLE_READER, chat_pb2.SHARE_ROLE_WRITER


@dataclass
class Team:
    server: GroveServer
    alice: Any  # raw stubs with each user's key
    bob: Any
    carol: Any
    cid: str
    human: str
    model: str


async def _refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        if hasattr(call, "__aiter__"):
            async for _ in call:
                pass
        else:
            await call
    return info.value


async def _ask(stub: Any, message: str, cid: str, parent: str = "", **fields: Any) -> list[Any]:
    request = chat_pb2.AddResponseRequest(
        conversation_id=cid, message=message, parent_response_id=parent, **fields
    )
    request.sampling_params.max_tokens = 3
    return [m async for m in stub.AddResponse(request)]


async def _snapshot(team: Team) -> bytes:
    got = await team.alice.GetConversation(
        chat_pb2.GetConversationRequest(conversation_id=team.cid)
    )
    return bytes(got.SerializeToString(deterministic=True))


@pytest.fixture
async def team(make_server: Callable[..., GroveServer]) -> AsyncIterator[Team]:
    running = make_server(api_keys=TEAM_KEYS)
    await running.start()
    clients = [
        Client(api_host=running.address, api_key=f"key-{n}") for n in ("alice", "bob", "carol")
    ]
    alice, bob, carol = (c.stub for c in clients)
    try:
        created = await alice.CreateConversation(chat_pb2.CreateConversationRequest())
        cid = created.conversation_id
        await alice.UpdateConversation(
            chat_pb2.UpdateConversationRequest(conversation_id=cid, title="Quince orchard")
        )
        streamed = await _ask(alice, "how do quinces grow", cid)
        human = streamed[0].user_response.response_id
        model = streamed[-1].model_response.response_id
        await alice.AnnotateResponse(
            chat_pb2.AnnotateResponseRequest(
                conversation_id=cid,
                response_id=model,
                annotation=chat_pb2.Annotation(tags=["pomology"], note="ask the grower"),
            )
        )
        await alice.SelectResponse(
            chat_pb2.SelectResponseRequest(conversation_id=cid, response_id=human)
        )
        yield Team(running, alice, bob, carol, cid, human, model)
    finally:
        for client in clients:
            await client.close()
        await running.stop()


async def _grant(team: Team, user: str, role: int) -> chat_pb2.AccessGrant:
    return await team.alice.GrantAccess(
        chat_pb2.GrantAccessRequest(conversation_id=team.cid, user_id=user, role=role)
    )


async def test_a_reader_reads_searches_and_keeps_a_place_but_writes_nothing(team: Team) -> None:
    grant = await _grant(team, "bob", READER)
    assert (grant.user_id, grant.role, grant.granted_by) == ("bob", READER, "alice")
    cid = team.cid
    seen = await team.bob.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    assert (seen.owner_user_id, seen.role, seen.title) == ("alice", READER, "Quince orchard")
    assert [r.response_id for r in seen.responses] == [team.human, team.model]
    assert not seen.HasField("leaf_response_id"), "Alice's place is not Bob's"
    listing = await team.bob.ListConversations(EMPTY)
    assert [(c.conversation_id, c.owner_user_id, c.role) for c in listing.conversations] == [
        (cid, "alice", READER)
    ]
    own = await team.alice.ListConversations(EMPTY)
    assert [(c.owner_user_id, c.role) for c in own.conversations] == [
        ("alice", chat_pb2.SHARE_ROLE_OWNER)
    ]

    found = await team.bob.Search(chat_pb2.SearchRequest(query="quinces", limit=10))
    assert {h.conversation_id for h in found.hits} == {cid} and found.total == 1
    tagged = await team.bob.Search(chat_pb2.SearchRequest(query="tag:pomology", limit=10))
    assert [h.response.annotation.note for h in tagged.hits] == ["ask the grower"]
    tokens = await team.bob.GetResponseTokens(
        chat_pb2.GetResponseTokensRequest(conversation_id=cid, response_id=team.model)
    )
    assert len(tokens.tokens) == 3
    many = await team.bob.GetResponsesTokens(
        chat_pb2.GetResponsesTokensRequest(conversation_id=cid, response_ids=[team.model])
    )
    assert len(many.responses[0].tokens) == 3
    await team.bob.ListVotes(chat_pb2.ListVotesRequest(conversation_id=cid))

    # Bob's own place, which leaves Alice's where it was.
    await team.bob.SelectResponse(
        chat_pb2.SelectResponseRequest(conversation_id=cid, response_id=team.model)
    )
    again = await team.bob.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    assert again.leaf_response_id == team.model
    before = await _snapshot(team)
    hers = chat_pb2.Conversation.FromString(before)
    assert hers.leaf_response_id == team.human

    attempts = [
        _ask(team.bob, "let me add", cid, team.model),
        _ask(team.bob, "", cid, team.human),
        team.bob.AddModelResponse(
            chat_pb2.AddModelResponseRequest(conversation_id=cid, message="forged")
        ),
        team.bob.AnnotateResponse(
            chat_pb2.AnnotateResponseRequest(
                conversation_id=cid, response_id=team.model, annotation=chat_pb2.Annotation()
            )
        ),
        team.bob.JudgeResponses(
            chat_pb2.JudgeResponsesRequest(conversation_id=cid, response_ids=[team.model])
        ),
        team.bob.ExtractPoints(
            chat_pb2.ExtractPointsRequest(conversation_id=cid, response_ids=[team.model])
        ),
        team.bob.RecordVote(chat_pb2.RecordVoteRequest(conversation_id=cid)),
    ]
    for attempt in attempts:
        error = await _refused(attempt)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
        assert error.details() == (
            "alice shares this conversation with you as a reader; ask them for writer access."
        )
    for owner_call in _owner_calls(team.bob, team):
        error = await _refused(owner_call)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
        assert error.details().startswith("Only alice, who owns this conversation, can ")
        assert error.details().endswith("; it is shared with you as a reader.")
    assert await _snapshot(team) == before, "nothing the reader tried was stored"


def _owner_calls(stub: Any, team: Team) -> list[Any]:
    cid = team.cid
    return [
        stub.UpdateConversation(
            chat_pb2.UpdateConversationRequest(conversation_id=cid, title="mine now")
        ),
        stub.DeleteConversation(chat_pb2.DeleteConversationRequest(conversation_id=cid)),
        stub.GenerateTitle(chat_pb2.GenerateTitleRequest(conversation_id=cid)),
        stub.ShareConversation(
            chat_pb2.ShareConversationRequest(conversation_id=cid, response_id=team.model)
        ),
        stub.GrantAccess(
            chat_pb2.GrantAccessRequest(conversation_id=cid, user_id="carol", role=READER)
        ),
        stub.RevokeAccess(chat_pb2.RevokeAccessRequest(conversation_id=cid, user_id="bob")),
        stub.ListAccess(chat_pb2.ListAccessRequest(conversation_id=cid)),
    ]


async def test_a_writer_adds_responses_as_themselves_but_cannot_do_the_owners_part(
    team: Team,
) -> None:
    await _grant(team, "bob", WRITER)
    cid = team.cid
    streamed = await _ask(team.bob, "and pears?", cid, team.model, select_reply=True)
    human, reply = streamed[0].user_response, streamed[-1].model_response
    assert (human.author_user_id, reply.author_user_id) == ("bob", "bob")
    manual = await team.bob.AddModelResponse(
        chat_pb2.AddModelResponseRequest(
            conversation_id=cid, message="pears too", parent_response_id=human.response_id
        )
    )
    assert manual.author_user_id == "bob"
    await team.bob.AnnotateResponse(
        chat_pb2.AnnotateResponseRequest(
            conversation_id=cid,
            response_id=reply.response_id,
            annotation=chat_pb2.Annotation(bookmarked=True),
        )
    )
    hers = chat_pb2.Conversation.FromString(await _snapshot(team))
    assert [(r.response_id, r.author_user_id) for r in hers.responses] == [
        (team.human, ""),
        (team.model, ""),
        (human.response_id, "bob"),
        (reply.response_id, "bob"),
        (manual.response_id, "bob"),
    ]
    assert hers.responses[3].annotation.bookmarked
    assert hers.leaf_response_id == team.human, "Bob's select_reply moved only Bob's place"
    his = await team.bob.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    assert (his.role, his.leaf_response_id) == (WRITER, reply.response_id)

    before = await _snapshot(team)
    for owner_call in _owner_calls(team.bob, team):
        error = await _refused(owner_call)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
        assert error.details().endswith("; it is shared with you as a writer.")
    assert await _snapshot(team) == before
    listed = await team.alice.ListAccess(chat_pb2.ListAccessRequest(conversation_id=cid))
    assert [(g.user_id, g.role) for g in listed.grants] == [("bob", WRITER)]


async def test_a_stranger_gets_not_found_for_everything(team: Team) -> None:
    await _grant(team, "bob", WRITER)
    cid = team.cid
    missing = f"Conversation {cid!r} does not exist (or was deleted)."
    for call in [
        team.carol.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid)),
        _ask(team.carol, "hello", cid),
        team.carol.SelectResponse(
            chat_pb2.SelectResponseRequest(conversation_id=cid, response_id=team.model)
        ),
        *_owner_calls(team.carol, team),
    ]:
        error = await _refused(call)
        assert (error.code(), error.details()) == (grpc.StatusCode.NOT_FOUND, missing)
    found = await team.carol.Search(chat_pb2.SearchRequest(query="quinces", limit=10))
    assert (list(found.hits), found.total) == ([], 0)
    assert list((await team.carol.ListConversations(EMPTY)).conversations) == []


async def test_revocation_takes_effect_on_the_next_call(team: Team) -> None:
    await _grant(team, "bob", WRITER)
    cid = team.cid
    request = chat_pb2.GetConversationRequest(conversation_id=cid)
    assert (await team.bob.GetConversation(request)).role == WRITER
    await _grant(team, "bob", READER)  # granting again changes the role
    assert (await team.bob.GetConversation(request)).role == READER
    revoked = await team.alice.RevokeAccess(
        chat_pb2.RevokeAccessRequest(conversation_id=cid, user_id="bob")
    )
    assert revoked.revoked
    error = await _refused(team.bob.GetConversation(request))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    found = await team.bob.Search(chat_pb2.SearchRequest(query="quinces", limit=10))
    assert found.total == 0
    again = await team.alice.RevokeAccess(
        chat_pb2.RevokeAccessRequest(conversation_id=cid, user_id="bob")
    )
    assert not again.revoked


async def test_deleting_the_conversation_deletes_its_shares(team: Team) -> None:
    await _grant(team, "bob", READER)
    await team.alice.DeleteConversation(
        chat_pb2.DeleteConversationRequest(conversation_id=team.cid)
    )
    assert list((await team.bob.ListConversations(EMPTY)).conversations) == []
    error = await _refused(
        team.alice.ListAccess(chat_pb2.ListAccessRequest(conversation_id=team.cid))
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert await team.server.store.access("bob", team.cid) is None


async def test_a_share_link_resolves_for_a_reader_and_not_for_a_stranger(team: Team) -> None:
    shared = await team.alice.ShareConversation(
        chat_pb2.ShareConversationRequest(conversation_id=team.cid, response_id=team.model)
    )
    link = shared.share_url
    assert link == f"{team.server.config.share_base_url}/{team.model}"
    request = chat_pb2.ResolveShareLinkRequest(link=link)
    error = await _refused(team.bob.ResolveShareLink(request))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        "No conversation you can read is named by that link.",
    )
    await _grant(team, "bob", READER)
    resolved = await team.bob.ResolveShareLink(request)
    assert (resolved.conversation_id, resolved.response_id) == (team.cid, team.model)
    by_id = await team.bob.ResolveShareLink(
        chat_pb2.ResolveShareLinkRequest(link=f"https://grove.example/c/{team.cid}")
    )
    assert (by_id.conversation_id, by_id.response_id) == (team.cid, "")
    mine = await team.alice.ResolveShareLink(request)
    assert mine.conversation_id == team.cid
    error = await _refused(team.carol.ResolveShareLink(request))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    bad = await _refused(
        team.bob.ResolveShareLink(chat_pb2.ResolveShareLinkRequest(link="grove://share/oops"))
    )
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a share link" in (bad.details() or "")


async def test_grants_to_oneself_unknown_users_or_no_role_are_refused(team: Team) -> None:
    cases = [
        ("alice", READER, "owns this conversation already"),
        ("bbo", READER, "No user 'bbo' holds a key on this server"),
        ("bob", chat_pb2.SHARE_ROLE_OWNER, "role is required"),
        ("bob", chat_pb2.SHARE_ROLE_UNSPECIFIED, "role is required"),
        ("", READER, "user_id is required"),
    ]
    for user, role, words in cases:
        error = await _refused(_grant(team, user, role))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert words in (error.details() or ""), error.details()
    listed = await team.alice.ListAccess(chat_pb2.ListAccessRequest(conversation_id=team.cid))
    assert list(listed.grants) == []


async def test_stored_keys_a_writers_stream_and_its_owners_delete(tmp_path: Any) -> None:
    """Keys kept in the store (AddResponse reads key and owner in one read) and deletion
    of a conversation while its writer samples in it: the writer's stream ends too."""
    db = tmp_path / "keys.sqlite3"
    alice_key = (await create_key(db, "alice")).key
    bob_key = (await create_key(db, "bob")).key
    running = GroveServer(ServerConfig(host="127.0.0.1", port=0, db=db, token_delay_ms=20.0))
    await running.start()
    try:
        async with (
            Client(api_host=running.address, api_key=alice_key) as alice,
            Client(api_host=running.address, api_key=bob_key) as bob,
        ):
            created = await alice.stub.CreateConversation(chat_pb2.CreateConversationRequest())
            cid = created.conversation_id
            await alice.stub.GrantAccess(
                chat_pb2.GrantAccessRequest(conversation_id=cid, user_id="bob", role=WRITER)
            )
            request = chat_pb2.AddResponseRequest(conversation_id=cid, message="a long one")
            request.sampling_params.max_tokens = 500
            stream = bob.stub.AddResponse(request)
            first = await anext(aiter(stream))
            assert first.user_response.author_user_id == "bob"
            await alice.stub.DeleteConversation(
                chat_pb2.DeleteConversationRequest(conversation_id=cid)
            )
            # As an owner's own stream: it ends, NOT_FOUND (nothing left to store it in).
            error = await _refused(stream)
            assert error.code() == grpc.StatusCode.NOT_FOUND
            assert all(s.conversation_id != cid for s in running.servicer.streams.active)
    finally:
        await running.stop()


async def test_a_reader_watches_until_revoked_and_a_stranger_cannot(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grove_explorer.server.servicer import watching

    monkeypatch.setattr(watching, "ACCESS_RECHECK_SECONDS", 0.0)  # re-check at every event
    request = chat_pb2.WatchConversationRequest(conversation_id=team.cid)
    stranger = await _refused(team.carol.WatchConversation(request))
    assert stranger.code() == grpc.StatusCode.NOT_FOUND
    await _grant(team, "bob", READER)
    watch = team.bob.WatchConversation(request)
    first = await watch.read()
    assert first.started.watcher == "bob" and first.started.response_count == 2
    await _ask(team.alice, "and medlars?", team.cid, parent=team.model)
    while True:  # the owner's new message reaches the reader's watch, marked as hers
        event = await watch.read()
        if event.HasField("response_added"):
            assert (event.actor, event.response_added.response.message) == (
                "alice",
                "and medlars?",
            )
            break
    await team.alice.RevokeAccess(
        chat_pb2.RevokeAccessRequest(conversation_id=team.cid, user_id="bob")
    )
    await team.alice.UpdateConversation(
        chat_pb2.UpdateConversationRequest(conversation_id=team.cid, title="Medlars")
    )
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        while True:
            event = await watch.read()
            assert not event.HasField("conversation_changed"), "revoked: no more changes"
    assert ended.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_deletion_reaches_a_watch_that_re_checks_its_access(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deletion event itself, not NOT_FOUND from the re-check it would fail."""
    from grove_explorer.server.servicer import watching

    monkeypatch.setattr(watching, "ACCESS_RECHECK_SECONDS", 0.0)  # re-check at every event
    await _grant(team, "bob", READER)
    request = chat_pb2.WatchConversationRequest(conversation_id=team.cid)
    for stub in (team.alice, team.bob):
        watch = stub.WatchConversation(request)
        assert (await watch.read()).HasField("started")
        if stub is team.alice:
            hers = watch
        else:
            his = watch
    await team.alice.DeleteConversation(
        chat_pb2.DeleteConversationRequest(conversation_id=team.cid)
    )
    for watch in (hers, his):
        while True:
            event = await watch.read()
            if event.HasField("conversation_deleted"):
                assert event.actor == "alice"
                break
