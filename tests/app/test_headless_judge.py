"""`grove judge` end to end on the offline model, and `jsonl-pairs --pairs-from judge`.

Runs `app.cli.main` in a worker thread against the `server` fixture (a real server with a
real SQLite file); the stored judgements are read back through the SDK.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grove_explorer.client import Client
from grove_explorer.client.export import export_json, import_request
from grove_explorer.client.export.judged_pairs import judged_pairs
from grove_explorer.server.runtime import GroveServer
from tests.app.test_headless import chat, grove
from tests.app.test_headless import isolated as isolated


async def three_samples(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> str:
    cid, _, _ = await chat(client, "How do apple trees grow in a garden?")
    code, _, err = await grove(
        capsys, "sample", cid, "--n", "2", "--seed", "5", "--server", server.address
    )
    assert code == 0, err
    return cid


async def test_judge_scores_the_batch_best_first_and_stores_it(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cid = await three_samples(client, server, capsys)
    at = ("--server", server.address)

    code, out, err = await grove(capsys, "judge", cid, "--json", *at)
    assert code == 0, err
    judged = json.loads(out)
    assert judged["judge_model"] == "grove-offline-ngram" and judged["heuristic"]
    assert judged["rubric_name"] == "default" and judged["mode"] == "each"
    samples = judged["samples"]
    assert len(samples) == 3
    scores = [s["score"] for s in samples]
    assert scores == sorted(scores, reverse=True)
    assert [s["rank"] for s in samples] == [1, 2, 3]
    assert all("covers" in s["rationale"] for s in samples)

    conversation = await client.grok.get_conversation(cid)
    for sample in samples:
        stored = conversation.get_response(sample["response_id"]).judgements
        assert [j.score for j in stored] == [sample["score"]]

    code, out, err = await grove(
        capsys, "judge", cid, "--criteria", "mentions apples", "--mode", "table", *at
    )
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["#", "ID", "MODEL", "SCORE", "RATIONALE"]
    assert len(rows) == 3 and rows[0].startswith("1 ")
    assert "(heuristic demo)" in err and "rubric custom" in err and "table mode" in err


async def test_judge_errors_are_sentences(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cid = await three_samples(client, server, capsys)
    code, _, err = await grove(capsys, "judge", cid, "--rubric", "nope", "--server", server.address)
    assert code == 1 and "Unknown rubric 'nope'" in err and "Traceback" not in err
    code, _, err = await grove(
        capsys, "judge", cid, "--rubric", "a", "--criteria", "b", "--server", server.address
    )
    assert code == 2 and "not allowed with" in err


async def test_judge_pairs_and_a_json_round_trip_keep_judgements(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cid = await three_samples(client, server, capsys)
    at = ("--server", server.address)
    code, out, err = await grove(
        capsys, "export", cid, "--format", "jsonl-pairs", "--pairs-from", "judge", *at
    )
    assert code == 0 and out == ""
    assert (
        "0 preference pairs from judge scores; skipped: 3 sibling replies without a judgement."
        in err
    )

    code, out, _ = await grove(capsys, "judge", cid, "--json", *at)
    scores = {s["response_id"]: s["score"] for s in json.loads(out)["samples"]}
    code, out, err = await grove(
        capsys, "export", cid, "--format", "jsonl-pairs", "--pairs-from", "judge", *at
    )
    pairs = [json.loads(line) for line in out.splitlines()]
    ties = sum(1 for a in scores for b in scores if a < b and scores[a] == scores[b])
    assert len(pairs) == 3 - ties
    for pair in pairs:
        meta = pair["metadata"]
        assert meta["source"] == "judge" and meta["judge_model"] == "grove-offline-ngram"
        assert meta["chosen_score"] == scores[meta["chosen_response_id"]]
        assert meta["rejected_score"] == scores[meta["rejected_response_id"]]
        assert meta["chosen_score"] > meta["rejected_score"]
        assert pair["prompt"][-1]["content"] == "How do apple trees grow in a garden?"
    assert f"{len(pairs)} preference pairs from judge scores" in err

    conversation = await client.grok.get_conversation(cid)
    document = export_json(conversation, {})
    judged = [r for r in document["responses"] if "judgements" in r]
    assert len(judged) == 3 and all(len(r["judgements"]) == 1 for r in judged)
    assert all("judgements" not in r for r in document["responses"] if r["sender"] == "human")

    imported = await client.stub.ImportConversation(import_request(document))
    again = await client.grok.get_conversation(imported.conversation_id)
    redone = export_json(again, {})
    before = [r["judgements"] for r in document["responses"] if "judgements" in r]
    after = [r["judgements"] for r in redone["responses"] if "judgements" in r]
    strip = lambda js: [{k: v for k, v in j.items() if k != "judgement_id"} for j in js]  # noqa: E731
    assert [strip(j) for j in after] == [strip(j) for j in before]
    assert judged_pairs(redone).pairs.__len__() == len(pairs)


def test_ties_and_different_judges_are_counted_not_paired() -> None:
    def reply(rid: str, *scores: tuple[float, str]) -> dict[str, object]:
        return {
            "response_id": rid,
            "parent_response_id": "q",
            "sender": "model",
            "message": rid,
            "judgements": [{"score": s, "judge_model": m, "rubric": "r"} for s, m in scores],
        }

    document = {
        "conversation_id": "c",
        "responses": [
            {"response_id": "q", "parent_response_id": None, "sender": "human", "message": "?"},
            reply("a", (9.0, "x")),
            reply("b", (1.0, "y"), (9.0, "x")),  # the latest judgement counts
            reply("c", (4.0, "y")),
            {"response_id": "d", "parent_response_id": "q", "sender": "model", "message": "d"},
        ],
    }
    found = judged_pairs(document)
    assert found.pairs == [] and found.ties == 1 and found.different_judges == 2
    assert found.unjudged == 1
    assert found.summary() == (
        "0 preference pairs from judge scores; skipped: 1 sibling replies without a judgement, "
        "1 tied pairs, 2 pairs scored by different judges or rubrics."
    )
