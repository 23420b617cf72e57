"""ConversationService and the forest models, against a real server."""

from __future__ import annotations

import asyncio

import pytest

from grove_explorer.client import Client, SamplingParams
from grove_explorer.client.forest import Forest
from grove_explorer.client.models import ConversationSummary, ResponseNode
from grove_explorer.client.service import (
    ConversationDeleted,
    ConversationService,
    ConversationUpdated,
    LeafMoved,
    ResponseAdded,
    ResponseCompleted,
    StreamFailed,
    TokensAppended,
)
from grove_explorer.server.runtime import GroveServer
from tests import both_stores
from tests.client.paced import paced_service

# Each test runs on both stores (SQLite, then PostgreSQL): conftest's fixtures overridden.
server_config = both_stores.server_config
make_server = both_stores.make_server


@pytest.fixture
def service(client: Client) -> ConversationService:
    return ConversationService(client)


def _record(service: ConversationService) -> list[object]:
    events: list[object] = []
    service.subscribe(events.append)
    return events


async def test_send_publishes_events_in_order(service: ConversationService) -> None:
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    events = _record(service)
    reply = await service.send(cid, "Tell me about forests.", None)
    assert reply is not None and reply.sender == "model" and not reply.streaming
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "ResponseAdded"  # the human message
    assert kinds[1] == "ResponseAdded"  # the streaming placeholder
    placeholder = events[1].node
    assert placeholder.streaming and placeholder.parent_id == events[0].node.response_id
    tokens = [e for e in events if isinstance(e, TokensAppended)]
    assert tokens and all(e.response_id == placeholder.response_id for e in tokens)
    assert "".join(e.text for e in tokens) == reply.message
    completed = [e for e in events if isinstance(e, ResponseCompleted)]
    assert len(completed) == 1 and completed[0].placeholder_id == placeholder.response_id
    assert completed[0].node == reply
    # The forest now holds the real reply at the placeholder's position, as the leaf.
    forest = service.forest(cid)
    assert forest.leaf_id == reply.response_id
    assert placeholder.response_id not in forest.responses
    assert [n.sender for n in forest.current_path] == ["human", "model"]


async def test_sibling_navigation_remembers_last_visited(service: ConversationService) -> None:
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    small = SamplingParams(max_tokens=5)
    first = await service.send(cid, "Question one.", None, sampling=small)
    deep = await service.send(cid, "Follow-up.", first.response_id, sampling=small)
    second = await service.resample(cid, first.response_id, sampling=small)
    forest = service.forest(cid)
    assert forest.sibling_index(second.response_id) == (2, 2)
    assert forest.leaf_id == second.response_id
    # Back to the first sibling: the path continues down to where we were under it.
    assert service.switch_sibling(cid, second.response_id, -1) == deep.response_id
    assert [n.response_id for n in forest.current_path][-1] == deep.response_id
    assert service.switch_sibling(cid, first.response_id, -1) is None
    assert service.switch_sibling(cid, first.response_id, +1) == second.response_id


async def test_edit_human_and_model(service: ConversationService) -> None:
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    reply = await service.send(cid, "Original question.", None)
    human_id = reply.parent_id
    edited_reply = await service.edit(cid, human_id, "Edited question.")
    forest = service.forest(cid)
    new_human = forest.responses[edited_reply.parent_id]
    assert new_human.message == "Edited question." and new_human.parent_id is None
    assert forest.sibling_index(new_human.response_id) == (2, 2)
    manual = await service.edit(cid, edited_reply.response_id, "My own answer.")
    assert manual.manual and manual.message == "My own answer."
    assert forest.leaf_id == manual.response_id
    assert forest.sibling_index(manual.response_id) == (2, 2)


