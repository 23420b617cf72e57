"""A writer's votes, judgements and annotations are the writer's, on both stores.

Alice owns a conversation and shares it with Bob as a writer and with Carol as a reader.
Bob's arena vote counts in Bob's leaderboard (ListVotes, all and of the conversation),
never in Alice's; Bob's judgement and annotation show to all three with the conversation;
Alice finds Bob's tag in search (a tag row records who set it, search scopes by the
conversation's owner); revoking Bob takes his vote out of his leaderboard and the
conversation out of his search.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from google.protobuf import empty_pb2

from grove_explorer.client import Client
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer
from tests import both_stores
from tests.helpers import TEAM_KEYS

server_config = both_stores.server_config
make_server = both_stores.make_server

EMPTY = empty_pb2.Empty()
READER, WRITER = chat_pb2.SHARE_ROLE_READER, chat_pb2.SHARE_ROLE_WRITER
OFFLINE = "grove-offline-ngram"


@dataclass
class Shared:
    alice: Any  # raw stubs with each user's key
    bob: Any
    carol: Any
    cid: str
    parent: str
    replies: tuple[str, str]


async def _reply(stub: Any, cid: str, parent: str, seed: int) -> str:
    request = chat_pb2.AddResponseRequest(conversation_id=cid, parent_response_id=parent)
    request.sampling_params.max_tokens = 3
    request.sampling_params.seed = seed
    streamed = [m async for m in stub.AddResponse(request)]
    return str(streamed[-1].model_response.response_id)


@pytest.fixture
async def shared(make_server: Callable[..., GroveServer]) -> AsyncIterator[Shared]:
    running = make_server(api_keys=TEAM_KEYS)
    await running.start()
    clients = [
        Client(api_host=running.address, api_key=f"key-{n}") for n in ("alice", "bob", "carol")
    ]
    alice, bob, carol = (c.stub for c in clients)
    try:
        cid = (await alice.CreateConversation(chat_pb2.CreateConversationRequest())).conversation_id
        human = await alice.AddModelResponse(  # a root the replies answer
            chat_pb2.AddModelResponseRequest(conversation_id=cid, message="name a fruit")
        )
        first = await _reply(alice, cid, human.response_id, 1)
        second = await _reply(alice, cid, human.response_id, 2)
        for user, role in (("bob", WRITER), ("carol", READER)):
            await alice.GrantAccess(
                chat_pb2.GrantAccessRequest(conversation_id=cid, user_id=user, role=role)
            )
        yield Shared(alice, bob, carol, cid, human.response_id, (first, second))
    finally:
        for client in clients:
            await client.close()
        await running.stop()


def _vote(shared: Shared, outcome: int) -> chat_pb2.RecordVoteRequest:
    return chat_pb2.RecordVoteRequest(
        conversation_id=shared.cid,
        parent_response_id=shared.parent,
        response_a=shared.replies[0],
        response_b=shared.replies[1],
        setup_a=chat_pb2.ArenaSetup(model_name=OFFLINE, label="one"),
        setup_b=chat_pb2.ArenaSetup(model_name=OFFLINE, label="two"),
        outcome=outcome,  # type: ignore[arg-type]
    )


async def _votes(stub: Any, cid: str = "") -> list[tuple[str, int]]:
    listed = await stub.ListVotes(chat_pb2.ListVotesRequest(conversation_id=cid))
    return [(v.vote_id, v.outcome) for v in listed.votes]


async def test_a_writers_vote_counts_in_the_writers_leaderboard_not_the_owners(
    shared: Shared,
) -> None:
    hers = await shared.alice.RecordVote(_vote(shared, chat_pb2.ARENA_OUTCOME_A))
    his = await shared.bob.RecordVote(_vote(shared, chat_pb2.ARENA_OUTCOME_B))
    assert await _votes(shared.alice) == [(hers.vote_id, chat_pb2.ARENA_OUTCOME_A)]
    assert await _votes(shared.alice, shared.cid) == [(hers.vote_id, chat_pb2.ARENA_OUTCOME_A)]
    assert await _votes(shared.bob) == [(his.vote_id, chat_pb2.ARENA_OUTCOME_B)]
    assert await _votes(shared.bob, shared.cid) == [(his.vote_id, chat_pb2.ARENA_OUTCOME_B)]
    assert await _votes(shared.carol, shared.cid) == [], "a reader cast none"

    await shared.alice.RevokeAccess(
        chat_pb2.RevokeAccessRequest(conversation_id=shared.cid, user_id="bob")
    )
    assert await _votes(shared.bob) == [], "a revoked share takes its votes with it"
    assert await _votes(shared.alice) == [(hers.vote_id, chat_pb2.ARENA_OUTCOME_A)]


async def test_a_writers_judgement_and_annotation_show_to_everyone_it_is_shared_with(
    shared: Shared,
) -> None:
    judged = await shared.bob.JudgeResponses(
        chat_pb2.JudgeResponsesRequest(
            conversation_id=shared.cid, response_ids=list(shared.replies), model_name=OFFLINE
        )
    )
    assert len(judged.judgements) == 2
    await shared.bob.AnnotateResponse(
        chat_pb2.AnnotateResponseRequest(
            conversation_id=shared.cid,
            response_id=shared.replies[0],
            annotation=chat_pb2.Annotation(tags=["zebrawood"], note="bob liked it"),
        )
    )
    await shared.alice.JudgeResponses(
        chat_pb2.JudgeResponsesRequest(
            conversation_id=shared.cid, response_ids=[shared.replies[1]], model_name=OFFLINE
        )
    )
    request = chat_pb2.GetConversationRequest(conversation_id=shared.cid)
    for name, stub in (("alice", shared.alice), ("bob", shared.bob), ("carol", shared.carol)):
        got = await stub.GetConversation(request)
        assert got.caller_user_id == name, 'who the caller is, for the client\'s "You"'
        by_id = {r.response_id: r for r in got.responses}
        first, second = (by_id[rid] for rid in shared.replies)
        assert (len(first.judgements), len(second.judgements)) == (1, 2)
        assert list(first.annotation.tags) == ["zebrawood"]
        assert first.annotation.note == "bob liked it"

    for stub in (shared.alice, shared.bob, shared.carol):
        found = await stub.Search(chat_pb2.SearchRequest(query="zebrawood", limit=10))
        assert [(h.field, h.response.response_id) for h in found.hits] == [
            ("tag", shared.replies[0])
        ], "the owner and each user it is shared with find a writer's tag"
        assert found.total == 1

    await shared.alice.RevokeAccess(
        chat_pb2.RevokeAccessRequest(conversation_id=shared.cid, user_id="bob")
    )
    gone = await shared.bob.Search(chat_pb2.SearchRequest(query="zebrawood", limit=10))
    assert (list(gone.hits), gone.total) == ([], 0), "his own tag, but no longer his to read"
    still = await shared.alice.Search(chat_pb2.SearchRequest(query="liked", limit=10))
    assert [h.field for h in still.hits] == ["note"]
