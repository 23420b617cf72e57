"""Isolation between users, RPC by RPC: another user's conversation is a missing one.

Bob holds every id of Alice's (conversation, responses, a running request_id) and tries
each RPC of the Chat service with them. Each refusal must be indistinguishable from the
refusal for a random well-formed id (same status, same sentence once the id is replaced),
so Bob cannot even learn that Alice's conversation exists; and Alice's conversation must
be byte for byte what it was. The cases are keyed by the service descriptor's method
names, so an RPC added to `chat.proto` fails here until it gets its own case.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2

from grove_explorer.client import Client
from grove_explorer.client.import_call import request_chunks
from grove_explorer.protos import chat_pb2
from grove_explorer.server.auth import hash_key
from grove_explorer.server.runtime import GroveServer
from tests import both_stores

# Each test runs on both stores (SQLite, then PostgreSQL): conftest's fixtures overridden.
server_config = both_stores.server_config
make_server = both_stores.make_server

SERVICE = chat_pb2.DESCRIPTOR.services_by_name["Chat"]
RPC_NAMES = [method.name for method in SERVICE.methods]
EMPTY = empty_pb2.Empty()


def _random_id() -> str:
    return uuid.uuid4().hex


@dataclass
class World:
    """Alice's conversation as Bob finds it, and the stubs of both users."""

    server: GroveServer
    alice: Any  # the SDK's authorized ChatStub (raw protobuf messages, Alice's key)
    bob: Any
    cid: str
    response_ids: list[str]  # human, model, manual model, in creation order
    # What Alice's conversation must still look like after Bob's attempts.
    baseline: bytes = b""
    baseline_list: bytes = b""
    notes: list[str] = field(default_factory=list)


async def _alice_view(world: World) -> tuple[bytes, bytes]:
    """Alice's conversation and her conversation list, serialized deterministically."""
    conversation = await world.alice.GetConversation(
        chat_pb2.GetConversationRequest(conversation_id=world.cid)
    )
    listing = await world.alice.ListConversations(EMPTY)
    return (
        conversation.SerializeToString(deterministic=True),
        listing.SerializeToString(deterministic=True),
    )


async def _refusal(call: Any) -> grpc.aio.AioRpcError:
    """Awaits a unary call or drains a stream; returns the error it must end with."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        if hasattr(call, "__aiter__"):
            async for _ in call:
                pass
        else:
            await call
    return info.value


def _shape(error: grpc.aio.AioRpcError, ids: Mapping[str, str]) -> tuple[Any, str]:
    """The status and sentence of a refusal with each id replaced by its role's name."""
    details = error.details() or ""
    for role, value in ids.items():
        details = details.replace(value, f"<{role}>")
    return error.code(), details


async def assert_indistinguishable(
    make_call: Callable[[Mapping[str, str]], Any],
    alice_ids: Mapping[str, str],
    expected: grpc.StatusCode,
) -> None:
    """Bob's call with Alice's ids is refused exactly like the same call with random ids."""
    random_ids = {role: _random_id() for role in alice_ids}
    on_alice = _shape(await _refusal(make_call(alice_ids)), alice_ids)
    on_random = _shape(await _refusal(make_call(random_ids)), random_ids)
    assert on_alice == on_random, f"Bob can tell Alice's ids {dict(alice_ids)} from random ones"
    code, details = on_alice
    assert code == expected, details
    assert re.fullmatch(r"[A-Z].{10,}\.", details), f"not a sentence: {details!r}"


async def _bob_conversation(world: World) -> str:
    created = await world.bob.CreateConversation(chat_pb2.CreateConversationRequest())
    return created.conversation_id


async def _assert_bob_conversation_empty(world: World, cid: str) -> None:
    mine = await world.bob.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    assert list(mine.responses) == [], "a refused request stored nothing in Bob's conversation"


# -- one case per RPC ----------------------------------------------------------------------


async def case_create_conversation(world: World) -> None:
    created = await world.bob.CreateConversation(chat_pb2.CreateConversationRequest())
    assert created.conversation_id != world.cid
    listing = await world.bob.ListConversations(EMPTY)
    assert [c.conversation_id for c in listing.conversations] == [created.conversation_id]
    alice_listing = await world.alice.ListConversations(EMPTY)
    assert created.conversation_id not in {c.conversation_id for c in alice_listing.conversations}


