"""Migration 14 and AddResponse: a replayed turn's `replay_of`, a reply's system prompt name.

A real server on loopback with a temporary SQLite file and the offline model: every sampled
chat reply records the prompt name its request used ("" the default, None when none was
sent); a replayed human message and reply keep the originals they replay, through reads,
checkpoints and imports (mapped to the new ids).
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.store import ImportItem, NewResponse, SqliteStore
from grove_explorer.server.store.sqlite.checkpoints import (
    _decode_new_response,
    _encode_new_response,
)
from tests.server.old_databases import OLD_CONVERSATION, database_at_version
from tests.server.test_store import (  # the fixtures too
    ALICE,
    db_path,  # noqa: F401
    human,
    store,  # noqa: F401
)


async def _add(
    stub: chat_pb2_grpc.ChatStub, **fields: object
) -> tuple[chat_pb2.Response | None, chat_pb2.Response]:
    """The stored human message (None without one) and model reply of one AddResponse."""
    user: chat_pb2.Response | None = None
    model: chat_pb2.Response | None = None
    async for message in stub.AddResponse(chat_pb2.AddResponseRequest(**fields)):  # type: ignore[arg-type]
        if message.HasField("user_response"):
            user = message.user_response
        if message.HasField("model_response"):
            model = message.model_response
    assert model is not None
    return user, model


@pytest.fixture
async def stub(server: GroveServer) -> chat_pb2_grpc.ChatStub:
    channel = grpc.aio.insecure_channel(server.address)
    return chat_pb2_grpc.ChatStub(channel)


async def _conversation(stub: chat_pb2_grpc.ChatStub) -> str:
    created = await stub.CreateConversation(chat_pb2.CreateConversationRequest())
    return created.conversation_id


def _prompt(response: chat_pb2.Response) -> str | None:
    return response.system_prompt_name if response.HasField("system_prompt_name") else None


async def test_every_sampled_reply_records_its_system_prompt(
    stub: chat_pb2_grpc.ChatStub,
) -> None:
    cid = await _conversation(stub)
    question, default = await _add(stub, conversation_id=cid, message="Hi?", use_grok=True)
    assert question is not None and _prompt(question) is None  # a human message has none
    _, fun = await _add(
        stub,
        conversation_id=cid,
        parent_response_id=question.response_id,
        use_grok=True,
        system_prompt_name="fun",
    )
    _, raw_reply = await _add(
        stub, conversation_id=cid, parent_response_id=question.response_id, use_grok=False
    )
    _, completion = await _add(
        stub,
        conversation_id=cid,
        parent_response_id=question.response_id,
        use_grok=True,
        system_prompt_name="fun",
        mode=chat_pb2.SAMPLING_MODE_COMPLETION,
    )
    manual = await stub.AddModelResponse(
        chat_pb2.AddModelResponseRequest(
            conversation_id=cid, message="mine", parent_response_id=question.response_id
        )
    )
    assert [_prompt(r) for r in (default, fun, raw_reply, completion, manual)] == [
        "",
        "fun",
        None,  # use_grok false: no prompt was sent
        None,  # completion mode: the document is all there is
        None,
    ]
    stored = await stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    by_id = {r.response_id: _prompt(r) for r in stored.responses}
    assert by_id[fun.response_id] == "fun" and by_id[default.response_id] == ""
    assert by_id[raw_reply.response_id] is None


async def test_a_replayed_turn_keeps_the_originals_it_replays(
    stub: chat_pb2_grpc.ChatStub,
) -> None:
    cid = await _conversation(stub)
    question, reply = await _add(stub, conversation_id=cid, message="Why is the sky blue?")
    assert question is not None
    copy, replayed = await _add(
        stub,
        conversation_id=cid,
        message=question.message,
        replay_of_human=question.response_id,
        replay_of_reply=reply.response_id,
        use_grok=True,
    )
    assert copy is not None
    assert copy.replay_of == question.response_id
    assert replayed.replay_of == reply.response_id
    assert replayed.parent_response_id == copy.response_id
    stored = await stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    by_id = {r.response_id: r.replay_of for r in stored.responses}
    assert by_id == {
        question.response_id: "",
        reply.response_id: "",
        copy.response_id: question.response_id,
        replayed.response_id: reply.response_id,
    }


async def test_an_import_maps_replay_of_and_keeps_the_prompt_name(
    stub: chat_pb2_grpc.ChatStub,
) -> None:
    def response(rid: str, parent: str, sender: str, **extra: object) -> chat_pb2.Response:
        return chat_pb2.Response(
            response_id=rid,
            parent_response_id=parent,
            sender=sender,
            message=f"text of {rid}",
            **extra,  # type: ignore[arg-type]
        )

    request = chat_pb2.ImportConversationRequest(
        title="replayed",
        responses=[
            response("q", "", "human"),
            response("a", "q", "model", system_prompt_name=""),
            response("q2", "", "human", replay_of="q"),
            response("a2", "q2", "model", replay_of="a", system_prompt_name="fun"),
        ],
    )
    imported = await stub.ImportConversation(request)
    ids = {r.message.removeprefix("text of "): r for r in imported.responses}
    assert ids["q2"].replay_of == ids["q"].response_id
    assert ids["a2"].replay_of == ids["a"].response_id
    assert _prompt(ids["a"]) == "" and _prompt(ids["a2"]) == "fun" and _prompt(ids["q"]) is None

    bad = chat_pb2.ImportConversationRequest(
        responses=[response("q", "", "human", replay_of="later"), response("later", "", "human")]
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ImportConversation(bad)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "replays 'later', which does not come before it in the import" in str(
        info.value.details()
    )
    human_prompt = chat_pb2.ImportConversationRequest(
        responses=[response("q", "", "human", system_prompt_name="fun")]
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ImportConversation(human_prompt)
    assert "only a sampled model reply has a system_prompt_name" in str(info.value.details())


async def test_upgrade_from_version_13_reads_old_replies_as_unknown(
    db_path: Path,  # noqa: F811
) -> None:
    await database_at_version(db_path, 13)
    async with SqliteStore(db_path) as opened:
        (old,) = await opened.list_responses(ALICE, OLD_CONVERSATION)
        assert (old.replay_of, old.system_prompt_name) == ("", None)
        assert await opened.check_integrity() == []


async def test_a_checkpoint_keeps_replay_of_and_the_prompt(store: SqliteStore) -> None:  # noqa: F811
    conversation = await store.create_conversation(ALICE)
    question = await store.add_response(ALICE, human(conversation.conversation_id, None))
    reply = NewResponse(
        conversation_id=conversation.conversation_id,
        message="so far",
        sender="model",
        parent_response_id=question.response_id,
        replay_of="a" * 32,
        system_prompt_name="fun",
    )
    back = _decode_new_response(_encode_new_response(reply))
    assert (back.replay_of, back.system_prompt_name) == ("a" * 32, "fun")


async def test_the_store_import_maps_replay_of(store: SqliteStore) -> None:  # noqa: F811
    items = [
        ImportItem("q", None, human("", None, "Why?")),
        ImportItem("q2", None, NewResponse("", "Why?", "human", None, replay_of="q")),
    ]
    record, responses = await store.import_forest(ALICE, "imported", False, items)
    listed = await store.list_responses(ALICE, record.conversation_id)
    assert [r.replay_of for r in listed] == ["", responses[0].response_id]
    assert [r.replay_of for r in responses] == ["", responses[0].response_id]
