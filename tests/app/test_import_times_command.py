"""`grove import` keeps the file's times: other tools' and Grove's own, against a real server.

Each fixture of tests/client/foreign_fixtures/ (ChatGPT, Open WebUI, loom) imports with
every message at the time the tool wrote, the conversation created at the tool's time and
updated at its latest message; a `grove export --format json` file imports back with
every create and start time it had (a round trip keeps them, branches included).
Responses the server could not keep as given (no time, before their parent) are said on
stderr with counts and counted in `--json`; a time after the server's clock refuses that
conversation; `--no-keep-times` stores the import's time, as before.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from grove_explorer.client import Client, SamplingParams
from grove_explorer.client.export.import_reply import times_sentences
from grove_explorer.protos import chat_pb2
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from tests.app.test_headless import (
    chat,
    grove,
    isolated,  # noqa: F401 (an autouse fixture)
)
from tests.helpers import collect

FIXTURES = Path(__file__).parents[1] / "client" / "foreign_fixtures"


@pytest.fixture
def server_config(tmp_path: Path) -> ServerConfig:
    """A server whose message limit a test message can pass (the fixtures stay below it)."""
    return ServerConfig(
        host="127.0.0.1", port=0, db=tmp_path / "grove.sqlite3", max_message_bytes=4000
    )


def _epoch(seconds: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(FIXTURES / name, target)
    return target


async def _times(client: Client, cid: str) -> tuple[list[tuple[str, datetime]], Any]:
    """(message, create_time) per response in creation order, and the conversation."""
    conversation = await client.grok.get_conversation(cid)
    rows = []
    for response in conversation.responses:
        node = response.node
        assert node.create_time is not None and node.start_time == node.create_time
        rows.append((response.message, node.create_time))
    return rows, conversation


async def test_chatgpt_messages_keep_their_create_times(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _copy(tmp_path, "chatgpt_conversations.json")
    code, out, err = await grove(capsys, "import", str(path), "--json", "--server", server.address)
    assert code == 1  # the fixture's broken conversation; the others import
    assert "had no time" not in err and "before" not in err
    tide, haiku = json.loads(out)
    assert tide["times"] == {"kept": 4, "missing": 0, "raised": 0}
    rows, conversation = await _times(client, tide["id"])
    raw = json.loads(path.read_text(encoding="utf-8"))[0]
    given = {
        "".join(p for p in node["message"]["content"]["parts"] if isinstance(p, str)): node[
            "message"
        ]["create_time"]
        for node in raw["mapping"].values()
        if node["message"]
        and node["message"]["author"]["role"] in ("user", "assistant")
        and node["message"].get("recipient", "all") == "all"
    }
    assert rows and all(moment == _epoch(given[message]) for message, moment in rows)
    assert conversation.create_time == _epoch(raw["create_time"])  # 1714000000.123
    assert conversation.update_time == max(moment for _, moment in rows)
    rows, _ = await _times(client, haiku["id"])
    assert [moment for _, moment in rows] == [_epoch(1714000601.0), _epoch(1714000602.0)]


async def test_openwebui_messages_keep_their_timestamps(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _copy(tmp_path, "openwebui_export.json")
    code, out, err = await grove(capsys, "import", str(path), "--server", server.address)
    assert code == 0 and "had no time" not in err and "parent" not in err
    rows, conversation = await _times(client, out.strip())
    raw = json.loads(path.read_text(encoding="utf-8"))[0]
    stamps = {m["content"]: m["timestamp"] for m in raw["chat"]["history"]["messages"].values()}
    assert len(rows) == 5 and all(moment == _epoch(stamps[text]) for text, moment in rows)
    # The regenerated replies are siblings in the order of their times.
    assert [moment for _, moment in rows] == sorted(moment for _, moment in rows)
    assert conversation.create_time == _epoch(raw["created_at"])
    assert conversation.update_time == _epoch(1720000110)


async def test_loom_nodes_keep_their_creation_timestamps(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _copy(tmp_path, "loom_tree.json")
    code, out, _ = await grove(capsys, "import", str(path), "--server", server.address)
    assert code == 0
    rows, conversation = await _times(client, out.strip())

    def local(stamp: str) -> datetime:  # loom writes this machine's local time
        return datetime.strptime(stamp, "%Y-%m-%d-%H.%M.%S").astimezone()

    assert [moment for _, moment in rows] == [
        local("2021-09-18-13.02.11"),
        local("2021-09-18-13.02.40"),
        local("2021-09-18-13.02.41"),
        local("2021-09-18-13.05.02"),
    ]
    assert conversation.create_time == local("2021-09-18-13.02.11")


async def test_a_grove_export_round_trip_keeps_every_time(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--server", server.address)
    cid, _, _ = await chat(client, "Which way do the roots grow?", title="Times")
    conversation = await client.grok.get_conversation(cid)
    for _ in range(2):  # two more replies to the same message: siblings, started apart
        stream, future = await conversation.responses[1].resample(
            sampling=SamplingParams(max_tokens=6)
        )
        await collect(stream)
        await future
    target = tmp_path / "out.json"
    code, _, _ = await grove(capsys, "export", cid, "--format", "json", "-o", str(target), *at)
    assert code == 0
    first = json.loads(target.read_text(encoding="utf-8"))
    assert len(first["responses"]) == 4

    code, out, err = await grove(capsys, "import", str(target), "--json", *at)
    assert (code, err) == (0, "")
    created = json.loads(out)
    assert created["times"] == {"kept": 4, "missing": 0, "raised": 0}
    code, out, _ = await grove(
        capsys, "export", created["conversation_id"], "--format", "json", *at
    )
    second = json.loads(out)
    assert second["create_time"] == first["create_time"]

    def times(document: dict[str, Any]) -> list[tuple[str, str, str]]:
        return [(r["message"], r["create_time"], r["start_time"]) for r in document["responses"]]

    assert times(second) == times(first)
    assert any(r["create_time"] != r["start_time"] for r in first["responses"]), (
        "sampled replies' starts differ from their stored times, and are kept apart"
    )

    code, out, _ = await grove(capsys, "import", str(target), "--no-keep-times", "--json", *at)
    fresh = json.loads(out)
    assert "times" not in fresh
    code, out, _ = await grove(capsys, "export", fresh["conversation_id"], "--format", "json", *at)
    assert all(a[1] > b[1] for a, b in zip(times(json.loads(out)), times(first), strict=True))


def _chatgpt(*messages: tuple[str, str, str | None, float | None]) -> list[dict[str, Any]]:
    """One ChatGPT conversation of (id, parent, role, create_time) nodes under a root."""
    mapping: dict[str, Any] = {"root": {"id": "root", "message": None, "parent": None}}
    for node_id, parent, role, created in messages:
        mapping[node_id] = {
            "id": node_id,
            "parent": parent,
            "message": {
                "author": {"role": role},
                "content": {"content_type": "text", "parts": [f"text of {node_id}"]},
                "create_time": created,
            },
        }
    return [{"title": "Odd clock", "create_time": 1714000000.0, "mapping": mapping}]


async def test_missing_and_out_of_order_times_are_counted_on_stderr(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.json"
    path.write_text(
        json.dumps(
            _chatgpt(
                ("u", "root", "user", 1714000100.0),
                ("a", "u", "assistant", 1714000050.0),  # before its parent
                ("u2", "a", "user", None),  # ChatGPT writes null on some
                ("a2", "u2", "assistant", 1714000200.0),  # under one at the import's time
            )
        )
    )
    code, out, err = await grove(capsys, "import", str(path), "--json", "--server", server.address)
    assert code == 0
    assert err.splitlines() == [
        f'grove: {path}: $[0] "Odd clock": 1 response had no time in the file: stored at '
        "the time of the import.",
        f'grove: {path}: $[0] "Odd clock": 2 responses started before their parent in the '
        "file: stored at the parent's time, so each stays after its parent.",
    ]
    (created,) = json.loads(out)
    assert created["times"] == {"kept": 1, "missing": 1, "raised": 2}
    rows, _ = await _times(client, created["id"])
    assert [text for text, _ in rows] == ["text of u", "text of a", "text of u2", "text of a2"]
    assert rows[1][1] == rows[0][1] == _epoch(1714000100.0)
    assert rows[3][1] == rows[2][1] > _epoch(1714000200.0)


async def test_the_tools_current_node_stays_the_leaf_when_times_reorder_siblings(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file lists a1 before a2 but wrote a2 first: the leaf is still the file's a1."""
    data = _chatgpt(
        ("u", "root", "user", 1714000100.0),
        ("a1", "u", "assistant", 1714000300.0),
        ("a2", "u", "assistant", 1714000200.0),
    )
    data[0]["current_node"] = "a1"
    path = tmp_path / "regenerated.json"
    path.write_text(json.dumps(data))
    code, out, err = await grove(capsys, "import", str(path), "--server", server.address)
    assert (code, err) == (0, "")
    conversation = await client.grok.get_conversation(out.strip())
    assert [r.message for r in conversation.responses] == ["text of u", "text of a2", "text of a1"]
    leaf = conversation.leaf_response_id
    assert leaf is not None and conversation.get_response(leaf).message == "text of a1"


async def test_a_time_after_the_servers_clock_refuses_that_conversation(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    future = (datetime.now(UTC) + timedelta(days=3)).timestamp()
    path = tmp_path / "future.json"
    path.write_text(json.dumps(_chatgpt(("u", "root", "user", future))))
    code, out, err = await grove(capsys, "import", str(path), "--server", server.address)
    assert (code, out) == (1, "")
    assert err.startswith(f"grove: {path}: $[0]: Response 1 ('u'): its time ")
    assert "is after the server's clock" in err
    assert await client.grok.list_conversations() == []
    code, out, err = await grove(
        capsys, "import", str(path), "--no-keep-times", "--server", server.address
    )
    assert (code, err) == (0, "")


def test_a_server_that_ignores_the_flag_is_named() -> None:
    """A server from before keep_times sends no report: the user is told, not left guessing."""
    assert times_sentences(None, asked=True) == [
        "this server does not keep imported times (it is older than this grove): every "
        "response was stored at the time of the import."
    ]
    assert times_sentences(None, asked=False) == []
    assert times_sentences(chat_pb2.ImportTimes(kept=3), asked=True) == []
