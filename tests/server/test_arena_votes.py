"""RecordVote / ListVotes on a real server and SQLite file: stored, listed, cascaded."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import grpc
import pytest

from grove_explorer.client import Client
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer


async def _pair(client: Client) -> tuple[str, str, str, str]:
    """A conversation with a human turn and two model replies under it."""
    stub = client.stub
    cid = (await stub.CreateConversation(chat_pb2.CreateConversationRequest())).conversation_id
    request = chat_pb2.AddResponseRequest(conversation_id=cid, message="pick one")
    request.sampling_params.max_tokens = 3
    streamed = [m async for m in stub.AddResponse(request)]
    human = streamed[0].user_response.response_id
    first = streamed[-1].model_response.response_id
    again = chat_pb2.AddResponseRequest(conversation_id=cid, parent_response_id=human)
    again.sampling_params.max_tokens = 3
    again.sampling_params.temperature = 1.5
    second = [m async for m in stub.AddResponse(again)][-1].model_response.response_id
    return cid, human, first, second


def _vote(cid: str, parent: str, a: str, b: str, outcome: int) -> chat_pb2.RecordVoteRequest:
    request = chat_pb2.RecordVoteRequest(
        conversation_id=cid,
        parent_response_id=parent,
        response_a=a,
        response_b=b,
        setup_a=chat_pb2.ArenaSetup(model_name="grove-offline-ngram", label="cold"),
        setup_b=chat_pb2.ArenaSetup(model_name="grove-offline-ngram", system_prompt_name=""),
        outcome=outcome,  # type: ignore[arg-type]
    )
    request.setup_b.sampling_params.temperature = 1.5
    request.setup_b.sampling_params.seed = 7
    return request


async def test_a_vote_is_stored_and_listed_with_its_setups(
    server: GroveServer, client: Client
) -> None:
    cid, human, first, second = await _pair(client)
    stored = await client.stub.RecordVote(
        _vote(cid, human, second, first, chat_pb2.ARENA_OUTCOME_B)
    )
    assert len(stored.vote_id) == 32 and stored.create_time.seconds > 0
    assert (stored.response_a, stored.response_b) == (second, first)
    assert stored.outcome == chat_pb2.ARENA_OUTCOME_B
    assert stored.setup_a.label == "cold" and not stored.setup_a.HasField("system_prompt_name")
    assert stored.setup_b.HasField("system_prompt_name") and stored.setup_b.system_prompt_name == ""
    assert stored.setup_b.sampling_params.temperature == 1.5
    assert stored.setup_b.sampling_params.seed == 7
    assert not stored.setup_a.sampling_params.HasField("temperature"), "unset stays unset"
    tie = await client.stub.RecordVote(_vote(cid, human, first, second, chat_pb2.ARENA_OUTCOME_TIE))
    other, o_human, o_first, o_second = await _pair(client)
    await client.stub.RecordVote(
        _vote(other, o_human, o_first, o_second, chat_pb2.ARENA_OUTCOME_BOTH_BAD)
    )

    mine = await client.stub.ListVotes(chat_pb2.ListVotesRequest(conversation_id=cid))
    assert [v.vote_id for v in mine.votes] == [stored.vote_id, tie.vote_id], "oldest first"
    assert mine.votes[0] == stored
    everything = await client.stub.ListVotes(chat_pb2.ListVotesRequest())
    assert [v.outcome for v in everything.votes] == [
        chat_pb2.ARENA_OUTCOME_B,
        chat_pb2.ARENA_OUTCOME_TIE,
        chat_pb2.ARENA_OUTCOME_BOTH_BAD,
    ]


async def test_votes_go_with_their_conversation(server: GroveServer, client: Client) -> None:
    cid, human, first, second = await _pair(client)
    await client.stub.RecordVote(_vote(cid, human, first, second, chat_pb2.ARENA_OUTCOME_A))
    await client.stub.DeleteConversation(chat_pb2.DeleteConversationRequest(conversation_id=cid))
    assert list((await client.stub.ListVotes(chat_pb2.ListVotesRequest())).votes) == []
    with closing(sqlite3.connect(server.config.db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM arena_votes").fetchone() == (0,)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.stub.ListVotes(chat_pb2.ListVotesRequest(conversation_id=cid))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_manual_reply_can_be_voted_but_not_a_reply_of_another_parent(
    client: Client,
) -> None:
    cid, human, first, second = await _pair(client)
    deeper = chat_pb2.AddResponseRequest(
        conversation_id=cid, message="more", parent_response_id=first
    )
    deeper.sampling_params.max_tokens = 2
    grandchild = [m async for m in client.stub.AddResponse(deeper)][-1].model_response.response_id
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.stub.RecordVote(_vote(cid, human, first, grandchild, chat_pb2.ARENA_OUTCOME_A))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "is not a child of" in (info.value.details() or "")
    manual = await client.stub.AddModelResponse(
        chat_pb2.AddModelResponseRequest(
            conversation_id=cid, message="mine", parent_response_id=human
        )
    )
    vote = await client.stub.RecordVote(
        _vote(cid, human, manual.response_id, second, chat_pb2.ARENA_OUTCOME_A)
    )
    assert vote.response_a == manual.response_id
