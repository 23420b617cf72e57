"""The headless `grove` commands: output, `--json`, exit codes, embedded and remote servers.

Most runs call `app.cli.main` in a worker thread (it runs its own event loop with
`asyncio.run`) while the `server` fixture keeps serving on the test's loop; one test runs
the real entry point in a subprocess to prove the wiring and exit codes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from grove_explorer.app.cli import main
from grove_explorer.app.headless.sampling import failure_lines
from grove_explorer.client import Client, SamplingParams
from grove_explorer.client.export import FORMAT_NAME, FORMAT_VERSION
from grove_explorer.server.runtime import GroveServer
from tests.helpers import collect

ENTRY = "from grove_explorer.app.cli import main; raise SystemExit(main())"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config, environment server or key leaks into these runs."""
    for var in ("XAI_API_HOST", "XAI_API_KEY", "GROVE_DB", "GROVE_TOKEN_DELAY_MS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GROVE_CONFIG", str(tmp_path / "no-config.toml"))


async def grove(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Runs `grove ARGV` in-process (in a thread, off the server's loop)."""
    capsys.readouterr()
    try:
        code = await asyncio.to_thread(main, list(argv))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


async def chat(client: Client, text: str, title: str = "") -> tuple[str, str, str]:
    """A conversation with one exchange; returns (conversation, human, model) ids."""
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response(text, sampling=SamplingParams(max_tokens=10))
    await collect(stream)
    reply = await future
    if title:
        await conversation.set_title(title)
    assert reply.parent_response_id is not None
    return conversation.conversation_id, reply.parent_response_id, reply.response_id


def document(*responses: dict[str, Any], title: str = "imported") -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "title": title,
        "responses": list(responses),
    }


HUMAN_ONLY = document(
    {"response_id": "q", "parent_response_id": None, "sender": "human", "message": "Why?"},
    title="a question",
)


async def test_ls_show_and_search(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cid, human, model = await chat(client, "Tell me about oak trees.", title="Oak notes")
    at = ("--server", server.address)

    code, out, err = await grove(capsys, "ls", *at)
    assert (code, err) == (0, "")
    header, row = out.splitlines()
    assert header.split() == ["ID", "UPDATED", "RESPONSES", "TITLE"]
    assert row.startswith(cid[:12]) and row.endswith("Oak notes") and " 2 " in row

    code, out, _ = await grove(capsys, "--server", server.address, "ls", "--json")
    assert code == 0, "--server before the subcommand works too"
    listed = json.loads(out)
    assert listed[0]["conversation_id"] == cid and listed[0]["response_count"] == 2
    assert listed[0]["title"] == "Oak notes" and listed[0]["update_time"].endswith("Z")

    code, out, _ = await grove(capsys, "show", cid[:6], *at)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Oak notes" and lines[1].startswith(f"id {cid} · 2 responses")
    assert lines[3] == f"── human · {human[:12]} ──" and lines[4] == "Tell me about oak trees."
    assert lines[6].startswith(f"── model · {model[:12]} · grove-offline-ngram · ")

    code, out, _ = await grove(capsys, "show", "Oak notes", "--json", *at)
    assert code == 0, "an exact title names a conversation too"
    shown = json.loads(out)
    assert shown["leaf_response_id"] == model
    assert [r["response_id"] for r in shown["path"]] == [human, model]
    assert "tokens" not in shown["path"][0]

    code, out, _ = await grove(capsys, "show", cid, "--leaf", human[:8], *at)
    assert code == 0 and f"model · {model[:12]}" not in out

    code, out, _ = await grove(capsys, "search", "oak", *at)
    assert code == 0
    assert out.splitlines()[0].split() == ["CONVERSATION", "RESPONSE", "BRANCH", "FIELD", "MATCH"]
    assert any(
        line.startswith(f"{cid[:12]}  {human[:12]}     1/1  message") for line in out.splitlines()
    )
    code, out, _ = await grove(capsys, "search", "oak", "--json", "--limit", "1", *at)
    hits = json.loads(out)
    assert code == 0 and len(hits) == 1 and hits[0]["conversation_id"] == cid

    code, out, _ = await grove(capsys, "search", "zzzunmatched", *at)
    assert (code, out) == (0, ""), "no hits is not a failure"


async def test_runtime_failures_exit_1_with_a_sentence(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--server", server.address)
    await chat(client, "One conversation.")
    for argv in (("show", "0123456789abcdef"), ("export", "nope"), ("sample", "abc")):
        code, out, err = await grove(capsys, *argv, *at)
        assert code == 1 and out == ""
        assert err.startswith("grove: no conversation matches") and err.count("\n") == 1, err
        assert "Traceback" not in err
    code, _, err = await grove(capsys, "show", "abc", *at)
    assert "at least 4 characters" in err

    cid, _, _ = await chat(client, "Another.")
    code, _, err = await grove(capsys, "show", cid, "--leaf", "ffffffff", *at)
    assert code == 1 and err == f"grove: conversation {cid} has no response 'ffffffff'.\n"

    code, _, err = await grove(capsys, "ls", "--server", "127.0.0.1:1")
    assert code == 1 and err.startswith("grove: ") and "Traceback" not in err


async def test_an_ambiguous_prefix_lists_the_candidates(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Ids are random: create empty conversations until two share their first 4 characters.
    by_prefix: dict[str, list[str]] = defaultdict(list)
    shared: list[str] = []
    while not shared:
        batch = [client.grok.create_conversation() for _ in range(100)]
        await asyncio.gather(*(c.ensure_created() for c in batch))
        for conversation in batch:
            by_prefix[conversation.conversation_id[:4]].append(conversation.conversation_id)
        shared = next((ids for ids in by_prefix.values() if len(ids) > 1), [])
        assert sum(map(len, by_prefix.values())) < 5000
    code, out, err = await grove(capsys, "show", shared[0][:4], "--server", server.address)
    assert code == 1 and out == ""
    assert err.startswith(f"grove: '{shared[0][:4]}' matches {len(shared)} conversations: ")
    assert all(cid in err for cid in shared)
    code, _, _ = await grove(capsys, "show", shared[0], "--server", server.address)
    assert code == 0, "the full id is never ambiguous"


async def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ("ls", "--bogus"),
        ("sample",),
        ("sample", "abcd", "--n", "0"),
        ("sample", "abcd", "--n", "many"),
        ("export", "abcd", "--format", "pdf"),
        ("export", "abcd", "--path", "--all"),
    ):
        code, out, err = await grove(capsys, *argv)
        assert code == 2 and out == "" and "usage: grove" in err, argv
    code, _, err = await grove(capsys, "export", "abcd", "--format", "json", "--all")
    assert code == 2 and "--path and --all choose the Markdown scope" in err


async def test_sample_resamples_the_leaf_reply_in_parallel(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--server", server.address)
    cid, human, model = await chat(client, "Tell me about maple seeds.")
    code, out, err = await grove(
        capsys, "sample", cid, "--n", "3", "--seed", "10", "--max-tokens", "8", "--json", *at
    )
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert result["parent_response_id"] == human and result["resampled_response_id"] == model
    samples = result["samples"]
    assert [s["index"] for s in samples] == [1, 2, 3]
    assert [s["seed"] for s in samples] == [10, 11, 12], "seed S+i, reproducible"
    assert all(s["token_count"] <= 8 and s["message"] for s in samples)
    assert all(isinstance(s["mean_logprob"], float) for s in samples)
    assert all(s["model_name"] == "grove-offline-ngram" for s in samples)
    # Why each ended: under max_tokens only the model's own stop.
    assert all(s["finish_reason"] in ("stop", "length") for s in samples)
    assert all(s["finish_reason"] == "stop" for s in samples if s["token_count"] < 8)
    loaded = await client.grok.get_conversation(cid)
    siblings = {r.response_id for r in loaded.get_response(human).children}
    assert siblings == {model, *(s["response_id"] for s in samples)}

    code, out, _ = await grove(capsys, "sample", cid, "-n", "2", "--temperature", "0.5", *at)
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == [
        "#",
        *("ID", "MODEL", "SEED", "TOKENS", "MEAN", "LOGPROB", "TIME", "END", "TEXT"),
    ]
    assert all(row.split()[2] == "grove-offline-ngram" for row in rows)
    assert all(row.split()[7] in ("stop", "length") for row in rows)
    assert len(rows) == 2 and rows[0].startswith("1  ") and rows[1].startswith("2  ")

    code, out, err = await grove(capsys, "sample", cid, "-n", "2", "--model", "no-such", *at)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("grove: ") and "no-such" in err, (
        "one reason for every sample: said once"
    )


async def test_sample_says_a_shared_failure_once(client: Client, server: GroveServer) -> None:
    """`grove sample --temperature 9` (a real process) prints the range error once."""
    cid, _, _ = await chat(client, "Range check.")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ENTRY,
        *("sample", cid, "-n", "3", "--temperature", "9", "--server", server.address),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode == 1 and out == b""
    assert err.decode() == "grove: temperature must be between 0 and 2, got 9.0.\n"


def test_distinct_sample_failures_name_their_samples() -> None:
    assert failure_lines([(1, "A."), (2, "B."), (3, "A.")], 3) == [
        "samples 1, 3 failed: A.",
        "sample 2 failed: B.",
    ]
    assert failure_lines([(2, "A.")], 3) == ["sample 2 failed: A."], "others succeeded"


async def test_sample_replies_to_a_human_leaf(
    server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--server", server.address)
    path = tmp_path / "question.json"
    path.write_text(json.dumps(HUMAN_ONLY))
    code, out, _ = await grove(capsys, "import", str(path), *at)
    assert code == 0
    cid = out.strip()
    code, out, _ = await grove(capsys, "sample", cid, "--n", "2", "--json", *at)
    assert code == 0
    result = json.loads(out)
    assert result["resampled_response_id"] is None
    assert len(result["samples"]) == 2
    code, out, _ = await grove(capsys, "show", cid, "--json", *at)
    shown = json.loads(out)
    assert shown["path"][0]["message"] == "Why?" and shown["path"][1]["sender"] == "model"


async def test_export_to_a_file_and_import_it_back(
    client: Client, server: GroveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--server", server.address)
    cid, _, _ = await chat(client, 'Quotes " and \\ backslashes.', title="Round trip")
    target = tmp_path / "out.json"
    code, out, err = await grove(capsys, "export", cid, "--format", "json", "-o", str(target), *at)
    assert (code, out, err) == (0, "", "")
    first = json.loads(target.read_text(encoding="utf-8"))
    assert first["responses"][1]["tokens"], "tokens included"

    code, out, _ = await grove(capsys, "import", str(target), "--json", *at)
    assert code == 0
    created = json.loads(out)
    assert created["title"] == "Round trip (imported)" and created["response_count"] == 2
    code, out, _ = await grove(
        capsys, "export", created["conversation_id"], "--format", "json", *at
    )
    second = json.loads(out)
    for doc in (first, second):
        for item in doc["responses"]:
            for key in ("response_id", "parent_response_id", "create_time", "start_time"):
                item.pop(key)
    assert first["responses"] == second["responses"]

    for fmt, start in (("md", "# Round trip\n"), ("dot", "digraph grove {\n")):
        code, out, _ = await grove(capsys, "export", cid, "--format", fmt, *at)
        assert code == 0 and out.startswith(start)
    code, out, _ = await grove(capsys, "export", cid, "--format", "jsonl-pairs", *at)
    assert (code, out) == (0, ""), "no ratings, no pairs"

    code, _, err = await grove(capsys, "export", cid, "-o", str(tmp_path / "no" / "dir.md"), *at)
    assert code == 1 and err.startswith("grove: cannot write ")


@pytest.mark.parametrize(
    "content, words",
    [
        ("{not json", "is not valid JSON (line 1, column 2"),
        (json.dumps({**HUMAN_ONLY, "version": 9}), "$.version: this Grove reads version 1"),
        (
            json.dumps(
                document(
                    {
                        "response_id": "b",
                        "parent_response_id": "a",
                        "sender": "model",
                        "message": "x",
                    },
                    {
                        "response_id": "a",
                        "parent_response_id": None,
                        "sender": "human",
                        "message": "y",
                    },
                )
            ),
            "$.responses[0].parent_response_id: names 'a', which does not come before it",
        ),
        (
            json.dumps(document({"response_id": "a", "sender": "human", "message": "y"})),
            "$.responses[0].parent_response_id: is missing.",
        ),
        (
            json.dumps(
                document(
                    {
                        "response_id": "a",
                        "parent_response_id": None,
                        "sender": "human",
                        "message": "x" * 2_000_000,
                    }
                )
            ),
            "is 2000000 bytes; the limit is",
        ),
    ],
)
async def test_bad_import_files_fail_and_create_nothing(
    client: Client,
    server: GroveServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    words: str,
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, out, err = await grove(capsys, "import", str(path), "--server", server.address)
    assert code == 1 and out == ""
    assert err.startswith("grove: ") and words in err and "Traceback" not in err, err
    assert await client.grok.list_conversations() == []


async def test_text_output_is_cleaned_json_keeps_exact_text(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--server", server.address)
    cid, _, _ = await chat(
        client, "Red \x1b[31malert\x1b[0m and a bell\x07.", title="\x1b]0;x\x07t"
    )
    code, out, _ = await grove(capsys, "show", cid, *at)
    assert code == 0 and "\x1b" not in out and "\x07" not in out
    assert "Red alert and a bell." in out, "whole escape sequences are dropped"
    code, out, _ = await grove(capsys, "ls", *at)
    assert "\x1b" not in out
    code, out, _ = await grove(capsys, "show", cid, "--json", *at)
    assert json.loads(out)["path"][0]["message"] == "Red \x1b[31malert\x1b[0m and a bell\x07."


async def test_embedded_server_on_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "embedded.sqlite3"
    path = tmp_path / "question.json"
    path.write_text(json.dumps(HUMAN_ONLY))
    code, out, _ = await grove(capsys, "import", str(path), "--db", str(db))
    assert code == 0
    cid = out.strip()
    # A second run opens the same file with a fresh in-process server.
    code, out, _ = await grove(capsys, "--db", str(db), "ls", "--json")
    assert code == 0 and [c["conversation_id"] for c in json.loads(out)] == [cid]
    code, out, _ = await grove(capsys, "sample", cid, "--n", "1", "--db", str(db), "--json")
    assert code == 0 and len(json.loads(out)["samples"]) == 1
    (tmp_path / "a-file").write_text("")
    code, _, err = await grove(capsys, "ls", "--db", str(tmp_path / "a-file" / "db"))
    assert code == 1 and err == f"grove: Cannot use {tmp_path / 'a-file' / 'db'}: " + (
        f"{tmp_path / 'a-file'} is not a folder.\n"
    )


async def test_the_entry_point_in_a_subprocess(client: Client, server: GroveServer) -> None:
    cid, _, _ = await chat(client, "Subprocess check.", title="Via subprocess")

    async def run(*argv: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            ENTRY,
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(60):
            out, err = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    code, out, err = await run("ls", "--server", server.address)
    assert (code, err) == (0, "") and cid[:12] in out and "Via subprocess" in out
    code, out, err = await run("show", "deadbeef", "--server", server.address)
    assert (
        code == 1
        and out == ""
        and err == "grove: no conversation matches 'deadbeef'; `grove ls` lists them.\n"
    )
    code, out, err = await run("ls", "--bogus")
    assert code == 2 and "usage: grove" in err and "unrecognized arguments: --bogus" in err


def test_documents_keep_exact_text_except_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from grove_explorer.app.headless import Outcome, emit

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    text = "# T\n\nRed \x1b[31mx\x1b[0m\r\n"
    for stream_type, expected in ((io.StringIO, text), (Terminal, "# T\n\nRed x\n")):
        stream = stream_type()
        monkeypatch.setattr(sys, "stdout", stream)
        emit(Outcome(text, raw_text=True))
        assert stream.getvalue() == expected
    target = tmp_path / "doc.md"
    emit(Outcome(text, raw_text=True, output_file=target))
    assert target.read_bytes().decode("utf-8") == text, "files keep the exact text"
