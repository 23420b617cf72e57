"""`grove share` and shared conversations in `grove ls/show/export`, as real processes.

Three users with keys on one server: Alice shares with Bob (reader, then writer), lists
and revokes; Bob sees the conversation in `grove ls` marked with its owner and his role,
opens it by its share link; Carol gets the server's NOT_FOUND sentence (exit code 1).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from grove_explorer.client import Client, SamplingParams
from grove_explorer.server.runtime import GroveServer
from tests.helpers import collect

ENTRY = "from grove_explorer.app.cli import main; raise SystemExit(main())"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config, environment server or key leaks into these runs."""
    for var in ("XAI_API_HOST", "XAI_API_KEY", "GROVE_DB", "GROVE_TOKEN_DELAY_MS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GROVE_CONFIG", str(tmp_path / "no-config.toml"))


async def grove(server: GroveServer, user: str, *argv: str) -> tuple[int, str, str]:
    """Runs the real `grove` entry point in a subprocess, as `user` (their key)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ENTRY,
        *argv,
        "--server",
        server.address,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "XAI_API_KEY": f"key-{user}"},
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_share_list_revoke_and_what_each_user_sees(team: GroveServer) -> None:
    async with Client(api_host=team.address, api_key="key-alice") as alice:
        conversation = alice.grok.create_conversation()
        stream, future = conversation.add_response(
            "Tell me about medlars.", sampling=SamplingParams(max_tokens=4)
        )
        await collect(stream)
        reply = await future
        await conversation.set_title("Medlar notes")
        url = await reply.share()
    cid = conversation.conversation_id

    code, out, err = await grove(team, "bob", "show", url)
    assert code == 1 and out == ""
    assert err == "grove: No conversation you can read is named by that link.\n"

    code, out, err = await grove(team, "alice", "share", cid[:8], "--user", "bob")
    assert (code, err) == (0, ""), err
    assert out == f"Shared {cid[:12]} (Medlar notes) with bob as a reader.\n"

    code, out, err = await grove(team, "bob", "ls")
    assert (code, err) == (0, ""), err
    assert "Medlar notes  (shared by alice, reader)" in out
    code, out, err = await grove(team, "bob", "ls", "--json")
    [listed] = json.loads(out)
    assert (listed["conversation_id"], listed["owner_user_id"], listed["role"]) == (
        cid,
        "alice",
        "reader",
    )
    code, out, err = await grove(team, "bob", "show", url, "--json")
    assert (code, err) == (0, ""), err
    assert json.loads(out)["conversation_id"] == cid
    code, out, err = await grove(team, "bob", "export", url, "--format", "json")
    assert (code, err) == (0, ""), err
    assert "medlars" in out

    code, out, err = await grove(team, "bob", "sample", cid, "--max-tokens", "2")
    assert code == 1 and out == ""
    assert "alice shares this conversation with you as a reader" in err
    code, out, err = await grove(team, "bob", "share", cid, "--user", "carol")
    assert code == 1
    assert "Only alice, who owns this conversation, can share it" in err

    code, out, err = await grove(team, "alice", "share", cid, "--user", "bob", "--role", "writer")
    assert (code, out) == (0, f"Shared {cid[:12]} (Medlar notes) with bob as a writer.\n")
    code, out, err = await grove(team, "alice", "share", cid, "--list", "--json")
    grants = json.loads(out)
    assert [(g["user_id"], g["role"], g["granted_by"]) for g in grants] == [
        ("bob", "writer", "alice")
    ]
    code, out, err = await grove(team, "alice", "share", cid, "--list")
    assert out.splitlines()[0].split() == ["USER", "ROLE", "SINCE"]
    assert out.splitlines()[1].split()[:2] == ["bob", "writer"]

    code, out, err = await grove(team, "carol", "show", cid)
    assert code == 1 and "no conversation matches" in err
    code, out, err = await grove(team, "carol", "show", url)
    assert code == 1 and "No conversation you can read" in err

    code, out, err = await grove(team, "alice", "share", cid, "--revoke", "bob")
    assert (code, out) == (0, f"bob no longer has access to {cid[:12]} (Medlar notes).\n")
    code, out, err = await grove(team, "alice", "share", cid, "--revoke", "bob")
    assert code == 0 and "was not shared with bob; nothing changed" in err
    code, out, err = await grove(team, "bob", "ls", "--json")
    assert json.loads(out) == []


async def test_share_usage_errors(team: GroveServer) -> None:
    code, _, err = await grove(team, "alice", "share", "abcd", "--list", "--role", "writer")
    assert code == 2 and "--role goes with --user" in err
    code, _, err = await grove(team, "alice", "share", "abcd")
    assert code == 2 and "one of the arguments --user --revoke --list is required" in err


async def test_show_of_a_share_link_opens_at_the_linked_response(team: GroveServer) -> None:
    async with Client(api_host=team.address, api_key="key-alice") as alice:
        conversation = alice.grok.create_conversation()
        stream, future = conversation.add_response(
            "Tell me about medlars.", sampling=SamplingParams(max_tokens=4)
        )
        await collect(stream)
        linked = await future
        url = await linked.share()
        conversation.set_leaf_response_id(None)  # a new root, newer than the link
        stream, future = conversation.add_response(
            "And about loquats?", sampling=SamplingParams(max_tokens=4)
        )
        await collect(stream)
        newest = await future
        await conversation.share_with("bob", "reader")
    cid = conversation.conversation_id

    code, out, err = await grove(team, "bob", "show", cid, "--json")
    assert (code, err) == (0, ""), err
    assert json.loads(out)["leaf_response_id"] == newest.response_id, "his place: the newest"
    code, out, err = await grove(team, "bob", "show", url, "--json")
    assert (code, err) == (0, ""), err
    shown = json.loads(out)
    assert shown["leaf_response_id"] == linked.response_id
    assert shown["path"][0]["message"] == "Tell me about medlars."
    code, out, err = await grove(team, "bob", "show", url)
    assert (code, err) == (0, ""), err
    assert "medlars" in out and "loquats" not in out
    code, out, err = await grove(team, "bob", "show", url, "--json", "--leaf", newest.response_id)
    assert (code, err) == (0, ""), err
    assert json.loads(out)["leaf_response_id"] == newest.response_id, "--leaf wins over a link"
