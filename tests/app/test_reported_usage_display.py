"""A reply's token count next to the endpoint's own figure, never contradicting the tokens.

`token_count` is what was received and stored (the token view); an endpoint's usage may be
an estimate (LiteLLM), so when it differs the headers say both.
"""

from __future__ import annotations

from pathlib import Path

from grove_explorer.app.widgets.message_view import MessageView, header_text
from grove_explorer.app.widgets.sample_column import column_header
from grove_explorer.client import Client
from grove_explorer.client.models import ReportedUsage, ResponseNode
from grove_explorer.server.runtime import GroveServer
from tests.app.test_headless_limits import grove, human, import_forest, model
from tests.app_helpers import explorer, send, settle
from tests.fake_openai import FakeOpenAI


def _reply(usage: ReportedUsage | None, count: int = 20) -> ResponseNode:
    return ResponseNode(
        response_id="r" * 32,
        parent_id="h" * 32,
        sender="model",
        message="twenty tokens",
        token_count=count,
        reported_usage=usage,
    )


def test_a_differing_report_is_shown_beside_the_received_count() -> None:
    estimated = _reply(ReportedUsage(prompt_tokens=9, completion_tokens=18))
    assert "20 tokens (endpoint reported 18)" in header_text(estimated, (1, 1)).plain
    assert "20 tokens (endpoint reported 18)" in column_header(estimated, (1, 1)).plain


def test_an_agreeing_or_missing_report_shows_the_count_alone() -> None:
    for node in (_reply(ReportedUsage(prompt_tokens=9, completion_tokens=20)), _reply(None)):
        for plain in (header_text(node, (1, 1)).plain, column_header(node, (1, 1)).plain):
            assert "20 tokens" in plain and "reported" not in plain
    single = _reply(ReportedUsage(prompt_tokens=1, completion_tokens=2), count=1)
    assert "1 token (endpoint reported 2)" in header_text(single, (1, 1)).plain


def test_a_streaming_column_counts_what_arrived() -> None:
    estimated = _reply(ReportedUsage(prompt_tokens=9, completion_tokens=18))
    plain = column_header(estimated, (1, 1), streaming=True, tokens=5).plain
    assert "5 tokens" in plain and "reported" not in plain


async def test_the_thread_shows_both_counts_after_an_estimating_endpoint_replied(
    openai_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reply_tokens = [f"w{i} " for i in range(20)]
    fake_openai.usage_completion_tokens = 18
    async with explorer(openai_server.address, size=(120, 36)) as (_, pilot, screen):
        await send(pilot, "Count to twenty.")
        await settle(pilot)
        assert screen.forest is not None
        _, reply = screen.forest.current_path
        assert reply.token_count == 20
        headers = {v.response_id: v.header.plain for v in screen.query(MessageView)}
        assert "20 tokens (endpoint reported 18)" in headers[reply.response_id]


async def test_grove_show_says_both_counts(
    client: Client, server: GroveServer, tmp_path: Path
) -> None:
    reply = model("a", "twenty tokens", "q")
    reply.token_count = 20
    reply.reported_usage.prompt_tokens = 9
    reply.reported_usage.completion_tokens = 18
    cid = await import_forest(client, human("q", "Count."), reply)
    code, out, err = await grove(tmp_path, server, "show", cid)
    assert (code, err) == (0, "")
    assert "20 tokens (endpoint reported 18)" in out