async def test_stop_keeps_partial(make_server) -> None:
    async with paced_service(make_server, token_delay_ms=20.0) as (service, cid):
        first_tokens = asyncio.Event()

        def on_event(event: object) -> None:
            if isinstance(event, TokensAppended):
                first_tokens.set()

        service.subscribe(on_event)
        task = asyncio.create_task(
            service.send(cid, "Long story.", None, sampling=SamplingParams(max_tokens=500))
        )
        await first_tokens.wait()
        assert service.is_streaming(cid)
        placeholder = service.forest(cid).leaf_id
        await service.stop(placeholder)
        reply = await task
        assert reply is not None and reply.partial
        assert not service.is_streaming(cid)
        reopened = await service.open(cid)
        assert reopened.responses[reply.response_id].partial


async def test_failed_stream_publishes_error_and_keeps_human(
    service: ConversationService, server: GroveServer
) -> None:
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    events = _record(service)
    result = await service.send(cid, "hi", None, sampling=SamplingParams(temperature=99))
    assert result is None
    failures = [e for e in events if isinstance(e, StreamFailed)]
    assert len(failures) == 1 and "temperature" in str(failures[0].error)
    assert all(not n.streaming for n in service.forest(cid).responses.values())


async def test_conversation_metadata_events(service: ConversationService) -> None:
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    await service.send(cid, "Planting tulips in autumn", None)
    events = _record(service)
    summary = await service.generate_title(cid)
    assert summary.title == "Planting Tulips Autumn"
    await service.set_starred(cid, True)
    renamed = await service.set_title(cid, "Bulbs")
    assert renamed.starred and renamed.title == "Bulbs"
    assert [type(e) for e in events] == [ConversationUpdated] * 3
    listed = await service.list_conversations()
    assert [(c.title, c.starred, c.response_count) for c in listed] == [("Bulbs", True, 2)]
    await service.delete(cid)
    assert isinstance(events[-1], ConversationDeleted)
    assert await service.list_conversations() == []


def test_forest_descend_and_switch_without_server() -> None:
    summary = ConversationSummary(conversation_id="c", title="", starred=False)

    def node(rid: str, parent: str | None, sender: str = "model") -> ResponseNode:
        return ResponseNode(response_id=rid, parent_id=parent, sender=sender, message=rid)

    forest = Forest.build(
        summary,
        [
            node("h", None, "human"),
            node("a", "h"),
            node("b", "h"),
            node("a1", "a", "human"),
            node("a2", "a", "human"),
            node("b1", "b", "human"),
        ],
        "b1",
    )
    assert forest.sibling_index("b") == (2, 2)
    # a was never visited: descend to its newest child.
    assert forest.switch_sibling("b", -1) == "a2"
    forest.select("a1")
    assert forest.switch_sibling("a", +1) == "b1"
    assert forest.switch_sibling("b", -1) == "a1", "returns to the last visited leaf"
    with pytest.raises(KeyError):
        forest.select("nope")


def test_forest_handles_deep_paths() -> None:
    summary = ConversationSummary(conversation_id="c", title="", starred=False)
    nodes = [
        ResponseNode(
            response_id=str(i), parent_id=str(i - 1) if i else None, sender="model", message=""
        )
        for i in range(5000)
    ]
    forest = Forest.build(summary, nodes, "4999")
    assert len(forest.current_path) == 5000
    assert forest.descend("0") == "4999"


