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


async def test_resampling_a_continuation_continues_too(server: GroveServer) -> None:
    """`r` on a continuation samples a sibling that continues the parent's text as well
    (completion mode), not a chat reply to a reply."""
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        await send(pilot, "The old lighthouse")
        await settle(pilot)
        forest = screen.forest
        reply = forest.current_path[-1]
        screen.thread.focus()
        screen.thread.focus_message(reply.response_id)
        await pilot.press("C")
        await until(pilot, lambda: forest.current_path[-1].parent_id == reply.response_id, "child")
        await settle(pilot)
        continuation = forest.current_path[-1]
        requests: list[int] = []
        conversation = screen.service._conversation(screen.conversation_id)
        original = conversation.sample

        def spy(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            requests.append(1 if kwargs.get("mode") == "completion" else 0)
            return original(*args, **kwargs)  # type: ignore[arg-type]

        conversation.sample = spy  # type: ignore[method-assign]
        screen.thread.focus_message(continuation.response_id)
        await pilot.press("r")
        await until(pilot, lambda: len(forest.children_of(reply.response_id)) == 2, "sibling")
        await settle(pilot)
        assert requests == [1], "the sibling of a continuation is sampled in completion mode"
