"""`grove export --format chatgpt|loom`: the forest in ChatGPT's and loom's formats.

Checked by reading each back with Grove's own reader of that format (`grove import --from
…`): an imported tree goes out and comes back with the same messages, parents, senders,
models and leaf; a Grove conversation with a branch keeps it; what the format cannot hold
is counted on stderr, never dropped silently.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grove_explorer.client import Client, SamplingParams
from grove_explorer.client.foreign import detect
from grove_explorer.server.runtime import GroveServer
from tests.app.test_headless import (
    chat,
    grove,
    isolated,  # noqa: F401 (an autouse fixture)
)
from tests.app.test_import_foreign import FIXTURES, _shape
from tests.helpers import collect


async def _round_trip(
    client: Client,
    server: GroveServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cid: str,
    fmt: str,
) -> tuple[str, object]:
    """Exports `cid` as `fmt`, imports the file; (the new conversation, the exported JSON)."""
    at = ("--server", server.address)
    code, out, _ = await grove(capsys, "export", cid, "--format", fmt, *at)
    assert code == 0
    exported = json.loads(out)
    assert detect(exported) == fmt
    path = tmp_path / f"{fmt}.json"
    path.write_text(out)
    code, out, _ = await grove(capsys, "import", str(path), "--from", fmt, *at)
    assert code == 0
    return out.strip(), exported


@pytest.mark.parametrize(
    ("fmt", "fixture"),
    [("chatgpt", "chatgpt_conversations.json"), ("loom", "loom_tree.json")],
)
async def test_an_imported_tree_goes_out_and_back_unchanged(
    client: Client,
    server: GroveServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    fixture: str,
) -> None:
    source = tmp_path / "in.json"
    shutil.copy(FIXTURES / fixture, source)
    code, out, _ = await grove(capsys, "import", str(source), "--server", server.address)
    # The ChatGPT fixture also holds a malformed conversation on purpose (exit 1, named).
    assert code == (1 if fmt == "chatgpt" else 0)
    first = out.strip().splitlines()[0]
    again, _ = await _round_trip(client, server, tmp_path, capsys, first, fmt)
    assert await _shape(client, again) == await _shape(client, first)


async def test_a_grove_branch_survives_chatgpt_and_its_tree_has_one_empty_root(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cid, human, model = await chat(client, "Name a fern.", title="Ferns")
    conversation = await client.grok.get_conversation(cid)
    reply = next(r for r in conversation.responses if r.response_id == model)
    stream, future = await reply.resample(sampling=SamplingParams(max_tokens=6, seed=9))
    await collect(stream)
    sibling = await future
    again, exported = await _round_trip(client, server, tmp_path, capsys, cid, "chatgpt")
    assert isinstance(exported, list)
    (record,) = exported
    mapping = record["mapping"]
    root = mapping["client-created-root"]
    assert root["message"] is None and root["children"] == [human]
    assert sorted(mapping[human]["children"]) == sorted([model, sibling.response_id])
    assert mapping[model]["message"]["author"]["role"] == "assistant"
    assert mapping[model]["message"]["metadata"]["model_slug"] == reply.model_name
    assert record["current_node"] in (model, sibling.response_id)
    assert await _shape(client, again) == await _shape(client, cid)


@pytest.mark.parametrize("fmt", ["chatgpt", "loom"])
async def test_what_the_format_cannot_hold_is_counted(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    cid, _, model = await chat(client, "Name a moss.")
    conversation = await client.grok.get_conversation(cid)
    reply = next(r for r in conversation.responses if r.response_id == model)
    await reply.annotate(rating=1, note="good", bookmarked=True, tags=["moss"])
    await conversation.star()
    code, _, err = await grove(capsys, "export", cid, "--format", fmt, "--server", server.address)
    assert code == 0
    name = {"chatgpt": "ChatGPT's format", "loom": "loom's format"}[fmt]
    assert err.startswith(f"grove: not in {name}: ")
    for part in ("1 bookmark", "1 note", "1 rating", "1 star", "1 tag set"):
        assert part in err
    # ChatGPT has no place for sampling parameters; loom keeps them with the generation.
    assert ("1 sampling parameter set" in err) == (fmt == "chatgpt")
