"""Deep paths and long imports: what the indexed parent check and batched import keep.

AddModelResponse checks its parent with the insert itself (no path read), imports write
their rows in multi-row statements; these tests pin the behaviour around both: unknown,
foreign and malformed parents are refused with the same statuses, a deleted conversation
is NOT_FOUND, a deep parent works, the sampler still gets the whole path, and an import
keeps every response, its order, parents, tokens, annotations, sharing and search rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from grove_explorer.protos import chat_pb2, chat_pb2_grpc, sampler_public_pb2
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.base import PathMessage
from grove_explorer.server.store import (
    AnnotationRecord,
    ImportItem,
    NewResponse,
    SearchFilters,
    UnknownParentError,
)
from grove_explorer.server.store.sqlite import SqliteStore
from tests.server.test_store import index_problems_of

ALICE = "alice"


@pytest.fixture
async def stub(server: GroveServer) -> AsyncIterator[Any]:
    channel = grpc.aio.insecure_channel(server.address)
    try:
        yield chat_pb2_grpc.ChatStub(channel)
    finally:
        await channel.close()


def _chain(depth: int, words: int = 3) -> chat_pb2.ImportConversationRequest:
    """An import of a `depth`-long chain of human and manual model messages."""
    request = chat_pb2.ImportConversationRequest(title="chain")
    for i in range(depth):
        request.responses.append(
            chat_pb2.Response(
                response_id=f"r{i}",
                parent_response_id=f"r{i - 1}" if i else "",
                sender="human" if i % 2 == 0 else "model",
                manual=i % 2 == 1,
                message=" ".join(f"w{i}x{k}" for k in range(1 + i % words)),
            )
        )
    return request


async def _error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


async def test_add_model_response_refuses_bad_parents_as_before(stub: Any) -> None:
    first = await stub.ImportConversation(_chain(3))
    other = await stub.ImportConversation(_chain(2))
    cid = first.conversation_id

    def add(parent: str, conversation_id: str = cid) -> Any:
        return stub.AddModelResponse(
            chat_pb2.AddModelResponseRequest(
                conversation_id=conversation_id, message="by hand", parent_response_id=parent
            )
        )

    unknown = await _error(add("f" * 32))
    assert unknown.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "is not in conversation" in unknown.details()
    foreign = await _error(add(other.responses[-1].response_id))
    assert foreign.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "is not in conversation" in foreign.details()
    malformed = await _error(add("not an id!"))
    assert malformed.code() == grpc.StatusCode.INVALID_ARGUMENT
    listed = await stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    assert len(listed.responses) == 3  # nothing stored by the refused calls
    await stub.DeleteConversation(chat_pb2.DeleteConversationRequest(conversation_id=cid))
    gone = await _error(add(first.responses[-1].response_id))
    assert gone.code() == grpc.StatusCode.NOT_FOUND


async def test_add_model_response_under_a_deep_parent_and_a_root(stub: Any) -> None:
    created = await stub.ImportConversation(_chain(1_200))
    cid = created.conversation_id
    deep = created.responses[-1].response_id
    root = created.responses[0].response_id
    for parent in (deep, root, ""):
        stored = await stub.AddModelResponse(
            chat_pb2.AddModelResponseRequest(
                conversation_id=cid, message="by hand", parent_response_id=parent
            )
        )
        assert stored.parent_response_id == parent
        assert stored.manual and stored.sender == "model"
    listed = await stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    assert len(listed.responses) == 1_203
    assert [r.parent_response_id for r in listed.responses[-3:]] == [deep, root, ""]


async def test_a_reply_under_a_deep_leaf_is_sampled_from_the_whole_path(
    stub: Any, server: GroveServer
) -> None:
    request = _chain(901)
    created = await stub.ImportConversation(request)
    cid = created.conversation_id
    leaf = created.responses[-1].response_id
    budgets: list[Any] = []
    replies: list[Any] = []
    async for message in stub.AddResponse(
        chat_pb2.AddResponseRequest(
            conversation_id=cid,
            message="and then?",
            parent_response_id=leaf,
            sampling_params=sampler_public_pb2.SamplingParams(max_tokens=4, seed=1),
        )
    ):
        if message.HasField("token") and message.token.HasField("budget"):
            budgets.append(message.token.budget)
        if message.HasField("model_response"):
            replies.append(message.model_response)
    sampler = server.servicer.samplers[server.servicer.default_model]
    path = [PathMessage(r.sender, r.message) for r in request.responses]
    path.append(PathMessage("human", "and then?"))
    assert budgets and budgets[0].prompt_tokens == sampler.count_tokens(path)
    assert len(replies) == 1
    human_id = replies[0].parent_response_id
    listed = await stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    by_id = {r.response_id: r for r in listed.responses}
    assert by_id[human_id].parent_response_id == leaf


async def test_a_long_import_keeps_every_response_in_order(tmp_path: Path) -> None:
    """Over several multi-row statements: order, parents, tokens, marks, sharing, search."""
    db = tmp_path / "grove.sqlite3"
    items: list[ImportItem] = []
    size = 2_500  # more than two statements' worth of rows
    for i in range(size):
        human = i % 2 == 0
        parent = None if i == 0 else f"l{i - 1}" if i % 50 else f"l{i - 2}" if i > 1 else None
        tokens = (("tok", -0.5, (("tok", -0.5), ("alt", -1.5))),) if i % 7 == 1 else None
        items.append(
            ImportItem(
                local_id=f"l{i}",
                parent_local_id=parent,
                response=NewResponse(
                    conversation_id="",
                    message="tok" if tokens else f"message number {i} zebra{i}",
                    sender="human" if human else "model",
                    parent_response_id=None,
                    tokens=tokens,
                ),
                shared=i < 5,
                annotation=AnnotationRecord(True, ("kept",), 1, f"note {i}")
                if i % 333 == 0
                else None,
            )
        )
    async with SqliteStore(db) as store:
        record = await store.import_conversation(ALICE, "long", False, items)
        assert record.response_count == size
        stored = await store.list_responses(ALICE, record.conversation_id)
        assert [r.message for r in stored] == [item.response.message for item in items]
        local = {r.response_id: f"l{i}" for i, r in enumerate(stored)}
        assert [local.get(r.parent_response_id or "") for r in stored] == [
            item.parent_local_id for item in items
        ]
        assert [r.shared for r in stored] == [item.shared for item in items]
        times = [r.create_time for r in stored]
        assert times == sorted(times) and len(set(times)) == size
        marks = await store.annotations(ALICE, record.conversation_id)
        assert {local[rid] for rid in marks} == {f"l{i}" for i in range(0, size, 333)}
        assert marks[stored[333].response_id].note == "note 333"
        for i in (1, 8, 2_493):
            tokens = await store.response_tokens(
                ALICE, record.conversation_id, stored[i].response_id
            )
            assert tokens == list(items[i].response.tokens or ())
        assert (
            await store.response_tokens(ALICE, record.conversation_id, stored[2].response_id) == []
        )
        hits = await store.count_search(ALICE, "zebra2498", SearchFilters())
        assert hits == 1
    assert index_problems_of(db) == []


def test_topic_conditioning_of_an_extended_path_equals_a_fresh_one() -> None:
    """The cached earlier-turn weights give what one pass over the whole path gives."""
    from grove_explorer.server.sampler.offline import topic

    texts = [
        "How do I prune roses in a small garden?",
        "Prune roses in late winter, above an outward bud, with clean shears.",
        "What about tomatoes and their watering?",
        "Water tomatoes deeply twice a week; mulch keeps the soil moist.",
        "Tell me about compost for vegetables and roses.",
        "",
    ]
    path: list[tuple[str, str]] = []
    warm: list[Any] = []
    for turn in range(24):
        sender = "human" if turn % 2 == 0 else "model"
        path.append((sender, texts[turn % len(texts)] + f" garden{turn % 5}"))
        if turn % 3 == 2:
            path.append(("model", texts[(turn + 1) % len(texts)]))  # a path ending in a reply
        warm.append(topic.conditioning(tuple(path)))
    cold: list[Any] = []
    prefixes = [tuple(path[: len(path) - k]) for k in range(len(path))]
    for prefix in prefixes:
        topic.clear_memos()
        cold.append(topic.conditioning(prefix))
    topic.clear_memos()
    fresh = {prefix: c for prefix, c in zip(prefixes, cold, strict=True)}
    replayed: list[tuple[str, str]] = []
    for turn in range(24):
        sender = "human" if turn % 2 == 0 else "model"
        replayed.append((sender, texts[turn % len(texts)] + f" garden{turn % 5}"))
        if turn % 3 == 2:
            replayed.append(("model", texts[(turn + 1) % len(texts)]))
        expected = fresh[tuple(replayed)]
        got = warm[turn]
        assert (got.boost, got.topic_ids, got.openings) == (
            expected.boost,
            expected.topic_ids,
            expected.openings,
        )


async def test_cached_paths_read_like_fresh_ones_and_end_with_their_conversation(
    tmp_path: Path,
) -> None:
    """Paths kept from stored responses equal a fresh read; a deleted conversation has none."""
    async with SqliteStore(tmp_path / "grove.sqlite3") as store:
        conversation = await store.create_conversation(ALICE)
        cid = conversation.conversation_id
        parent = None
        ids = []
        for i in range(40):
            record = await store.add_response(
                ALICE,
                NewResponse(
                    conversation_id=cid,
                    message=f"message {i}",
                    sender="human" if i % 2 == 0 else "model",
                    parent_response_id=parent,
                ),
            )
            parent = record.response_id
            ids.append(parent)
        kept = await store.path_to(ALICE, cid, ids[-1])
        store.paths.clear()
        fresh = await store.path_to(ALICE, cid, ids[-1])
        assert kept == fresh and [r.response_id for r in fresh] == ids
        with pytest.raises(UnknownParentError):
            await store.path_to("bob", cid, ids[-1])
        assert await store.mark_shared(ALICE, cid, ids[:3]) == 3
        shared = await store.path_to(ALICE, cid, ids[2])
        assert [r.shared for r in shared] == [True, True, True]
        await store.path_to(ALICE, cid, ids[-1])  # kept again
        assert await store.delete_conversation(ALICE, cid)
        with pytest.raises(UnknownParentError):
            await store.path_to(ALICE, cid, ids[-1])


async def test_a_refused_import_names_the_response_by_position_and_id(stub: Any) -> None:
    request = _chain(3)
    request.responses[1].sender = "robot"
    error = await _error(stub.ImportConversation(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("Response 2 (") and "r1" in error.details()
    assert "sender must be human or model" in error.details()
    request = _chain(3)
    request.responses[2].message = "x\x00y"
    error = await _error(stub.ImportConversation(request))
    assert error.details().startswith("Response 3 (") and "NUL" in error.details()


def test_prompt_count_of_extended_and_other_paths_equals_a_plain_count() -> None:
    from grove_explorer.server.sampler.offline.sampler import _COUNT_TOKEN_RE, OfflineSampler

    sampler = OfflineSampler()
    texts = ["Hello, world!", "Don't panic?", "one two three", "four.", "", "a-b c'd e"]
    path: list[PathMessage] = []
    for turn in range(40):
        path.append(PathMessage("human" if turn % 2 == 0 else "model", texts[turn % 6] * turn))
        for candidate in (path, path[:-3], path[::2], path[1:]):
            plain = sum(len(_COUNT_TOKEN_RE.findall(m.text)) for m in candidate)
            assert sampler.count_tokens(candidate) == plain


async def test_has_conversation_is_get_conversation_without_the_record(tmp_path: Path) -> None:
    """AddResponse checks its conversation with `has_conversation` (no response count)."""
    async with SqliteStore(tmp_path / "grove.sqlite3") as store:
        kept = await store.create_conversation(ALICE)
        gone = await store.create_conversation(ALICE)
        assert await store.delete_conversation(ALICE, gone.conversation_id)
        for user, cid in (
            (ALICE, kept.conversation_id),
            ("bob", kept.conversation_id),
            (ALICE, gone.conversation_id),
            (ALICE, "0" * 32),
        ):
            expected = await store.get_conversation(user, cid) is not None
            assert await store.has_conversation(user, cid) is expected
        assert await store.has_conversation(ALICE, kept.conversation_id)
