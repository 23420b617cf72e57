"""The SDK's fusion: `Conversation.fuse` streams a fused reply; export and import keep it.

A real server on loopback (offline model); the sources are manual replies of known text
(tests/server/test_fusion.py builds them), so the demo fusion is known exactly.
"""

from __future__ import annotations

import json

import grpc
import pytest

from grove_explorer.client import Client, InvalidArgumentError
from grove_explorer.client.export import (
    collect_tokens,
    export_json,
    import_request,
    to_dot,
    to_markdown,
)
from grove_explorer.client.export.drawing import conversation_dot, conversation_markdown
from grove_explorer.client.ids import short_id
from grove_explorer.client.streams import ModelResponseEvent, TokensEvent
from grove_explorer.protos import chat_pb2_grpc
from grove_explorer.server.runtime import GroveServer
from tests.server.test_fusion import FUSED, Forest


async def _forest(server: GroveServer) -> Forest:
    async with grpc.aio.insecure_channel(server.address) as channel:
        return await Forest(chat_pb2_grpc.ChatStub(channel)).build()


async def test_fuse_streams_a_sibling_and_every_format_keeps_its_sources(
    server: GroveServer, client: Client
) -> None:
    forest = await _forest(server)
    conversation = await client.grok.get_conversation(forest.cid)
    stream = conversation.fuse(forest.sources, mode="checklist", points=["Cover young trees"])
    text, reply = "", None
    async for event in stream:
        if isinstance(event, TokensEvent):
            text += event.text
        elif isinstance(event, ModelResponseEvent):
            reply = event.response
    assert reply is not None and reply.message == text
    assert text == FUSED + "\n\n- Cover young trees"
    fused = conversation.get_response(reply.response_id)
    assert fused.merged_from == tuple(forest.sources) and fused.merge_mode == "checklist"
    assert fused.merge_instruction == "Cover young trees"
    assert fused.parent_response_id == forest.question

    document = export_json(conversation, await collect_tokens(conversation))
    entries = {entry["response_id"]: entry for entry in document["responses"]}
    assert entries[fused.response_id]["merged_from"] == forest.sources
    assert entries[fused.response_id]["merge_mode"] == "checklist"
    assert entries[fused.response_id]["merge_instruction"] == "Cover young trees"
    assert "merged_from" not in entries[forest.sources[0]], "other replies' entries unchanged"

    words = "⊕ fused (checklist) from " + ", ".join(short_id(s) for s in forest.sources)
    markdown = conversation_markdown(conversation, all_branches=True)
    assert words in markdown and markdown == to_markdown(document, all_branches=True)
    dot = conversation_dot(conversation)
    assert words in dot and dot == to_dot(document)
    assert f'"{forest.sources[1]}" -> "{fused.response_id}" [style=dotted' in dot

    copy = await client.grok.import_conversation(import_request(json.loads(json.dumps(document))))
    copied = [r for r in copy.responses if r.merged_from]
    assert len(copied) == 1
    new_sources = copied[0].merged_from
    assert len(new_sources) == 3 and not set(new_sources) & set(forest.sources), "new ids"
    assert [copy.get_response(s).message for s in new_sources] == [
        conversation.get_response(s).message for s in forest.sources
    ]
    assert copied[0].merge_mode == "checklist"
    reloaded = await client.grok.get_conversation(copy.conversation_id)
    assert reloaded.get_response(copied[0].response_id).merged_from == new_sources


async def test_an_import_naming_an_unknown_source_is_refused(
    server: GroveServer, client: Client
) -> None:
    forest = await _forest(server)
    conversation = await client.grok.get_conversation(forest.cid)
    stream = conversation.fuse(forest.sources)
    async for _ in stream:
        pass
    document = export_json(conversation, {})
    fused = next(e for e in document["responses"] if e.get("merged_from"))
    fused["merged_from"] = [forest.sources[0], "someone-else"]
    with pytest.raises(ValueError, match=r"merged_from.*'someone-else', which does not come"):
        import_request(document)
    # The server refuses it too, whoever built the request.
    request = import_request(export_json(conversation, {}))
    wire = next(r for r in request.responses if r.merged_from)
    wire.merged_from[1] = "f" * 32
    with pytest.raises(InvalidArgumentError, match="which does not come before it"):
        await client.grok.import_conversation(request)


async def test_the_service_streams_a_fusion_into_a_marked_placeholder(
    server: GroveServer, client: Client
) -> None:
    from grove_explorer.client.service import (
        ConversationService,
        ResponseAdded,
        ResponseCompleted,
        TokensAppended,
    )
    from grove_explorer.client.service.fusing import fusion_of

    forest = await _forest(server)
    service = ConversationService(client)
    await service.open(forest.cid)
    events: list[object] = []
    service.subscribe(events.append)
    reply = await service.fuse(forest.cid, fusion_of(forest.sources[:2]))
    assert reply is not None and reply.merged_from == tuple(forest.sources[:2])
    added = [e.node for e in events if isinstance(e, ResponseAdded)]
    assert len(added) == 1 and added[0].streaming, "one new streaming column"
    assert added[0].merged_from == tuple(forest.sources[:2]) and added[0].merge_mode == "fuse"
    assert added[0].parent_id == forest.question
    streamed = "".join(e.text for e in events if isinstance(e, TokensAppended))
    assert streamed == reply.message
    (done,) = [e for e in events if isinstance(e, ResponseCompleted)]
    assert done.node.response_id == reply.response_id
    assert service.forest(forest.cid).responses[reply.response_id].merge_mode == "fuse"
    assert service.forest(forest.cid).leaf_id != reply.response_id, "the place stays"
    with pytest.raises(ValueError, match="at least 2 replies"):
        fusion_of(forest.sources[:1])


async def test_a_stopped_fusion_is_kept_partial_with_its_sources(make_server: object) -> None:
    running: GroveServer = make_server(token_delay_ms=40.0)  # type: ignore[operator]
    await running.start()
    try:
        forest = await _forest(running)
        async with Client(api_host=running.address) as sdk:
            conversation = await sdk.grok.get_conversation(forest.cid)
            stream = conversation.fuse(forest.sources, mode="custom", instruction="Be brief.")
            reply, stopped = None, None
            async for event in stream:
                if isinstance(event, TokensEvent) and stopped is None:
                    stopped = await stream.stop()  # once: tokens already sent still arrive
                elif isinstance(event, ModelResponseEvent):
                    reply = event.response
            assert stopped is True and reply is not None and reply.partial
            assert reply.finish_reason == "stopped"
            assert reply.merged_from == tuple(forest.sources) and reply.merge_mode == "custom"
            assert FUSED.startswith(reply.message) and reply.message != FUSED
            assert reply.merge_instruction == "Be brief."
    finally:
        await running.stop()
