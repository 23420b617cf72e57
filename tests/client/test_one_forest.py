"""One forest, one decoder, linear assembly (issue 11, items 2 and 3)."""

from __future__ import annotations

from collections.abc import Callable

from grove_explorer.client import Client
from grove_explorer.client.models import LiveResponseNode, ResponseNode
from grove_explorer.client.service import ConversationService, TokensAppended
from grove_explorer.client.streams import BudgetEvent, TokensEvent, decode
from grove_explorer.protos import chat_pb2, sampler_public_pb2
from grove_explorer.server.runtime import GroveServer
from tests import both_stores
from tests.client.paced import paced_service

# Each test runs on both stores (SQLite, then PostgreSQL): conftest's fixtures overridden.
server_config = both_stores.server_config
make_server = both_stores.make_server


async def test_sdk_and_service_move_the_same_leaf(client: Client) -> None:
    service = ConversationService(client)
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    first = await service.send(cid, "First question.", None)
    second = await service.send(cid, "Second question.", first.response_id if first else None)
    assert first is not None and second is not None

    conversation = await client.grok.get_conversation(cid)  # a separate handle...
    assert conversation.forest is not service.forest(cid)
    sdk = service._conversation(cid)  # ...and the service's own: the same forest
    assert sdk.forest is service.forest(cid)

    sdk.get_response(first.response_id).select()
    assert service.forest(cid).leaf_id == first.response_id
    assert sdk.leaf_response_id == first.response_id

    service.select(cid, second.response_id)
    assert sdk.leaf_response_id == second.response_id


async def test_a_streaming_reply_grows_in_place(make_server: Callable[..., GroveServer]) -> None:
    async with paced_service(make_server, token_delay_ms=5.0) as (service, cid):
        seen: list[tuple[int, str, str]] = []

        def on_event(event: object) -> None:
            if isinstance(event, TokensAppended):
                node = service.forest(cid).responses[event.response_id]
                seen.append((id(node), node.message, event.text))

        service.subscribe(on_event)
        reply = await service.send(cid, "Tell me a long story.", None)
    assert reply is not None and len(seen) > 1
    assert len({node_id for node_id, _, _ in seen}) == 1, "the placeholder is never rebuilt"
    text = ""
    for _, message, delta in seen:
        text += delta
        assert message == text
    assert reply.message == text


def test_live_node_joins_lazily_and_copies_as_a_snapshot() -> None:
    live = LiveResponseNode(
        response_id="pending:1", parent_id=None, sender="model", message="", streaming=True
    )
    for piece in ["Oak", " and", " ash"]:
        live.append(piece)
    assert live.message == "Oak and ash"
    assert live._pieces == ["Oak and ash"], "a read folds the pieces into one"
    snapshot = live.model_copy(update={"streaming": False})
    live.append(".")
    assert type(snapshot) is ResponseNode and snapshot.message == "Oak and ash"
    assert not snapshot.streaming and live.message == "Oak and ash."


def _never(_: chat_pb2.Response) -> object:
    raise AssertionError("not a stored response")


def test_decode_turns_each_wire_kind_into_one_event() -> None:
    def token(text: str, logprob: float) -> sampler_public_pb2.Token:
        return sampler_public_pb2.Token(
            final_logit=sampler_public_pb2.Logit(string_token=text, logprob=logprob)
        )

    batch = chat_pb2.AddResponseResponse(
        token=sampler_public_pb2.SampleTokensResponse(
            token=token("ab", -1.5), tokens=[token("a", -1.0), token("b", -0.5)]
        )
    )
    event = decode(batch, _never, _never)  # type: ignore[arg-type]
    assert isinstance(event, TokensEvent)
    assert event.texts == ["a", "b"] and event.text == "ab" and event.count == 2
    assert [t.logprob for t in event.tokens] == [-1.0, -0.5]

    single = chat_pb2.AddResponseResponse(
        token=sampler_public_pb2.SampleTokensResponse(token=token("x", -0.25))
    )
    event = decode(single, _never, _never)  # type: ignore[arg-type]
    assert isinstance(event, TokensEvent) and event.text == "x" and event.count == 1

    budget = chat_pb2.AddResponseResponse(
        token=sampler_public_pb2.SampleTokensResponse(
            budget=sampler_public_pb2.Budget(prompt_tokens=3, sampled_tokens=4, max_tokens=9)
        )
    )
    assert decode(budget, _never, _never) == BudgetEvent(3, 4, 9)  # type: ignore[arg-type]
    assert decode(chat_pb2.AddResponseResponse(), _never, _never) is None  # type: ignore[arg-type]


async def test_add_response_answers_the_leaf_of_its_first_iteration(client: Client) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response("A root question.")
    async for _ in stream:
        pass
    root_reply = await future
    stream, future = conversation.add_response("A second root.")
    conversation.set_leaf_response_id(None)  # moved after the call, before iterating
    async for _ in stream:
        pass
    reply = await future
    human = reply.parent_response
    assert human is not None and human.parent_response_id is None
    assert root_reply.response_id != reply.response_id
