"""`grove select` and the stored place in `grove show/export/sample`, as real processes.

The place is the server's leaf: `show`, `export` and `sample` use it unless `--leaf`
overrides it, `grove sample` never moves it, and `grove select` does (exit codes 0/1/2).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from grove_explorer.client import Client, SamplingParams
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer
from tests.helpers import collect

ENTRY = "from grove_explorer.app.cli import main; raise SystemExit(main())"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config, environment server or key leaks into these runs."""
    for var in ("XAI_API_HOST", "XAI_API_KEY", "GROVE_DB", "GROVE_TOKEN_DELAY_MS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GROVE_CONFIG", str(tmp_path / "no-config.toml"))


async def grove(server: GroveServer, *argv: str) -> tuple[int, str, str]:
    """Runs the real `grove` entry point in a subprocess against `server`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ENTRY,
        *argv,
        "--server",
        server.address,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _show(server: GroveServer, *argv: str) -> dict:
    code, out, err = await grove(server, "show", *argv, "--json")
    assert (code, err) == (0, ""), err
    return json.loads(out)


async def test_select_moves_the_place_that_show_export_and_sample_use(
    client: Client, server: GroveServer
) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response(
        "Tell me about oak trees.", sampling=SamplingParams(max_tokens=8)
    )
    await collect(stream)
    model = (await future).response_id
    human = conversation.get_response(model).parent_response_id
    assert human is not None
    cid = conversation.conversation_id
    sibling = await client.stub.AddModelResponse(
        chat_pb2.AddModelResponseRequest(
            conversation_id=cid, message="A hand-written sibling.", parent_response_id=human
        )
    )
    # The newest response is the sibling, but the place is the reply add_response followed.
    shown = await _show(server, cid)
    assert shown["leaf_response_id"] == model
    assert [r["response_id"] for r in shown["path"]] == [human, model]

    code, out, err = await grove(server, "sample", cid, "--n", "2", "--max-tokens", "4", "--json")
    assert (code, err) == (0, ""), err
    sampled = json.loads(out)
    assert sampled["resampled_response_id"] == model, "sample starts from the place"
    assert len(sampled["samples"]) == 2
    assert (await _show(server, cid))["leaf_response_id"] == model, "sample never moves it"

    code, out, err = await grove(server, "select", cid[:8], sibling.response_id[:8])
    assert (code, err) == (0, ""), err
    assert sibling.response_id[:12] in out and "A hand-written sibling." in out
    assert (await _show(server, cid))["leaf_response_id"] == sibling.response_id
    code, out, err = await grove(server, "export", cid, "--format", "md")
    assert code == 0 and "A hand-written sibling." in out, "export follows the place"
    # --leaf still overrides, and moves nothing.
    overridden = await _show(server, cid, "--leaf", model[:8])
    assert overridden["leaf_response_id"] == model
    code, out, err = await grove(server, "select", cid, human, "--json")
    assert (code, err) == (0, ""), err
    assert json.loads(out) == {
        "conversation_id": cid,
        "leaf_response_id": human,
        "previous_leaf_response_id": sibling.response_id,
        "path_length": 1,
    }
    assert (await client.grok.get_conversation(cid)).leaf_response_id == human


async def test_select_failures_have_exit_codes(client: Client, server: GroveServer) -> None:
    conversation = client.grok.create_conversation()
    await conversation.ensure_created()
    cid = conversation.conversation_id
    code, out, err = await grove(server, "select", cid, "0123abcd")
    assert (code, out) == (1, "")
    assert err == f"grove: conversation {cid} has no response '0123abcd'.\n"
    code, out, err = await grove(server, "select", "deadbeef", "0123abcd")
    assert code == 1 and err.startswith("grove: no conversation matches 'deadbeef'")
    code, out, err = await grove(server, "select", cid)
    assert code == 2 and "usage: grove select" in err
