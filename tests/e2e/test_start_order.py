"""Branch numbers are by start order: live, after a reload, in `grove show` and in exports.

Two replies to one message are sampled in parallel; the one started first is slow (the
fake endpoint paces its tokens) and is stopped after the second one has finished, so the
store holds them in finish order (`seq`) while their numbers must follow start order.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from contextlib import closing

from grove_explorer.client import Client
from grove_explorer.client.export import export_json
from grove_explorer.client.forest import Forest
from grove_explorer.client.models import ConversationSummary, LiveResponseNode, ResponseNode
from grove_explorer.client.streams import TokensEvent
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from tests.fake_openai import FakeOpenAI

ENTRY = "from grove_explorer.app.cli import main; raise SystemExit(main())"


async def grove(*argv: str) -> tuple[int, str, str]:
    """Runs the real `grove` entry point in a subprocess."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ENTRY,
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"GROVE_CONFIG": "/nonexistent/grove.toml", "PATH": "/usr/bin:/bin"},
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_parallel_samples_keep_their_start_numbers(
    openai_server: GroveServer, fake_openai: FakeOpenAI, server_config: ServerConfig
) -> None:
    async with Client(api_host=openai_server.address) as sdk:
        conversation = sdk.grok.create_conversation()
        fake_openai.reply_tokens = [" First", " reply."]
        stream, future = conversation.add_response("Tell me about elms.")
        async for _ in stream:
            pass
        first = await future
        human_id = first.parent_response_id
        assert human_id is not None

        # Started first, slow: 200 tokens 50 ms apart.
        fake_openai.token_delay = 0.05
        fake_openai.reply_tokens = [f" slow{i}" for i in range(200)]
        slow = conversation.sample(parent_response_id=human_id)
        slow_events = aiter(slow)
        while not isinstance(await anext(slow_events), TokensEvent):
            pass  # the server has begun the slow stream (its start is reserved)

        # Started second, finished first.
        fake_openai.token_delay = 0.0
        fake_openai.reply_tokens = [" Quick."]
        quick = conversation.sample(parent_response_id=human_id)
        async for _ in quick:
            pass
        quick_reply = await quick.future
        assert await slow.stop()
        async for _ in slow_events:
            pass
        slow_reply = await slow.future
        assert slow_reply.partial

        cid = conversation.conversation_id
        expected = [first.response_id, slow_reply.response_id, quick_reply.response_id]

        # The store holds them in finish order: the test does exercise the swap.
        with closing(sqlite3.connect(server_config.db)) as db:
            seqs = dict(db.execute("SELECT response_id, seq FROM responses").fetchall())
        assert seqs[quick_reply.response_id] < seqs[slow_reply.response_id]

        # Live, in the SDK's own forest: by start.
        forest = conversation.forest
        assert forest.children_of(human_id) == expected
        assert forest.sibling_index(slow_reply.response_id) == (2, 3)
        assert [r.response_id for r in conversation.responses][-2:] == expected[1:]

        # After a reload (GetConversation's order) the same.
        loaded = await sdk.grok.get_conversation(cid)
        assert loaded.forest.children_of(human_id) == expected
        assert [r.response_id for r in loaded.responses][-2:] == expected[1:]
        assert loaded.get_response(slow_reply.response_id).start_time < (
            loaded.get_response(quick_reply.response_id).start_time
        )

        # In an export document, written by either handle.
        for handle in (conversation, loaded):
            document = export_json(handle, {})
            ids = [r["response_id"] for r in document["responses"]]
            assert ids.index(slow_reply.response_id) < ids.index(quick_reply.response_id)

    # `grove show` and `grove export` (real processes) number them the same.
    at = ("--server", openai_server.address)
    code, out, err = await grove("show", cid, "--leaf", slow_reply.response_id[:10], *at)
    assert code == 0, err
    slow_head = next(line for line in out.splitlines() if slow_reply.response_id[:12] in line)
    assert "branch 2/3" in slow_head
    code, out, err = await grove("show", cid, "--leaf", quick_reply.response_id[:10], *at)
    assert code == 0, err
    assert "branch 3/3" in next(
        line for line in out.splitlines() if quick_reply.response_id[:12] in line
    )
    code, out, err = await grove("export", cid, "--format", "json", *at)
    assert code == 0, err
    exported = [r["response_id"] for r in json.loads(out)["responses"]]
    assert exported.index(slow_reply.response_id) < exported.index(quick_reply.response_id)


def _node(response_id: str, parent: str | None, second: int | None) -> ResponseNode:
    from datetime import UTC, datetime

    start = None if second is None else datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC)
    return ResponseNode(
        response_id=response_id, parent_id=parent, sender="model", message="", start_time=start
    )


def test_placeholders_keep_their_slots_and_stored_replies_take_their_start_place() -> None:
    forest = Forest(conversation=ConversationSummary(conversation_id="c", title="", starred=False))
    forest.add(_node("h", None, 1))
    forest.add(_node("old", "h", 2))
    for name in ("live-a", "live-b"):  # two parallel samples, started in this order
        forest.add(
            LiveResponseNode(
                response_id=name, parent_id="h", sender="model", message="", streaming=True
            )
        )
    assert forest.children_of("h") == ["old", "live-a", "live-b"]

    # b finishes first: it stays 3/3 (a is still streaming in slot 2).
    forest.replace_placeholder("live-b", _node("b", "h", 4))
    assert forest.children_of("h") == ["old", "live-a", "b"]
    # a finishes: its recorded start (3) is before b's (4).
    forest.replace_placeholder("live-a", _node("a", "h", 3))
    assert forest.children_of("h") == ["old", "a", "b"]
    assert forest.sibling_index("a") == (2, 3)

    # Another client's reply, started before both but arriving last, takes its place.
    forest.add(_node("elsewhere", "h", 2))
    assert forest.children_of("h") == ["old", "elsewhere", "a", "b"]
    # Behind a streaming placeholder too: stored replies are ordered past it.
    forest.add(
        LiveResponseNode(
            response_id="live-c", parent_id="h", sender="model", message="", streaming=True
        )
    )
    forest.add(_node("early", "h", 1))
    assert forest.children_of("h") == ["early", "old", "elsewhere", "a", "b", "live-c"]
    forest.remove("live-c")
    forest.remove("early")
    # Nodes without a time (a hand-made document) stay where they were added.
    forest.add(_node("untimed", "h", None))
    assert forest.children_of("h")[-1] == "untimed"
