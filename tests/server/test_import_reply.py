"""The reply to ImportConversation is the conversation as GetConversation reads it back.

The server answers an import from the records it wrote (no second read of every row):
these tests pin that the reply's responses, their order, ids, parents, times, flags,
sampling, finish reasons, annotations and sharing equal what a later read returns; that a
summary reply (`summary_only`) stores the same; and that the checks' plain reading of a
response accepts exactly what the checked reading does.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2

from grove_explorer.protos import chat_pb2, chat_pb2_grpc, sampler_public_pb2
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.servicer import importing
from tests.server.test_research import INVALID_IMPORTS, edited, valid_import


@pytest.fixture
async def stub(server: GroveServer) -> AsyncIterator[Any]:
    channel = grpc.aio.insecure_channel(server.address)
    try:
        yield chat_pb2_grpc.ChatStub(channel)
    finally:
        await channel.close()


def _varied(size: int) -> chat_pb2.ImportConversationRequest:
    """Branches, sampled and manual replies, annotations, sharing, finish reasons."""
    request = chat_pb2.ImportConversationRequest(title="varied", starred=True)
    for i in range(size):
        human = i % 2 == 0
        parent = "" if i == 0 else f"r{i - 1}" if i % 7 else f"r{max(0, i - 3) // 2 * 2}"
        if not human and parent and int(parent[1:]) % 2 == 1:
            parent = f"r{int(parent[1:]) - 1}"
        if human and parent and int(parent[1:]) % 2 == 0:
            parent = f"r{int(parent[1:]) + 1}" if int(parent[1:]) + 1 < i else ""
        wire = chat_pb2.Response(
            response_id=f"r{i}",
            parent_response_id=parent,
            sender="human" if human else "model",
            message=f"message {i} with words",
            manual=not human and i % 5 == 0,
            shared=False,
        )
        if not human and not wire.manual:
            wire.model_name = "elsewhere"
            wire.sampling_params.CopyFrom(
                sampler_public_pb2.SamplingParams(
                    temperature=0.5, top_p=0.9, max_tokens=50, seed=2**64 - 1 - i
                )
            )
            wire.finish_reason = chat_pb2.FINISH_REASON_STOP if i % 3 else 0
            wire.token_count = 4
            wire.time_to_first_token_seconds = 0.25
            wire.total_time_seconds = 1.5
        if i % 4 == 0:
            wire.annotation.CopyFrom(
                chat_pb2.Annotation(bookmarked=True, tags=["b", "a"], rating=-1, note="n")
            )
        request.responses.append(wire)
    return request


@pytest.mark.parametrize("build", [valid_import, lambda: _varied(60)], ids=["small", "varied"])
async def test_the_import_reply_equals_the_conversation_read_back(stub: Any, build: Any) -> None:
    request = build()
    created = await stub.ImportConversation(request)
    loaded = await stub.GetConversation(
        chat_pb2.GetConversationRequest(conversation_id=created.conversation_id)
    )
    assert len(created.responses) == len(request.responses)
    assert list(created.responses) == list(loaded.responses)
    for field in ("conversation_id", "title", "starred", "create_time", "response_count"):
        assert getattr(created, field) == getattr(loaded, field), field
    assert [r.message for r in created.responses] == [r.message for r in request.responses]


async def test_a_summary_reply_has_the_metadata_without_the_responses(stub: Any) -> None:
    """`summary_only` (grove import): same conversation stored, the reply without responses."""
    request = _varied(30)
    request.summary_only = True
    created = await stub.ImportConversation(request)
    loaded = await stub.GetConversation(
        chat_pb2.GetConversationRequest(conversation_id=created.conversation_id)
    )
    assert list(created.responses) == []
    assert created.response_count == len(loaded.responses) == len(request.responses)
    for field in ("conversation_id", "title", "starred", "create_time", "update_time"):
        assert getattr(created, field) == getattr(loaded, field), field
    assert [r.message for r in loaded.responses] == [r.message for r in request.responses]


class _Aborted(Exception):
    pass


class _Context:
    """Stands in for the call's context: `abort` ends the check with its sentence."""

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise _Aborted(code, details)


async def _items_or_error(
    request: chat_pb2.ImportConversationRequest, *, plain: bool, monkeypatch: pytest.MonkeyPatch
) -> Any:
    if not plain:
        monkeypatch.setattr(importing, "_plain_item", lambda *args: None)
    try:
        return await importing.items_from_import(
            request, max_title_chars=500, max_message_bytes=1 << 20, context=_Context()
        )
    except _Aborted as error:
        return error.args
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize(
    "build",
    [
        valid_import,
        lambda: _varied(60),
        *(edited(change) for change, _ in INVALID_IMPORTS.values()),
    ],
    ids=["small", "varied", *INVALID_IMPORTS],
)
async def test_the_plain_reading_accepts_exactly_what_the_checked_one_does(
    build: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each response is read plainly unless in doubt: same items, or the same first error."""
    plain = await _items_or_error(build(), plain=True, monkeypatch=monkeypatch)
    checked = await _items_or_error(build(), plain=False, monkeypatch=monkeypatch)
    assert plain == checked


@pytest.mark.parametrize("summary_only", [True, False], ids=["summary", "whole"])
@pytest.mark.parametrize("problem", ["late response", "stray tokens"])
async def test_a_problem_after_the_first_batches_stores_nothing(
    stub: Any, summary_only: bool, problem: str
) -> None:
    """The store takes checked batches as they come: a later problem still stores nothing.

    The first error is the one the checks name, and no conversation is left behind.
    """
    size = importing.BATCH * 2 + 500
    request = _varied(size)
    request.summary_only = summary_only
    if problem == "late response":
        bad = importing.BATCH * 2 + 10
        request.responses[bad].parent_response_id = "nowhere"
        expected = f"Response {bad + 1} ('r{bad}') names parent 'nowhere'"
    else:
        request.tokens["ghost"].tokens.add()
        expected = "The tokens map names response 'ghost'"
    before = await stub.ListConversations(empty_pb2.Empty())
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ImportConversation(request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert expected in (raised.value.details() or "")
    after = await stub.ListConversations(empty_pb2.Empty())
    assert list(after.conversations) == list(before.conversations)
    created = await stub.ImportConversation(_varied(size))  # the store is usable after
    assert created.response_count == size


def test_the_collector_pause_nests_and_restores_the_state_it_found() -> None:
    """Overlapping imports pause the collector once; the last to end restores it, even on error."""
    was = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            with pytest.raises(RuntimeError), importing.collector_paused():
                with importing.collector_paused():
                    assert not gc.isenabled()
                assert not gc.isenabled()  # the outer import still runs
                raise RuntimeError("an import fails")
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
