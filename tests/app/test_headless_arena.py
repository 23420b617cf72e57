"""`grove arena` and `jsonl-pairs --pairs-from arena` end to end on a real server."""

from __future__ import annotations

import json

import pytest

from grove_explorer.client import Client, SamplingParams
from grove_explorer.client.arena import Outcome, Setup
from grove_explorer.server.runtime import GroveServer
from tests.app.test_headless import chat, grove
from tests.app.test_headless import isolated as isolated

COLD = Setup(model_name="grove-offline-ngram", temperature=0.2)
HOT = Setup(model_name="grove-offline-ngram", temperature=1.5, label="hot")


async def voted(client: Client, outcomes: list[Outcome]) -> tuple[str, list[str]]:
    """A conversation with one pair under its human turn per outcome, each voted."""
    cid, human, first = await chat(client, "Which tree grows fastest?")
    conversation = await client.grok.get_conversation(cid)
    replies = [first]
    for _ in outcomes:
        call = conversation.sample(
            parent_response_id=human, sampling=SamplingParams(max_tokens=6, temperature=1.5)
        )
        async for _ in call:
            pass
        replies.append((await call.future).response_id)
    for index, outcome in enumerate(outcomes):
        # HOT's reply shown as B every time: "b" means HOT won.
        await client.grok.record_vote(cid, human, first, replies[index + 1], COLD, HOT, outcome)
    return cid, replies


async def test_arena_prints_the_leaderboard(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cid, _ = await voted(client, ["b", "b", "b", "tie", "both_bad", "a"])
    at = ("--server", server.address)
    code, out, err = await grove(capsys, "arena", cid, *at)
    assert code == 0, err
    header, first, second = out.splitlines()
    assert header.split() == ["rank", "rating", "95%", "CI", "votes", "W/T/L/bad", "setup"]
    assert first.split()[0] == "1" and first.endswith("hot")
    assert first.split()[3:5] == ["6", "3/1/1/1"]
    assert second.endswith("grove-offline-ngram temperature=0.2")
    assert "6 votes, Bradley-Terry ratings" in err

    code, out, err = await grove(capsys, "arena", "--json", "--method", "elo", *at)
    assert code == 0, err
    board = json.loads(out)
    assert board["method"] == "elo" and board["votes"] == 6
    hot, cold = board["standings"]
    assert hot["setup"] == "hot" and hot["rating"] > cold["rating"]
    assert (hot["wins"], hot["ties"], hot["losses"], hot["both_bad"]) == (3, 1, 1, 1)
    assert hot["ci_low"] <= hot["rating"] <= hot["ci_high"]


async def test_arena_without_votes_says_so(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await grove(capsys, "arena", "--server", server.address)
    assert code == 0 and out == ""
    assert "no arena votes yet" in err


async def test_arena_pairs_choose_the_voted_reply_and_count_the_rest(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cid, replies = await voted(client, ["b", "a", "tie", "both_bad"])
    code, out, err = await grove(
        capsys,
        "export",
        cid,
        "--format",
        "jsonl-pairs",
        "--pairs-from",
        "arena",
        "--server",
        server.address,
    )
    assert code == 0, err
    pairs = [json.loads(line) for line in out.splitlines()]
    assert [p["metadata"]["chosen_response_id"] for p in pairs] == [replies[1], replies[0]]
    assert [p["metadata"]["rejected_response_id"] for p in pairs] == [replies[0], replies[2]]
    assert pairs[0]["metadata"]["source"] == "arena"
    assert pairs[0]["metadata"]["chosen_setup"] == "hot"
    assert pairs[0]["prompt"][-1] == {"role": "user", "content": "Which tree grows fastest?"}
    assert "2 preference pairs from arena votes; skipped: 1 ties, 1 both-bad votes." in err
