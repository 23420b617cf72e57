"""`grove import` prints from the server's reply what a loaded conversation would give.

The command no longer loads the imported conversation into an SDK `Conversation` (the
forest of a long import cost more than the import): its id and `--json` metadata are read
from the reply, and must equal what the loaded conversation says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grove_explorer.client import Client
from grove_explorer.client.export import conversation_metadata, import_request
from grove_explorer.client.export.import_reply import imported_metadata
from grove_explorer.client.import_call import CHUNK_RESPONSES
from grove_explorer.server.runtime import GroveServer
from tests.app.test_headless import document, grove


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config, environment server or key leaks into these runs."""
    for var in ("XAI_API_HOST", "XAI_API_KEY", "GROVE_DB", "GROVE_TOKEN_DELAY_MS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GROVE_CONFIG", str(tmp_path / "no-config.toml"))


def _chain(size: int) -> dict[str, object]:
    responses = [
        {
            "response_id": f"r{i}",
            "parent_response_id": f"r{i - 1}" if i else None,
            "sender": "human" if i % 2 == 0 else "model",
            "manual": i % 2 == 1,
            "message": f"message {i}",
        }
        for i in range(size)
    ]
    return document(*responses, title="a chain")


async def test_import_json_equals_the_loaded_conversations_metadata(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "chain.json"
    data = _chain(7)
    path.write_text(json.dumps(data))
    code, out, err = await grove(capsys, "import", str(path), "--json", "--server", server.address)
    # The file gives no times: said (and counted in the JSON), never silently replaced.
    assert (code, err) == (
        0,
        f"grove: {path}: 7 responses had no time in the file: stored at the time of the import.\n",
    )
    printed = json.loads(out)
    assert printed.pop("times") == {"kept": 0, "missing": 7, "raised": 0}
    loaded = await client.grok.get_conversation(printed["conversation_id"])
    assert printed == json.loads(json.dumps(conversation_metadata(loaded)))
    assert printed["response_count"] == 7 and printed["title"] == "a chain (imported)"
    assert [r.message for r in loaded.responses] == [f"message {i}" for i in range(7)]

    code, out, _ = await grove(capsys, "import", str(path), "--server", server.address)
    assert code == 0
    again = await client.grok.get_conversation(out.strip())
    assert [r.message for r in again.responses] == [f"message {i}" for i in range(7)]


async def test_sdk_import_wire_reply_and_loaded_conversation_agree(client: Client) -> None:
    request = import_request(_chain(5))
    created = await client.grok.import_conversation_wire(request)
    loaded = await client.grok.get_conversation(created.conversation_id)
    assert imported_metadata(created) == conversation_metadata(loaded)
    adopted = await client.grok.import_conversation(request)
    assert [r.message for r in adopted.responses] == [r.message for r in loaded.responses]
    assert imported_metadata(created)["response_count"] == len(adopted.responses) == 5


async def test_a_problem_late_in_the_file_is_named_and_nothing_is_stored(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file is read a chunk at a time while the server stores the chunks before.

    A problem in a later chunk gets the sentence it got when the whole file was checked
    first (`import_request`'s), and the import stores nothing.
    """
    size = CHUNK_RESPONSES * 2 + 50
    data = _chain(size)
    bad = CHUNK_RESPONSES * 2 + 7
    data["responses"][bad]["sender"] = "robot"  # type: ignore[index]
    path = tmp_path / "late.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError) as whole:
        import_request(data)
    code, out, err = await grove(capsys, "import", str(path), "--server", server.address)
    assert (code, out) == (1, "")
    assert err == f"grove: {path}: {whole.value}\n"
    assert f"$.responses[{bad}].sender" in err
    assert await client.grok.list_conversations() == []
    # The same file without the problem imports whole.
    data["responses"][bad]["sender"] = "human" if bad % 2 == 0 else "model"  # type: ignore[index]
    path.write_text(json.dumps(data))
    code, out, err = await grove(
        capsys, "import", str(path), "--no-keep-times", "--server", server.address
    )
    assert (code, err) == (0, "")
    loaded = await client.grok.get_conversation(out.strip())
    assert len(loaded.responses) == size