def test_forest_path_memo_follows_every_change() -> None:
    """`path_to` is memoised; each way the forest changes still shows up in paths."""
    summary = ConversationSummary(conversation_id="c", title="", starred=False)

    def node(rid: str, parent: str | None, message: str = "") -> ResponseNode:
        return ResponseNode(response_id=rid, parent_id=parent, sender="model", message=message)

    forest = Forest.build(summary, [node("a", None), node("b", "a"), node("c", "b")], "c")
    first = forest.current_path
    assert [n.response_id for n in first] == ["a", "b", "c"]
    first.append(node("x", "c"))  # callers get their own list
    assert [n.response_id for n in forest.current_path] == ["a", "b", "c"]
    revision = forest.revision

    # Replacing a node on the path (through `add`) shows the new node.
    edited = node("b", "a", "edited")
    forest.add(edited)
    assert forest.current_path[1] is edited and forest.revision != revision
    # A streaming placeholder replaced directly in `responses` (as the service does).
    forest.add(node("p", "c"))
    forest.select("p")
    forest.responses["p"] = node("p", "c", "more text")
    assert forest.current_path[-1].message == "more text"
    # Swapping the placeholder for the stored reply, and removing a leaf.
    forest.replace_placeholder("p", node("d", "c", "done"))
    assert [n.response_id for n in forest.current_path] == ["a", "b", "c", "d"]
    forest.remove("d")
    assert forest.leaf_id == "c" and len(forest.current_path) == 3
    with pytest.raises(KeyError):
        forest.path_to("d")
    # A shallow copy with another leaf shares the dicts, and sees later changes.
    copy = forest.model_copy(update={"leaf_id": "b"})
    assert [n.response_id for n in copy.current_path] == ["a", "b"]
    forest.add(node("b", "a", "edited again"))
    assert copy.current_path[-1].message == "edited again"
    # The memo never makes equal forests compare unequal.
    twin = forest.model_copy(deep=True)
    twin.path_to("a")
    assert twin == forest


async def test_leaf_moved_events_on_navigation(service: ConversationService) -> None:
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    reply = await service.send(cid, "One", None)
    events = _record(service)
    service.select(cid, reply.parent_id)
    assert events == [LeafMoved(cid, reply.parent_id)]
    assert isinstance(await service.open(cid), Forest)
    assert not any(isinstance(e, ResponseAdded) for e in events)


async def test_resample_many_runs_in_parallel(make_server) -> None:
    async with paced_service(make_server, token_delay_ms=5.0) as (service, cid):
        first = await service.send(cid, "Sample me many times.", None)
        events = _record(service)
        live: set[str] = set()
        overlap = 0

        def watch(event: object) -> None:
            nonlocal overlap
            if isinstance(event, ResponseAdded) and event.node.streaming:
                live.add(event.node.response_id)
                overlap = max(overlap, len(live))
            elif isinstance(event, ResponseCompleted):
                live.discard(event.placeholder_id)

        service.subscribe(watch)
        samples = await service.resample_many(
            cid, first.response_id, 4, sampling=SamplingParams(seed=100, max_tokens=30)
        )
        assert all(s is not None for s in samples)
        assert overlap == 4, "all four streams were live at once"
        assert [s.sampling.seed for s in samples] == [100, 101, 102, 103]
        assert len({s.message for s in samples}) > 1
        assert all(s.mean_logprob is not None and s.mean_logprob < 0 for s in samples)
        forest = service.forest(cid)
        assert forest.leaf_id == first.response_id, "the leaf does not move"
        assert len(forest.siblings_of(first.response_id)) == 5
        streams = {e.response_id for e in events if isinstance(e, TokensAppended)}
        assert len(streams) == 4
        with pytest.raises(ValueError):
            await service.resample_many(cid, first.parent_id, 2)


async def test_a_replay_publishes_each_response_as_it_is_stored(
    service: ConversationService,
) -> None:
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    leaf: str | None = None
    for text in ("First question.", "Second question."):
        reply = await service.send(cid, text, leaf, sampling=SamplingParams(max_tokens=4))
        assert reply is not None
        leaf = reply.response_id
    timeline: list[object] = []
    service.subscribe(lambda event: timeline.append(event))
    assert leaf is not None
    result = await service.replay(
        cid,
        leaf,
        model_name="",
        sampling=SamplingParams(max_tokens=4),
        progress=lambda step, total: timeline.append(("step", step, total)),
    )
    made = [turn.replayed_id for turn in result.turns]
    assert len(made) == 4
    added = [e.node.response_id for e in timeline if isinstance(e, ResponseAdded)]
    assert added == made, "each made response once, in the order made"
    # The first step's two responses are in the tree before the second step starts.
    second_step = timeline.index(("step", 2, 2))
    early = [e for e in timeline[:second_step] if isinstance(e, ResponseAdded)]
    assert [e.node.response_id for e in early] == made[:2]
    assert all(e.node.replay_of for e in early)