async def case_get_conversation(world: World) -> None:
    await assert_indistinguishable(
        lambda ids: world.bob.GetConversation(
            chat_pb2.GetConversationRequest(conversation_id=ids["cid"])
        ),
        {"cid": world.cid},
        grpc.StatusCode.NOT_FOUND,
    )


async def case_list_conversations(world: World) -> None:
    assert list((await world.bob.ListConversations(EMPTY)).conversations) == []
    own = await _bob_conversation(world)
    listing = await world.bob.ListConversations(EMPTY)
    assert [c.conversation_id for c in listing.conversations] == [own]
    assert world.cid.encode() not in listing.SerializeToString()


async def case_update_conversation(world: World) -> None:
    for title, starred in (("pwned by Bob", True), ("", False), ("t" * 10_000, True)):
        await assert_indistinguishable(
            lambda ids, title=title, starred=starred: world.bob.UpdateConversation(
                chat_pb2.UpdateConversationRequest(
                    conversation_id=ids["cid"], title=title, starred=starred
                )
            ),
            {"cid": world.cid},
            grpc.StatusCode.NOT_FOUND,
        )


async def case_delete_conversation(world: World) -> None:
    await assert_indistinguishable(
        lambda ids: world.bob.DeleteConversation(
            chat_pb2.DeleteConversationRequest(conversation_id=ids["cid"])
        ),
        {"cid": world.cid},
        grpc.StatusCode.NOT_FOUND,
    )


