"""A reply cut at max_tokens (or stopped, or broken off) says so in the thread and Compare."""

from __future__ import annotations

from grove_explorer.app.screens.compare import CompareScreen
from grove_explorer.app.widgets.message_view import MessageView, header_text
from grove_explorer.client import Client
from grove_explorer.client.finish import reply_marker
from grove_explorer.client.models import ResponseNode
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, settle, until

SIZE = (140, 40)


def test_reply_marker_words_each_ending() -> None:
    assert reply_marker(False, "length") == "cut at max tokens"
    assert reply_marker(False, "stop") == ""
    assert reply_marker(False, "") == "", "unknown (old rows) shows nothing"
    assert reply_marker(True, "stopped") == "partial: stopped by you"
    assert reply_marker(True, "error") == "partial: backend failed"
    assert reply_marker(True, "") == "partial"
    node = ResponseNode(
        response_id="m", parent_id="h", sender="model", message="x", finish_reason="length"
    )
    assert header_text(node, (1, 1)).plain == "Model · cut at max tokens · m"


def headers_in_thread(screen) -> dict[str, str]:
    return {v.response_id: v.header.plain for v in screen.query(MessageView)}


async def test_thread_and_compare_mark_a_reply_cut_at_max_tokens(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, main):
        service = main.service
        forest = await service.new_conversation()
        cid = forest.conversation.conversation_id
        cut = await service.send(
            cid, "Tell me about oaks.", None, sampling=SamplingParams(max_tokens=2000, seed=5)
        )
        assert cut is not None
        await service.resample(cid, cut.response_id, sampling=SamplingParams(max_tokens=3))
        await settle(pilot)
        siblings = service.forest(cid).siblings_of(cut.response_id)
        whole_id, cut_id = siblings
        assert service.forest(cid).responses[cut_id].finish_reason == "length"
        assert service.forest(cid).responses[whole_id].finish_reason == "stop"
        # The thread shows the selected (newest) reply: cut, and it says so.
        await until(pilot, lambda: cut_id in headers_in_thread(main), "the cut reply shown")
        header = headers_in_thread(main)[cut_id]
        assert "cut at max tokens" in header and "branch 2/2" in header
        # The whole reply, once selected, carries no such word.
        service.select(cid, whole_id)
        await until(pilot, lambda: whole_id in headers_in_thread(main), "the whole reply shown")
        assert "cut" not in headers_in_thread(main)[whole_id]
        # Compare's column headers say the same.
        main.thread.focus()
        assert main.thread.focus_message(whole_id)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), "compare screen")
        await settle(pilot)
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        first, second = compare.header_texts()
        assert "cut at max tokens" not in first
        assert "cut at max tokens" in second


async def test_partials_say_why_they_stopped(server: GroveServer, client: Client) -> None:
    request = chat_pb2.ImportConversationRequest(title="Interrupted")
    request.responses.append(chat_pb2.Response(response_id="h", sender="human", message="Hi"))
    request.responses.append(
        chat_pb2.Response(
            response_id="m",
            sender="model",
            message="Half a",
            parent_response_id="h",
            partial=True,
            finish_reason=chat_pb2.FINISH_REASON_STOPPED,
        )
    )
    imported = await client.grok.import_conversation(request)
    async with explorer(server.address, size=SIZE) as (_, pilot, main):
        main.action_open_conversation(imported.conversation_id)
        await settle(pilot)
        reply_id = imported.responses[1].response_id
        await until(pilot, lambda: reply_id in headers_in_thread(main), "the partial reply")
        assert "partial: stopped by you" in headers_in_thread(main)[reply_id]
