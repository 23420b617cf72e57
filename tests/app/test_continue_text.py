"""`C` continues a message's text: a model child sampled in completion mode."""

from __future__ import annotations

from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, send, settle, until

SIZE = (110, 36)


async def test_continue_adds_a_model_child_under_the_model_reply(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        await send(pilot, "The old lighthouse")
        await settle(pilot)
        forest = screen.forest
        reply = forest.current_path[-1]
        assert not reply.is_human
        screen.thread.focus()
        screen.thread.focus_message(reply.response_id)
        await pilot.press("C")
        await until(pilot, lambda: forest.current_path[-1].parent_id == reply.response_id, "child")
        await settle(pilot)
        child = forest.current_path[-1]
        assert not child.is_human and not child.streaming and child.message
        assert [n.response_id for n in forest.current_path[-2:]] == [
            reply.response_id,
            child.response_id,
        ], "model → model: the continuation is the reply's child, and the leaf"
        assert forest.children_of(reply.response_id) == [child.response_id]
