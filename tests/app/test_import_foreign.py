"""`grove import FILE --from …`: trees from other tools, end to end against a real server.

The fixtures are the small real-shaped files of tests/client/foreign_fixtures/. Each
conversation of a file becomes one conversation: responses and parents as in the tool,
the leaf on the tool's current node, and what Grove cannot hold reported with counts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grove_explorer.client import Client
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from tests.app.test_headless import (
    grove,
    isolated,  # noqa: F401 (an autouse fixture)
)

FIXTURES = Path(__file__).parents[1] / "client" / "foreign_fixtures"


@pytest.fixture
def server_config(tmp_path: Path) -> ServerConfig:
    """A server whose message limit a test message can pass (the fixtures stay below it)."""
    return ServerConfig(
        host="127.0.0.1", port=0, db=tmp_path / "grove.sqlite3", max_message_bytes=4000
    )


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(FIXTURES / name, target)
    return target


async def _shape(client: Client, cid: str) -> tuple[list[tuple[str, str, str, str]], str]:
    """(message, parent's message, sender, model) per response, and the leaf's message."""
    conversation = await client.grok.get_conversation(cid)
    by_id = {r.response_id: r for r in conversation.responses}
    rows = []
    for response in conversation.responses:
        parent = by_id[response.parent_response_id] if response.parent_response_id else None
        rows.append(
            (
                response.message,
                parent.message if parent is not None else "",
                response.sender,
                response.model_name,
            )
        )
    leaf = conversation.leaf_response_id
    assert leaf is not None
    return rows, by_id[leaf].message


async def test_chatgpt_export_imports_each_good_conversation_and_names_the_bad_one(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _copy(tmp_path, "chatgpt_conversations.json")
    before = len(await client.grok.list_conversations())
    code, out, err = await grove(capsys, "import", str(path), "--server", server.address)
    assert code == 1  # one conversation of three could not be read
    ids = out.split()
    assert len(ids) == 2
    lines = err.splitlines()
    assert lines[0] == (
        f"grove: {path}: $[1].mapping.x.message.author.role: must be system, user, assistant "
        "or tool, not 'critic' (conversation \"Broken\" not imported)."
    )
    assert lines[1] == (
        f'grove: {path}: $[0] "Tide tables": not imported: 1 hidden system message, 1 image, '
        "1 tool call, 1 tool output."
    )
    assert len(lines) == 2
    assert len(await client.grok.list_conversations()) == before + 2  # none for the bad one
    rows, leaf = await _shape(client, ids[0])
    assert rows == [
        ("What tide is shown here?", "", "human", ""),
        ("A spring tide, about 4.2 m.", "What tide is shown here?", "model", "gpt-4o"),
        ("Compute the next high tide at Brest.", "", "human", ""),
        (
            "The next high tide at Brest is at 14:32.",
            "Compute the next high tide at Brest.",
            "model",
            "gpt-4o-mini",
        ),
    ]
    assert leaf == "The next high tide at Brest is at 14:32."
    conversation = await client.grok.get_conversation(ids[0])
    assert conversation.title == "Tide tables (imported)"


async def test_openwebui_export_as_json_with_the_leaf_on_the_current_reply(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _copy(tmp_path, "openwebui_export.json")
    code, out, err = await grove(
        capsys, "import", str(path), "--from", "openwebui", "--json", "--server", server.address
    )
    assert code == 0
    (item,) = json.loads(out)
    assert item["title"] == "Rust lifetimes (imported)"
    assert item["responses"] == 5
    assert item["skipped"] == {"cited source": 1, "image": 1}
    assert err == f'grove: {path}: $[0] "Rust lifetimes": not imported: 1 cited source, 1 image.\n'
    rows, leaf = await _shape(client, item["id"])
    question = "Explain 'a in fn longest<'a>."
    assert [row[1:] for row in rows] == [
        ("", "human", ""),
        (question, "model", "llama3.1:8b"),
        (question, "model", "qwen2.5:7b"),
        ("The returned reference lives as long as the shorter input.", "human", ""),
        ("Show an example.", "model", "qwen2.5:7b"),
    ]
    assert leaf == "The returned reference lives as long as the shorter input."


async def test_loom_tree_is_a_prompt_with_continuations(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _copy(tmp_path, "loom_tree.json")
    code, out, err = await grove(capsys, "import", str(path), "--server", server.address)
    assert code == 0
    assert err == f'grove: {path}: $ "loom tree": not imported: 1 empty node.\n'
    conversation = await client.grok.get_conversation(out.strip())
    rows, leaf = await _shape(client, out.strip())
    prompt = "The lighthouse keeper counted the ships"
    assert [row[:3] for row in rows] == [
        (prompt, "", "human"),
        (" until the fog swallowed the last mast.", prompt, "model"),
        (" and wrote each name in a salt-stained book.", prompt, "model"),
        (" One name was her own.", " and wrote each name in a salt-stained book.", "model"),
    ]
    assert leaf == " One name was her own."
    manual = {r.message: (r.manual, r.model_name) for r in conversation.responses}
    assert manual[" One name was her own."] == (True, "")
    assert manual[" until the fog swallowed the last mast."] == (False, "davinci")


async def test_a_file_of_no_known_format_lists_the_formats_and_creates_nothing(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"messages": []}))
    before = len(await client.grok.list_conversations())
    code, out, err = await grove(capsys, "import", str(path), "--server", server.address)
    assert (code, out) == (1, "")
    assert err.startswith(f"grove: {path}: $: not a format Grove imports; it reads a Grove export")
    for name in ("chatgpt", "openwebui", "loom"):
        assert f"({name})" in err
    assert len(await client.grok.list_conversations()) == before


async def test_a_named_format_that_does_not_fit_says_where(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _copy(tmp_path, "loom_tree.json")
    code, out, err = await grove(
        capsys, "import", str(path), "--from", "chatgpt", "--server", server.address
    )
    assert (code, out) == (1, "")
    assert err == (
        f"grove: {path}: $.mapping: must be an object, not null "
        "(conversation (untitled) not imported).\n"
    )


async def test_a_conversation_the_server_refuses_stores_nothing_and_the_rest_go_on(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chats = json.loads((FIXTURES / "chatgpt_conversations.json").read_text(encoding="utf-8"))
    huge = chats[2]
    huge["title"] = "Too long"
    huge["mapping"]["m-1"]["message"]["content"]["parts"] = ["x" * 5000]
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([huge, chats[0]]))
    before = len(await client.grok.list_conversations())
    code, out, err = await grove(capsys, "import", str(path), "--server", server.address)
    assert code == 1
    assert len(out.split()) == 1
    first, second = err.splitlines()
    assert first.startswith(f"grove: {path}: $[0]: ") and "4000" in first
    assert second.startswith(f'grove: {path}: $[1] "Tide tables": not imported: ')
    assert len(await client.grok.list_conversations()) == before + 1