async def case_generate_title(world: World) -> None:
    await assert_indistinguishable(
        lambda ids: world.bob.GenerateTitle(
            chat_pb2.GenerateTitleRequest(conversation_id=ids["cid"])
        ),
        {"cid": world.cid},
        grpc.StatusCode.NOT_FOUND,
    )
    for leaf in world.response_ids:
        await assert_indistinguishable(
            lambda ids: world.bob.GenerateTitle(
                chat_pb2.GenerateTitleRequest(
                    conversation_id=ids["cid"], leaf_response_id=ids["leaf"]
                )
            ),
            {"cid": world.cid, "leaf": leaf},
            grpc.StatusCode.NOT_FOUND,
        )
    # Bob's own conversation with Alice's response as the leaf: a foreign leaf.
    own = await _bob_conversation(world)
    for leaf in world.response_ids:
        await assert_indistinguishable(
            lambda ids: world.bob.GenerateTitle(
                chat_pb2.GenerateTitleRequest(conversation_id=own, leaf_response_id=ids["leaf"])
            ),
            {"leaf": leaf},
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    mine = await world.bob.GetConversation(chat_pb2.GetConversationRequest(conversation_id=own))
    assert mine.title == "", "a refused GenerateTitle set no title"


async def case_add_response(world: World) -> None:
    for message in ("let me in", ""):
        await assert_indistinguishable(
            lambda ids, message=message: world.bob.AddResponse(
                chat_pb2.AddResponseRequest(conversation_id=ids["cid"], message=message)
            ),
            {"cid": world.cid},
            grpc.StatusCode.NOT_FOUND,
        )
        for parent in world.response_ids:
            await assert_indistinguishable(
                lambda ids, message=message: world.bob.AddResponse(
                    chat_pb2.AddResponseRequest(
                        conversation_id=ids["cid"],
                        message=message,
                        parent_response_id=ids["parent"],
                    )
                ),
                {"cid": world.cid, "parent": parent},
                grpc.StatusCode.NOT_FOUND,
            )
    own = await _bob_conversation(world)
    for message in ("graft onto Alice", ""):
        for parent in world.response_ids:
            await assert_indistinguishable(
                lambda ids, message=message: world.bob.AddResponse(
                    chat_pb2.AddResponseRequest(
                        conversation_id=own, message=message, parent_response_id=ids["parent"]
                    )
                ),
                {"parent": parent},
                grpc.StatusCode.INVALID_ARGUMENT,
            )
    await _assert_bob_conversation_empty(world, own)


async def case_add_model_response(world: World) -> None:
    for partial in (False, True):
        await assert_indistinguishable(
            lambda ids, partial=partial: world.bob.AddModelResponse(
                chat_pb2.AddModelResponseRequest(
                    conversation_id=ids["cid"], message="forged", partial=partial
                )
            ),
            {"cid": world.cid},
            grpc.StatusCode.NOT_FOUND,
        )
    for parent in world.response_ids:
        await assert_indistinguishable(
            lambda ids: world.bob.AddModelResponse(
                chat_pb2.AddModelResponseRequest(
                    conversation_id=ids["cid"], message="forged", parent_response_id=ids["parent"]
                )
            ),
            {"cid": world.cid, "parent": parent},
            grpc.StatusCode.NOT_FOUND,
        )
    own = await _bob_conversation(world)
    for parent in world.response_ids:
        await assert_indistinguishable(
            lambda ids: world.bob.AddModelResponse(
                chat_pb2.AddModelResponseRequest(
                    conversation_id=own, message="forged", parent_response_id=ids["parent"]
                )
            ),
            {"parent": parent},
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    await _assert_bob_conversation_empty(world, own)


async def case_share_conversation(world: World) -> None:
    for response_id in world.response_ids:
        await assert_indistinguishable(
            lambda ids: world.bob.ShareConversation(
                chat_pb2.ShareConversationRequest(
                    conversation_id=ids["cid"], response_id=ids["response"]
                )
            ),
            {"cid": world.cid, "response": response_id},
            grpc.StatusCode.NOT_FOUND,
        )
    own = await _bob_conversation(world)
    for response_id in world.response_ids:
        await assert_indistinguishable(
            lambda ids: world.bob.ShareConversation(
                chat_pb2.ShareConversationRequest(conversation_id=own, response_id=ids["response"])
            ),
            {"response": response_id},
            grpc.StatusCode.INVALID_ARGUMENT,
        )


async def case_resume_or_cancel(world: World) -> None:
    """Bob can neither resume nor cancel Alice's resumable reply, even knowing its id."""
    request_id = f"alice-{_random_id()}"
    request = chat_pb2.AddResponseRequest(
        conversation_id=world.cid,
        message="tell me a long story",
        parent_response_id=world.response_ids[-1],
        request_id=request_id,
        resumable=True,
    )
    request.sampling_params.max_tokens = 40
    stream = world.alice.AddResponse(request)
    messages = [await anext(aiter(stream))]  # her human message: the reply runs
    await assert_indistinguishable(
        lambda ids: world.bob.ResumeResponse(
            chat_pb2.ResumeResponseRequest(request_id=ids["request"])
        ),
        {"request": request_id},
        grpc.StatusCode.NOT_FOUND,
    )
    on_alice = await world.bob.CancelResponse(chat_pb2.CancelResponseRequest(request_id=request_id))
    assert on_alice.cancelled is False
    messages += [m async for m in stream]
    reply = messages[-1].model_response
    assert reply.message and not reply.partial, "Alice's reply ran to its end"
    # Alice's conversation is her baseline plus exactly what her own stream stored.
    before = chat_pb2.Conversation.FromString(world.baseline)
    after = await world.alice.GetConversation(
        chat_pb2.GetConversationRequest(conversation_id=world.cid)
    )
    assert list(after.responses) == [*before.responses, messages[0].user_response, reply]
    world.baseline, world.baseline_list = await _alice_view(world)
    world.notes.append("baseline moved by Alice's own stream")


async def case_stop_response(world: World) -> None:
    """Bob cannot stop (nor collide with) Alice's running stream, even knowing its id."""
    request_id = f"alice-{_random_id()}"
    max_tokens = 40
    request = chat_pb2.AddResponseRequest(
        conversation_id=world.cid,
        message="tell me a long story",
        parent_response_id=world.response_ids[-1],
        request_id=request_id,
    )
    request.sampling_params.max_tokens = max_tokens
    stream = world.alice.AddResponse(request)
    first = await anext(aiter(stream))
    assert first.WhichOneof("response") == "user_response"
    # Wait (bounded) for the first sampled token: the stream is then surely running.
    messages = [first]
    for _ in range(50):
        message = await anext(aiter(stream))
        messages.append(message)
        if message.WhichOneof("response") == "token" and message.token.HasField("token"):
            break
    else:
        pytest.fail("Alice's stream sent no token")

    on_alice = await world.bob.StopResponse(chat_pb2.StopResponseRequest(request_id=request_id))
    on_random = await world.bob.StopResponse(
        chat_pb2.StopResponseRequest(request_id=f"alice-{_random_id()}")
    )
    assert on_alice.stopped is False
    assert on_alice.SerializeToString() == on_random.SerializeToString()
    running = [s for s in world.server.servicer.streams.active if s.request_id == request_id]
    assert len(running) == 1, "Alice's stream is still running after Bob's attempt"
    assert not running[0].stop.is_set(), "Bob's StopResponse did not touch Alice's stream"

    # Alice's request_id is hers alone: Bob may use the same one without ALREADY_EXISTS.
    own = await _bob_conversation(world)
    mine = chat_pb2.AddResponseRequest(conversation_id=own, message="mine", request_id=request_id)
    mine.sampling_params.max_tokens = 1
    bob_messages = [m async for m in world.bob.AddResponse(mine)]
    assert bob_messages[-1].model_response.message

    messages += [m async for m in stream]
    user_response = messages[0].user_response
    model_response = messages[-1].model_response
    assert not model_response.partial, "Alice's stream ran to its end"
    assert model_response.token_count == max_tokens

    # Alice's conversation is her baseline plus exactly what her own stream stored.
    before = chat_pb2.Conversation.FromString(world.baseline)
    after = await world.alice.GetConversation(
        chat_pb2.GetConversationRequest(conversation_id=world.cid)
    )
    assert list(after.responses) == [*before.responses, user_response, model_response]
    assert (after.title, after.starred, after.create_time) == (
        before.title,
        before.starred,
        before.create_time,
    )
    world.baseline, world.baseline_list = await _alice_view(world)
    world.notes.append("baseline moved by Alice's own stream")


async def case_list_models(world: World) -> None:
    on_bob = await world.bob.ListModels(EMPTY)
    on_alice = await world.alice.ListModels(EMPTY)
    assert on_bob.SerializeToString(deterministic=True) == on_alice.SerializeToString(
        deterministic=True
    )
    assert world.cid.encode() not in on_bob.SerializeToString()


async def case_embed_texts(world: World) -> None:
    """EmbedTexts reads no conversation: both users get the same answer, naming none."""
    request = chat_pb2.EmbedTextsRequest(texts=[world.cid])
    answers = []
    for stub in (world.bob, world.alice):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.EmbedTexts(request)
        answers.append((caught.value.code(), caught.value.details()))
    assert answers[0] == answers[1]
    assert answers[0][0] == grpc.StatusCode.FAILED_PRECONDITION
    assert world.cid not in (answers[0][1] or "")


async def case_annotate_response(world: World) -> None:
    """Bob can neither set nor clear Alice's marks, even naming her response in his forest."""
    for annotation in (
        chat_pb2.Annotation(bookmarked=True, tags=["bob"], rating=-1, note="Bob was here"),
        chat_pb2.Annotation(),  # clearing
    ):
        for response_id in world.response_ids:
            await assert_indistinguishable(
                lambda ids, a=annotation: world.bob.AnnotateResponse(
                    chat_pb2.AnnotateResponseRequest(
                        conversation_id=ids["cid"], response_id=ids["response"], annotation=a
                    )
                ),
                {"cid": world.cid, "response": response_id},
                grpc.StatusCode.NOT_FOUND,
            )
    own = await _bob_conversation(world)
    for response_id in world.response_ids:
        await assert_indistinguishable(
            lambda ids: world.bob.AnnotateResponse(
                chat_pb2.AnnotateResponseRequest(
                    conversation_id=own,
                    response_id=ids["response"],
                    annotation=chat_pb2.Annotation(note="mine now"),
                )
            ),
            {"response": response_id},
            grpc.StatusCode.INVALID_ARGUMENT,
        )


async def case_search(world: World) -> None:
    """Bob's searches never show Alice's messages, title, tags, notes or marks."""
    queries = [
        "secret",
        "Alice",
        "garden",
        "hand-written",
        "pineapple",  # her tag
        "porcupine",  # her note
        "tag:pineapple",
        "bookmarked",
        "rated:+",
        "sender:human",
        "sender:model",
        "model:grove-offline-ngram",
        "partial",
        world.cid,
        *world.response_ids,
    ]
    for query in queries:
        hits = await world.bob.Search(chat_pb2.SearchRequest(query=query, limit=500))
        assert list(hits.hits) == [], f"Bob found Alice's data with {query!r}"
    # Bob's own words are found, and only his.
    own = await _bob_conversation(world)
    await world.bob.AddModelResponse(
        chat_pb2.AddModelResponseRequest(conversation_id=own, message="my secret garden")
    )
    for query in ("secret", "garden", "sender:model"):
        hits = await world.bob.Search(chat_pb2.SearchRequest(query=query))
        assert {hit.conversation_id for hit in hits.hits} == {own}, query
    # The same searches do find Alice's data for her, so the checks above mean something.
    for query in ("secret", "pineapple", "porcupine", "tag:pineapple", "bookmarked", "garden"):
        hits = await world.alice.Search(chat_pb2.SearchRequest(query=query))
        assert {hit.conversation_id for hit in hits.hits} == {world.cid}, query


async def case_get_response_tokens(world: World) -> None:
    for response_id in world.response_ids:
        await assert_indistinguishable(
            lambda ids: world.bob.GetResponseTokens(
                chat_pb2.GetResponseTokensRequest(
                    conversation_id=ids["cid"], response_id=ids["response"]
                )
            ),
            {"cid": world.cid, "response": response_id},
            grpc.StatusCode.NOT_FOUND,
        )
    own = await _bob_conversation(world)
    for response_id in world.response_ids:
        await assert_indistinguishable(
            lambda ids: world.bob.GetResponseTokens(
                chat_pb2.GetResponseTokensRequest(conversation_id=own, response_id=ids["response"])
            ),
            {"response": response_id},
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    mine = await world.alice.GetResponseTokens(
        chat_pb2.GetResponseTokensRequest(
            conversation_id=world.cid, response_id=world.response_ids[1]
        )
    )
    assert len(mine.tokens) == 3, "Alice still reads her reply's tokens"


async def case_get_responses_tokens(world: World) -> None:
    """Many ids at once reveal no more than one: Alice's ids are as unknown as made-up ones."""
    await assert_indistinguishable(
        lambda ids: world.bob.GetResponsesTokens(
            chat_pb2.GetResponsesTokensRequest(
                conversation_id=ids["cid"], response_ids=[ids["response"]]
            )
        ),
        {"cid": world.cid, "response": world.response_ids[1]},
        grpc.StatusCode.NOT_FOUND,
    )
    own = await _bob_conversation(world)
    for response_id in world.response_ids:
        await assert_indistinguishable(
            lambda ids: world.bob.GetResponsesTokens(
                chat_pb2.GetResponsesTokensRequest(
                    conversation_id=own, response_ids=[ids["response"]]
                )
            ),
            {"response": response_id},
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    mine = await world.alice.GetResponsesTokens(
        chat_pb2.GetResponsesTokensRequest(
            conversation_id=world.cid, response_ids=world.response_ids
        )
    )
    assert [len(r.tokens) for r in mine.responses] == [0, 3, 0], "Alice reads hers"


async def case_import_conversation(world: World, *, streamed: bool = False) -> None:
    """An import is the importer's: Alice's ids in it link only Bob's new responses.

    `streamed`: the same through ImportConversationStream (the request in chunks).
    """

    def bob_imports(request: chat_pb2.ImportConversationRequest) -> Any:
        if streamed:
            return world.bob.ImportConversationStream(iter(list(request_chunks(request, 1))))
        return world.bob.ImportConversation(request)

    human, model, _ = world.response_ids
    request = chat_pb2.ImportConversationRequest(
        title="Bob's copy",
        responses=[
            chat_pb2.Response(response_id=human, sender="human", message="copied"),
            chat_pb2.Response(
                response_id=model, sender="model", message="reply", parent_response_id=human
            ),
        ],
    )
    request.tokens[model].tokens.add().final_logit.string_token = "reply"
    imported = await bob_imports(request)
    assert imported.conversation_id != world.cid
    assert not {r.response_id for r in imported.responses} & set(world.response_ids)
    listing = await world.bob.ListConversations(EMPTY)
    assert [c.conversation_id for c in listing.conversations] == [imported.conversation_id]
    await assert_indistinguishable(
        lambda ids: world.alice.GetConversation(
            chat_pb2.GetConversationRequest(conversation_id=ids["cid"])
        ),
        {"cid": imported.conversation_id},
        grpc.StatusCode.NOT_FOUND,
    )
    # A parent outside the import (Alice's response, or a random id) is refused alike.
    await assert_indistinguishable(
        lambda ids: bob_imports(
            chat_pb2.ImportConversationRequest(
                responses=[
                    chat_pb2.Response(
                        response_id="a",
                        sender="model",
                        message="graft",
                        parent_response_id=ids["parent"],
                    )
                ]
            )
        ),
        {"parent": model},
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def case_select_response(world: World) -> None:
    """Bob can neither move Alice's leaf nor learn that her ids exist; his leaf is his."""
    for response_id in [*world.response_ids, ""]:
        await assert_indistinguishable(
            lambda ids, rid=response_id: world.bob.SelectResponse(
                chat_pb2.SelectResponseRequest(
                    conversation_id=ids["cid"], response_id=ids.get("response", rid)
                )
            ),
            {"cid": world.cid, **({"response": response_id} if response_id else {})},
            grpc.StatusCode.NOT_FOUND,
        )
    own = await _bob_conversation(world)
    for response_id in world.response_ids:
        await assert_indistinguishable(
            lambda ids: world.bob.SelectResponse(
                chat_pb2.SelectResponseRequest(conversation_id=own, response_id=ids["response"])
            ),
            {"response": response_id},
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    mine = await world.bob.GetConversation(chat_pb2.GetConversationRequest(conversation_id=own))
    assert not mine.HasField("leaf_response_id"), "a refused select stored no leaf for Bob"
    # Bob's reply in his own conversation, asked to be followed, moves only his leaf.
    request = chat_pb2.AddResponseRequest(conversation_id=own, message="hi", select_reply=True)
    request.sampling_params.max_tokens = 2
    streamed = [m async for m in world.bob.AddResponse(request)]
    mine = await world.bob.GetConversation(chat_pb2.GetConversationRequest(conversation_id=own))
    assert mine.leaf_response_id == streamed[-1].model_response.response_id


async def case_judge_responses(world: World) -> None:
    """Bob cannot judge Alice's replies (nor name them in his own conversation)."""
    model = world.response_ids[1]
    await assert_indistinguishable(
        lambda ids: world.bob.JudgeResponses(
            chat_pb2.JudgeResponsesRequest(
                conversation_id=ids["cid"], response_ids=[ids["response"]]
            )
        ),
        {"cid": world.cid, "response": model},
        grpc.StatusCode.NOT_FOUND,
    )
    own = await _bob_conversation(world)
    for response_id in world.response_ids:
        await assert_indistinguishable(
            lambda ids: world.bob.JudgeResponses(
                chat_pb2.JudgeResponsesRequest(conversation_id=own, response_ids=[ids["response"]])
            ),
            {"response": response_id},
            grpc.StatusCode.NOT_FOUND,
        )


async def case_extract_points(world: World) -> None:
    """Bob cannot read the points of Alice's replies."""
    model = world.response_ids[1]
    await assert_indistinguishable(
        lambda ids: world.bob.ExtractPoints(
            chat_pb2.ExtractPointsRequest(
                conversation_id=ids["cid"], response_ids=[ids["response"]]
            )
        ),
        {"cid": world.cid, "response": model},
        grpc.StatusCode.NOT_FOUND,
    )
    own = await _bob_conversation(world)
    await assert_indistinguishable(
        lambda ids: world.bob.ExtractPoints(
            chat_pb2.ExtractPointsRequest(conversation_id=own, response_ids=[ids["response"]])
        ),
        {"response": model},
        grpc.StatusCode.NOT_FOUND,
    )


def _vote_request(cid: str, parent: str, a: str, b: str) -> chat_pb2.RecordVoteRequest:
    return chat_pb2.RecordVoteRequest(
        conversation_id=cid,
        parent_response_id=parent,
        response_a=a,
        response_b=b,
        setup_a=chat_pb2.ArenaSetup(model_name="m1"),
        setup_b=chat_pb2.ArenaSetup(model_name="m2"),
        outcome=chat_pb2.ARENA_OUTCOME_TIE,
    )


async def case_record_vote(world: World) -> None:
    """Bob cannot vote on Alice's pair, nor name her replies in his own conversation."""
    human, model, manual = world.response_ids
    await assert_indistinguishable(
        lambda ids: world.bob.RecordVote(
            _vote_request(ids["cid"], ids["human"], ids["model"], ids["manual"])
        ),
        {"cid": world.cid, "human": human, "model": model, "manual": manual},
        grpc.StatusCode.NOT_FOUND,
    )
    own = await _bob_conversation(world)
    await assert_indistinguishable(
        lambda ids: world.bob.RecordVote(
            _vote_request(own, ids["human"], ids["model"], ids["manual"])
        ),
        {"human": human, "model": model, "manual": manual},
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    listed = await world.bob.ListVotes(chat_pb2.ListVotesRequest())
    assert list(listed.votes) == [], "a refused vote stored nothing for Bob"


async def case_list_votes(world: World) -> None:
    """Alice's votes are hers: Bob's list (all, or of her conversation) never shows them."""
    human, model, manual = world.response_ids
    vote = await world.alice.RecordVote(_vote_request(world.cid, human, model, manual))
    await assert_indistinguishable(
        lambda ids: world.bob.ListVotes(chat_pb2.ListVotesRequest(conversation_id=ids["cid"])),
        {"cid": world.cid},
        grpc.StatusCode.NOT_FOUND,
    )
    listed = await world.bob.ListVotes(chat_pb2.ListVotesRequest())
    assert list(listed.votes) == []
    hers = await world.alice.ListVotes(chat_pb2.ListVotesRequest())
    assert [v.vote_id for v in hers.votes] == [vote.vote_id]


async def case_watch_conversation(world: World) -> None:
    """Bob cannot watch Alice's conversation, nor tell it from a random id.

    His watch of his own conversation works, and says he is the watcher and the actor.
    """
    await assert_indistinguishable(
        lambda ids: world.bob.WatchConversation(
            chat_pb2.WatchConversationRequest(conversation_id=ids["cid"])
        ),
        {"cid": world.cid},
        grpc.StatusCode.NOT_FOUND,
    )
    own = await _bob_conversation(world)
    watch = world.bob.WatchConversation(chat_pb2.WatchConversationRequest(conversation_id=own))
    first = await watch.read()
    assert first.started.watcher == "bob" and not first.started.replies
    await world.bob.UpdateConversation(
        chat_pb2.UpdateConversationRequest(conversation_id=own, title="Bob's")
    )
    event = await watch.read()
    assert (event.conversation_id, event.actor) == (own, "bob")
    assert event.conversation_changed.title == "Bob's"
    watch.cancel()


async def _assert_alice_shares_nothing(world: World) -> None:
    listed = await world.alice.ListAccess(chat_pb2.ListAccessRequest(conversation_id=world.cid))
    assert list(listed.grants) == [], "Alice's conversation is shared with no one"


async def case_grant_access(world: World) -> None:
    """Bob cannot share Alice's conversation, with himself or anyone, in any role."""
    for grantee in ("bob", "alice"):
        for role in (chat_pb2.SHARE_ROLE_READER, chat_pb2.SHARE_ROLE_WRITER):
            await assert_indistinguishable(
                lambda ids, grantee=grantee, role=role: world.bob.GrantAccess(
                    chat_pb2.GrantAccessRequest(
                        conversation_id=ids["cid"], user_id=grantee, role=role
                    )
                ),
                {"cid": world.cid},
                grpc.StatusCode.NOT_FOUND,
            )
    await _assert_alice_shares_nothing(world)
    assert list((await world.bob.ListConversations(EMPTY)).conversations) == []


async def case_revoke_access(world: World) -> None:
    await assert_indistinguishable(
        lambda ids: world.bob.RevokeAccess(
            chat_pb2.RevokeAccessRequest(conversation_id=ids["cid"], user_id="bob")
        ),
        {"cid": world.cid},
        grpc.StatusCode.NOT_FOUND,
    )


async def case_list_access(world: World) -> None:
    await assert_indistinguishable(
        lambda ids: world.bob.ListAccess(chat_pb2.ListAccessRequest(conversation_id=ids["cid"])),
        {"cid": world.cid},
        grpc.StatusCode.NOT_FOUND,
    )


async def case_resolve_share_link(world: World) -> None:
    """Alice's share URL (it names her shared reply) and her conversation's id tell Bob nothing."""
    base = world.server.config.share_base_url
    for named in (world.cid, *world.response_ids):
        for form in ("{}", base + "/{}", "https://grove.example/c/{}/"):
            await assert_indistinguishable(
                lambda ids, form=form: world.bob.ResolveShareLink(
                    chat_pb2.ResolveShareLinkRequest(link=form.format(ids["id"]))
                ),
                {"id": named},
                grpc.StatusCode.NOT_FOUND,
            )


CASES: dict[str, Callable[[World], Awaitable[None]]] = {
    "CreateConversation": case_create_conversation,
    "GetConversation": case_get_conversation,
    "ListConversations": case_list_conversations,
    "UpdateConversation": case_update_conversation,
    "DeleteConversation": case_delete_conversation,
    "GenerateTitle": case_generate_title,
    "AddResponse": case_add_response,
    "AddModelResponse": case_add_model_response,
    "ShareConversation": case_share_conversation,
    "StopResponse": case_stop_response,
    "ListModels": case_list_models,
    "EmbedTexts": case_embed_texts,
    "AnnotateResponse": case_annotate_response,
    "Search": case_search,
    "GetResponseTokens": case_get_response_tokens,
    "GetResponsesTokens": case_get_responses_tokens,
    "ImportConversation": case_import_conversation,
    "ImportConversationStream": functools.partial(case_import_conversation, streamed=True),
    "SelectResponse": case_select_response,
    "JudgeResponses": case_judge_responses,
    "ExtractPoints": case_extract_points,
    "RecordVote": case_record_vote,
    "ListVotes": case_list_votes,
    "ResumeResponse": case_resume_or_cancel,
    "CancelResponse": case_resume_or_cancel,
    "WatchConversation": case_watch_conversation,
    "GrantAccess": case_grant_access,
    "RevokeAccess": case_revoke_access,
    "ListAccess": case_list_access,
    "ResolveShareLink": case_resolve_share_link,
}


# -- fixtures and tests ----------------------------------------------------------------------


@pytest.fixture
async def world(make_server) -> AsyncIterator[World]:
    """A two-user server; Alice owns a titled, starred, partly shared conversation."""
    running = make_server(
        api_keys={hash_key("key-alice"): "alice", hash_key("key-bob"): "bob"},
        token_delay_ms=5.0,
    )
    await running.start()
    alice = Client(api_host=running.address, api_key="key-alice")
    bob = Client(api_host=running.address, api_key="key-bob")
    try:
        created = await alice.stub.CreateConversation(chat_pb2.CreateConversationRequest())
        cid = created.conversation_id
        request = chat_pb2.AddResponseRequest(conversation_id=cid, message="Alice's secret")
        request.sampling_params.max_tokens = 3
        streamed = [m async for m in alice.stub.AddResponse(request)]
        human = streamed[0].user_response.response_id
        model = streamed[-1].model_response.response_id
        manual = await alice.stub.AddModelResponse(
            chat_pb2.AddModelResponseRequest(
                conversation_id=cid, message="a hand-written answer", parent_response_id=human
            )
        )
        await alice.stub.ShareConversation(
            chat_pb2.ShareConversationRequest(conversation_id=cid, response_id=model)
        )
        await alice.stub.UpdateConversation(
            chat_pb2.UpdateConversationRequest(
                conversation_id=cid, title="Alice's garden", starred=True
            )
        )
        # Her marks: a tag and a note no one else's data holds, a bookmark, a rating.
        await alice.stub.AnnotateResponse(
            chat_pb2.AnnotateResponseRequest(
                conversation_id=cid,
                response_id=model,
                annotation=chat_pb2.Annotation(
                    bookmarked=True, tags=["pineapple"], rating=1, note="porcupine"
                ),
            )
        )
        # Her place: the human message (not the newest response), so a change shows.
        await alice.stub.SelectResponse(
            chat_pb2.SelectResponseRequest(conversation_id=cid, response_id=human)
        )
        state = World(running, alice.stub, bob.stub, cid, [human, model, manual.response_id])
        state.baseline, state.baseline_list = await _alice_view(state)
        yield state
    finally:
        await alice.close()
        await bob.close()
        await running.stop()


def test_every_case_names_an_rpc() -> None:
    assert set(CASES) <= set(RPC_NAMES), f"stale cases: {set(CASES) - set(RPC_NAMES)}"


@pytest.mark.parametrize("rpc", RPC_NAMES)
async def test_another_user_cannot_reach_alice_through(rpc: str, world: World) -> None:
    case = CASES.get(rpc)
    if case is None:
        pytest.fail(f"{rpc} has no isolation case: add one to CASES in {__name__}")
    await case(world)
    after, after_list = await _alice_view(world)
    assert after == world.baseline, "Alice's conversation changed"
    assert after_list == world.baseline_list, "Alice's conversation list changed"
    conversation = chat_pb2.Conversation.FromString(after)
    assert (conversation.title, conversation.starred) == ("Alice's garden", True)
    assert conversation.leaf_response_id == world.response_ids[0], "Alice's place stays hers"
    shared = [r.response_id for r in conversation.responses if r.shared]
    assert shared == world.response_ids[:2], "exactly the path Alice shared stays shared"
    marked = [r for r in conversation.responses if r.HasField("annotation")]
    assert [(r.response_id, list(r.annotation.tags)) for r in marked] == [
        (world.response_ids[1], ["pineapple"])
    ], "Alice's marks stay hers"
