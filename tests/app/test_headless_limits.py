"""`grove search` and `grove export --format jsonl-pairs` never stop or come back empty silently.

Each case runs the real `grove` entry point in a subprocess against the test's server, so
stdout, stderr and the exit code are exactly what a shell sees.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from grove_explorer.client import Client
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer

ENTRY = "from grove_explorer.app.cli import main; raise SystemExit(main())"


async def grove(tmp_path: Path, server: GroveServer, *argv: str) -> tuple[int, str, str]:
    """Runs `grove ARGV --server ADDRESS` in a subprocess with no user config."""
    env = {k: v for k, v in os.environ.items() if k not in ("XAI_API_HOST", "XAI_API_KEY")}
    env["GROVE_CONFIG"] = str(tmp_path / "no-config.toml")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ENTRY,
        *argv,
        "--server",
        server.address,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def import_forest(
    client: Client, *responses: chat_pb2.Response, title: str = "forest"
) -> str:
    """Imports `responses` (parents first) as a conversation; returns its id."""
    request = chat_pb2.ImportConversationRequest(title=title, responses=responses)
    conversation = await client.grok.import_conversation(request)
    return conversation.conversation_id


def human(rid: str, text: str, parent: str = "") -> chat_pb2.Response:
    return chat_pb2.Response(
        response_id=rid, sender="human", message=text, parent_response_id=parent
    )


def model(rid: str, text: str, parent: str, rating: int = 0) -> chat_pb2.Response:
    wire = chat_pb2.Response(
        response_id=rid, sender="model", message=text, parent_response_id=parent
    )
    if rating:
        wire.annotation.rating = rating
    return wire


async def test_search_says_on_stderr_when_hits_were_cut(
    client: Client, server: GroveServer, tmp_path: Path
) -> None:
    chain = [human(f"r{i}", f"beacon {i}", f"r{i - 1}" if i else "") for i in range(70)]
    await import_forest(client, *chain)

    code, out, err = await grove(tmp_path, server, "search", "beacon")
    assert code == 0
    assert len(out.splitlines()) == 1 + 50  # header + the server's default page
    assert err == "grove: showing 50 of 70 hits; use --limit 70 to see them all.\n"

    code, out, err = await grove(tmp_path, server, "search", "beacon", "--json", "--limit", "64")
    assert (code, len(json.loads(out))) == (0, 64)
    assert err == "grove: showing 64 of 70 hits; use --limit 70 to see them all.\n"

    code, out, err = await grove(tmp_path, server, "search", "beacon", "--limit", "10000")
    assert (code, err) == (0, "")
    assert len(out.splitlines()) == 1 + 70


@pytest.mark.parametrize("limit", ["10001", "0", "many"])
async def test_search_limit_beyond_10000_is_a_usage_error(
    server: GroveServer, tmp_path: Path, limit: str
) -> None:
    code, out, err = await grove(tmp_path, server, "search", "beacon", "--limit", limit)
    assert (code, out) == (2, "")
    assert "argument --limit:" in err
    assert ("must be between 1 and 10000" in err) or ("is not a whole number" in err)
    assert "Traceback" not in err


async def test_export_pairs_that_writes_nothing_says_why(
    client: Client, server: GroveServer, tmp_path: Path
) -> None:
    lonely = await import_forest(client, human("q", "Why?"), model("a", "Because.", "q"))
    code, out, err = await grove(tmp_path, server, "export", lonely, "--format", "jsonl-pairs")
    assert (code, out) == (0, "")
    assert err.startswith("grove: no preference pairs: no prompt has two or more model replies")

    unrated = await import_forest(
        client, human("q", "Why?"), model("a", "Because.", "q"), model("b", "Who knows.", "q")
    )
    target = tmp_path / "pairs.jsonl"
    code, out, err = await grove(
        tmp_path, server, "export", unrated, "--format", "jsonl-pairs", "-o", str(target)
    )
    assert (code, out, target.read_text()) == (0, "", "")
    assert err == (
        "grove: no preference pairs: 1 prompt has sibling replies, but none of them is rated "
        "or bookmarked (rate the better reply +1 and a worse one -1).\n"
    )

    # Rated +1 but off the current path (the newest reply "c" is the leaf), nothing rated -1.
    one_sided = await import_forest(
        client,
        human("q", "Why?"),
        model("a", "Because.", "q", rating=1),
        model("b", "Who knows.", "q"),
        model("c", "Ask later.", "q"),
    )
    code, out, err = await grove(tmp_path, server, "export", one_sided, "--format", "jsonl-pairs")
    assert (code, out) == (0, "")
    assert "a pair needs a reply rated +1 and a sibling rated -1" in err

    # With a -1 sibling there are pairs, and stderr stays quiet.
    rated = await import_forest(
        client,
        human("q", "Why?"),
        model("a", "Because.", "q", rating=1),
        model("b", "Who knows.", "q", rating=-1),
    )
    code, out, err = await grove(tmp_path, server, "export", rated, "--format", "jsonl-pairs")
    assert (code, err) == (0, "")
    (pair,) = [json.loads(line) for line in out.splitlines()]
    assert pair["chosen"][0]["content"] == "Because."


async def test_show_export_and_import_carry_the_finish_reason(
    client: Client, server: GroveServer, tmp_path: Path
) -> None:
    cut = model("a", "Because of the", "q")
    cut.finish_reason = chat_pb2.FINISH_REASON_LENGTH
    cid = await import_forest(client, human("q", "Why?"), cut)

    code, out, err = await grove(tmp_path, server, "show", cid)
    assert (code, err) == (0, "")
    assert any(
        line.startswith("── model") and "cut at max tokens" in line for line in out.splitlines()
    )

    exported = tmp_path / "cut.json"
    code, _, err = await grove(
        tmp_path, server, "export", cid, "--format", "json", "-o", str(exported)
    )
    assert (code, err) == (0, "")
    document = json.loads(exported.read_text())
    assert [r["finish_reason"] for r in document["responses"]] == ["", "length"]

    code, out, err = await grove(tmp_path, server, "import", str(exported), "--json")
    assert (code, err) == (0, "")
    code, out, _ = await grove(tmp_path, server, "show", json.loads(out)["conversation_id"])
    assert code == 0 and "cut at max tokens" in out

    document["responses"][1]["finish_reason"] = "exhausted"
    exported.write_text(json.dumps(document))
    code, out, err = await grove(tmp_path, server, "import", str(exported))
    assert (code, out) == (1, "")
    assert err.startswith(f"grove: {exported}: $.responses[1].finish_reason: must be")
    assert "'length'" in err and "Traceback" not in err
