"""`grove export --format openwebui`: the forest in Open WebUI's chat export format.

Checked by reading it back with the Open WebUI reader (`grove import --from openwebui`):
the same tree, roles, models and leaf; and what the format cannot hold is counted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grove_explorer.client import Client
from grove_explorer.client.foreign import detect
from grove_explorer.server.runtime import GroveServer
from tests.app.test_headless import (
    chat,
    grove,
    isolated,  # noqa: F401 (an autouse fixture)
)
from tests.app.test_import_foreign import FIXTURES, _shape


async def test_an_imported_tree_goes_out_and_back_unchanged(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--server", server.address)
    source = tmp_path / "in.json"
    shutil.copy(FIXTURES / "openwebui_export.json", source)
    code, out, _ = await grove(capsys, "import", str(source), *at)
    assert code == 0
    first = out.strip()
    code, out, err = await grove(capsys, "export", first, "--format", "openwebui", *at)
    assert (code, err) == (0, "")
    exported = json.loads(out)
    assert detect(exported) == "openwebui"
    (record,) = exported
    assert record["title"] == "Rust lifetimes (imported)"
    history = record["chat"]["history"]
    leaf = history["messages"][history["currentId"]]
    assert leaf["content"] == "The returned reference lives as long as the shorter input."
    assert [m["role"] for m in record["chat"]["messages"]] == ["user", "assistant"]
    assert sorted(record["chat"]["models"]) == ["llama3.1:8b", "qwen2.5:7b"]
    root = next(m for m in history["messages"].values() if m["parentId"] is None)
    assert root["models"] == ["llama3.1:8b", "qwen2.5:7b"] and len(root["childrenIds"]) == 2

    again = tmp_path / "out.json"
    again.write_text(out)
    code, out, _ = await grove(capsys, "import", str(again), *at)
    assert code == 0
    assert await _shape(client, out.strip()) == await _shape(client, first)


async def test_what_open_webui_cannot_hold_is_counted_and_ratings_are_kept(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cid, _, model = await chat(client, "Name a fern.", title="Ferns")
    conversation = await client.grok.get_conversation(cid)
    reply = next(r for r in conversation.responses if r.response_id == model)
    await reply.annotate(rating=1, note="good", bookmarked=True)
    code, out, err = await grove(
        capsys, "export", cid, "--format", "openwebui", "--server", server.address
    )
    assert code == 0
    assert err == "grove: not in Open WebUI's format: 1 bookmark, 1 sampling parameter set.\n"
    (record,) = json.loads(out)
    exported = record["chat"]["history"]["messages"][model]
    assert exported["annotation"] == {"rating": 1, "comment": "good"}
    assert exported["role"] == "assistant" and exported["model"] == reply.model_name
    assert exported["timestamp"] > 0
