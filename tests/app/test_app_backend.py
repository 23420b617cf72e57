"""The explorer on a real-model backend: replies, failures and titles through the app.

The backend is tests/fake_openai.py, a real OpenAI-compatible HTTP server on loopback.
"""

from __future__ import annotations

from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, send, settle
from tests.fake_openai import DEFAULT_REPLY, FakeOpenAI

SIZE = (120, 36)


async def test_a_reply_from_the_endpoint_is_shown_and_titled(
    openai_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    async with explorer(openai_server.address, size=SIZE) as (_, pilot, screen):
        await send(pilot, "How do apple trees survive the winter?")
        await settle(pilot)
        forest = screen.forest
        assert forest is not None
        human, reply = forest.current_path
        assert reply.message == "".join(DEFAULT_REPLY) and reply.model_name == "fake"
        assert forest.conversation.title == "Gardens in Winter", "the model wrote the title"
        assert fake_openai.requests[0]["messages"][-1]["content"] == human.message


async def test_a_backend_failure_is_a_notification_and_the_partial_stays(
    openai_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    fake_openai.break_after = 3
    async with explorer(openai_server.address, size=SIZE) as (app, pilot, screen):
        await send(pilot, "Tell me a long story")
        await settle(pilot)
        notes = [(str(n.title), str(n.message)) for n in app._notifications]
        assert any(
            title == "Model backend failed" and "stream broke off after 3 tokens" in message
            for title, message in notes
        ), notes
        forest = screen.forest
        assert forest is not None
        _human, partial = forest.current_path
        assert partial.partial and partial.message == "".join(DEFAULT_REPLY[:3])
        assert not screen.composer.busy and screen.composer.text == ""
        assert screen.thread.live_response_id is None

        # A rate limit before any token: a clear sentence, the composer keeps nothing stale.
        fake_openai.break_after = None
        fake_openai.fail_status, fake_openai.retry_after = 429, "12"
        await send(pilot, "Once more")
        await settle(pilot)
        notes = [str(n.message) for n in app._notifications]
        assert any("rate" in m.lower() and "12" in m for m in notes), notes
        assert not screen.composer.busy
