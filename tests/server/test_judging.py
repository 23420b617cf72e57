"""JudgeResponses and ExtractPoints end to end: a real server, a real SQLite file.

The offline model's heuristic judge (deterministic, stored, returned with the
conversation); a judge behind tests/fake_openai.py, a real HTTP server, for good, bad and
truncated answers (nothing stored) and for parallel calls; the request's checks.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from grove_explorer.client import (
    Client,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    SamplingParams,
    UnusableJudgementError,
)
from grove_explorer.client.grok import Conversation, Response
from grove_explorer.server.backends import ModelsConfig
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.judging.rubrics import DEFAULT_RUBRIC
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.servicer.judging import MAX_JUDGED_REPLIES
from tests.fake_openai import FakeOpenAI
from tests.server.test_research import manual, new_conversation, rows, sample

OFFLINE = "grove-offline-ngram"


async def siblings(conversation: Conversation, count: int = 3) -> list[Response]:
    """`count` offline replies to one prompt (seeded, so the test is reproducible)."""
    first, _ = await sample(conversation, "How do apple trees grow in a garden?", seed=1)
    parent = first.parent_response_id
    replies = [first]
    for seed in range(2, count + 1):
        reply, _ = await sample(conversation, parent=parent, seed=seed, max_tokens=30)
        replies.append(reply)
    return replies


def judgement_rows(db: Path) -> list[tuple[Any, ...]]:
    return rows(db, "SELECT response_id, score, heuristic, mode FROM judgements")


# -- the offline heuristic -----------------------------------------------------------------


async def test_offline_heuristic_scores_are_deterministic_stored_and_returned(
    client: Client, server_config: ServerConfig
) -> None:
    conversation = await new_conversation(client)
    replies = await siblings(conversation)
    ids = [r.response_id for r in replies]

    first = await conversation.judge(ids, model_name=OFFLINE)
    again = await conversation.judge(ids, model_name=OFFLINE, mode="table")

    assert [j.response_id for j in first] == ids
    assert [j.score for j in first] == [j.score for j in again]  # deterministic
    for judgement in first:
        assert 0 <= judgement.score <= 10
        assert judgement.heuristic
        assert re.search(r"covers \d+/\d+ rubric and prompt words", judgement.rationale)
        assert "mean logprob" in judgement.rationale
        assert judgement.judge_model == OFFLINE
        assert judgement.rubric_name == "default" and judgement.rubric == DEFAULT_RUBRIC
        assert judgement.sampling is not None and judgement.sampling.temperature == 0.0
        assert judgement.sampling.seed is not None
    assert {j.mode for j in again} == {"table"}
    assert len({j.batch_id for j in first}) == 1 and first[0].batch_id != again[0].batch_id
    assert len(judgement_rows(server_config.db)) == 6

    reloaded = await client.grok.get_conversation(conversation.conversation_id)
    for reply_id, judgement, later in zip(ids, first, again, strict=True):
        stored = reloaded.get_response(reply_id).judgements
        assert [j.judgement_id for j in stored] == [judgement.judgement_id, later.judgement_id]
        assert stored[0].score == judgement.score and stored[0].rationale == judgement.rationale
    human = reloaded.get_response(replies[0].parent_response_id or "")
    assert human.judgements == ()


async def test_a_reply_covering_the_prompt_scores_higher(client: Client) -> None:
    conversation = await new_conversation(client)
    first, _ = await sample(conversation, "Why do apple trees need pruning in winter?", seed=3)
    parent = first.parent_response_id
    good = await manual(
        client,
        conversation,
        "Pruning apple trees in winter, while they are dormant, lets light reach the fruit.",
        parent,
    )
    bad = await manual(client, conversation, "Zxq vrk plm.", parent)
    judged = await conversation.judge([good.response_id, bad.response_id], model_name=OFFLINE)
    assert judged[0].score > judged[1].score


async def test_extract_points_offline_groups_shared_sentences(client: Client) -> None:
    conversation = await new_conversation(client)
    first, _ = await sample(conversation, "Tell me about soil.", seed=1)
    parent = first.parent_response_id
    a = await manual(client, conversation, "Soil holds water. Worms help.", parent)
    b = await manual(client, conversation, "Soil holds the water. Compost feeds it.", parent)
    c = await manual(client, conversation, "Compost feeds it.", parent)
    points = await conversation.extract_points(
        [a.response_id, b.response_id, c.response_id], model_name=OFFLINE
    )
    assert points.heuristic
    assert [(p.text, p.response_ids) for p in points.points] == [
        ("Soil holds water.", (a.response_id, b.response_id)),
        ("Compost feeds it.", (b.response_id, c.response_id)),
        ("Worms help.", (a.response_id,)),
    ]


# -- request checks ------------------------------------------------------------------------


async def test_bad_requests_are_refused_with_a_sentence(
    client: Client, server_config: ServerConfig
) -> None:
    conversation = await new_conversation(client)
    replies = await siblings(conversation, 2)
    ids = [r.response_id for r in replies]
    human = replies[0].parent_response_id or ""
    with pytest.raises(InvalidArgumentError, match="at least one reply"):
        await conversation.judge([])
    with pytest.raises(InvalidArgumentError, match="listed twice"):
        await conversation.judge([ids[0], ids[0]])
    with pytest.raises(InvalidArgumentError, match="human message"):
        await conversation.judge([human])
    with pytest.raises(NotFoundError, match="is not in conversation"):
        await conversation.judge(["0" * 32])
    with pytest.raises(
        InvalidArgumentError, match="Unknown rubric 'nope'; this server has: default"
    ):
        await conversation.judge(ids, rubric_name="nope")
    with pytest.raises(InvalidArgumentError, match="Unknown model"):
        await conversation.judge(ids, model_name="nope")
    with pytest.raises(InvalidArgumentError, match="temperature"):
        await conversation.judge(ids, sampling=SamplingParams(temperature=9.0))
    many = [f"{i:032x}" for i in range(MAX_JUDGED_REPLIES + 1)]
    with pytest.raises(
        InvalidArgumentError, match=f"{MAX_JUDGED_REPLIES + 1} replies were given; "
    ):
        await conversation.judge(many)
    with pytest.raises(InvalidArgumentError, match="at least one reply"):
        await conversation.extract_points([])
    assert judgement_rows(server_config.db) == []


async def test_typed_criteria_win_and_are_stored(client: Client) -> None:
    conversation = await new_conversation(client)
    replies = await siblings(conversation, 1)
    (judged,) = await conversation.judge(
        [replies[0].response_id], model_name=OFFLINE, criteria="Mentions apples."
    )
    assert judged.rubric_name == "" and judged.rubric == "Mentions apples."
    assert judged.rubric_label == "custom"


async def test_named_rubrics_are_listed_and_used(
    server_config: ServerConfig, tmp_path: Path
) -> None:
    models = ModelsConfig(rubrics={"default": DEFAULT_RUBRIC, "brevity": "Short is good."})
    server = GroveServer(replace(server_config, models=models))
    await server.start()
    try:
        async with Client(api_host=server.address) as client:
            listed = await client.stub.ListModels(
                __import__("google.protobuf.empty_pb2").protobuf.empty_pb2.Empty()
            )
            assert [(r.name, r.text) for r in listed.rubrics] == [
                ("default", DEFAULT_RUBRIC),
                ("brevity", "Short is good."),
            ]
            catalog = await client.grok.list_models()
            assert [(r.name, r.text) for r in catalog.rubrics][1] == ("brevity", "Short is good.")
            conversation = await new_conversation(client)
            replies = await siblings(conversation, 1)
            (judged,) = await conversation.judge(
                [replies[0].response_id], model_name=OFFLINE, rubric_name="brevity"
            )
            assert judged.rubric_name == "brevity" and judged.rubric == "Short is good."
    finally:
        await server.stop()


async def test_deleting_the_conversation_deletes_its_judgements(
    client: Client, server_config: ServerConfig
) -> None:
    conversation = await new_conversation(client)
    replies = await siblings(conversation, 2)
    await conversation.judge([r.response_id for r in replies], model_name=OFFLINE)
    assert len(judgement_rows(server_config.db)) == 2
    await conversation.delete()
    assert judgement_rows(server_config.db) == []


# -- a judge behind an OpenAI-compatible endpoint ------------------------------------------


def verdict_of(body: dict[str, Any]) -> str:
    """A judge's answer that scores a reply by its length (so scores differ by reply)."""
    prompt = body["messages"][-1]["content"]
    reply = prompt.split("Reply:\n<<<\n", 1)[1].split("\n>>>", 1)[0]
    return json.dumps({"score": min(10, len(reply) % 11), "rationale": f"{len(reply)} chars"})


async def openai_judge_setup(
    openai_server: GroveServer,
) -> tuple[Client, Conversation, list[str]]:
    client = Client(api_host=openai_server.address)
    conversation = await new_conversation(client)
    first, _ = await sample(conversation, "Name a fruit tree.", model_name=OFFLINE, seed=1)
    parent = first.parent_response_id
    ids = [first.response_id]
    for text in ("Apple.", "The pear tree, which grows well in cool places."):
        ids.append((await manual(client, conversation, text, parent)).response_id)
    return client, conversation, ids


async def test_each_mode_calls_run_in_parallel_with_the_schema(
    openai_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    client, conversation, ids = await openai_judge_setup(openai_server)
    try:
        fake_openai.complete_reply = verdict_of
        fake_openai.complete_barrier = 3  # each call waits until all three are in flight
        fake_openai.requests.clear()
        judged = await conversation.judge(ids, model_name="fake")
        assert fake_openai.max_in_flight == 3
        assert [j.response_id for j in judged] == ids
        for judgement in judged:
            reply = conversation.get_response(judgement.response_id).message
            assert judgement.score == min(10, len(reply) % 11)
            assert judgement.rationale == f"{len(reply)} chars"
            assert not judgement.heuristic
        sent = fake_openai.requests
        assert len(sent) == 3 and all(not r.get("stream") for r in sent)
        assert {r["response_format"]["type"] for r in sent} == {"json_schema"}
        assert all(r["response_format"]["json_schema"]["strict"] for r in sent)
        assert {r["temperature"] for r in sent} == {0.0}
        assert all("Name a fruit tree." in r["messages"][-1]["content"] for r in sent)
    finally:
        await client.close()


async def test_table_mode_is_one_call_scoring_every_label(
    openai_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    client, conversation, ids = await openai_judge_setup(openai_server)
    try:
        answer = {
            "scores": [
                {"label": "B", "score": 9, "rationale": "short"},
                {"label": "A", "score": 2.5, "rationale": "rambles"},
                {"label": "C", "score": 6, "rationale": "fine"},
            ]
        }
        fake_openai.complete_reply = lambda body: (
            "Here you go:\n```json\n" + json.dumps(answer) + "\n```"
        )
        fake_openai.requests.clear()
        judged = await conversation.judge(ids, model_name="fake", mode="table")
        assert len(fake_openai.requests) == 1
        assert "Reply C:" in fake_openai.requests[0]["messages"][-1]["content"]
        assert [(j.score, j.rationale, j.mode) for j in judged] == [
            (2.5, "rambles", "table"),
            (9.0, "short", "table"),
            (6.0, "fine", "table"),
        ]
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("answer", "finish", "mode", "why"),
    [
        ("I liked it a lot.", "stop", "each", "no JSON object"),
        ('{"score": 12, "rationale": "great"}', "stop", "each", "outside 0-10"),
        ('{"score": "high"}', "stop", "each", "not a number"),
        ('{"score": 7, "rationale": "good but', "length", "each", "cut at max_tokens"),
        (
            '{"scores": [{"label": "A", "score": 3, "rationale": "x"}]}',
            "stop",
            "table",
            "no score for reply B",
        ),
    ],
)
async def test_unusable_judge_output_fails_and_stores_nothing(
    openai_server: GroveServer,
    fake_openai: FakeOpenAI,
    server_config: ServerConfig,
    answer: str,
    finish: str,
    mode: str,
    why: str,
) -> None:
    client, conversation, ids = await openai_judge_setup(openai_server)
    try:
        fake_openai.complete_reply = lambda body: answer
        fake_openai.complete_finish = finish
        with pytest.raises(
            UnusableJudgementError, match="The judge model 'fake' gave no usable score for reply"
        ) as raised:
            await conversation.judge(ids, model_name="fake", mode=mode)  # type: ignore[arg-type]
        assert why in str(raised.value)
        assert "Nothing was stored" in str(raised.value)
        assert judgement_rows(server_config.db) == []
    finally:
        await client.close()


async def test_tolerant_extraction_reads_a_score_line(
    openai_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    client, conversation, ids = await openai_judge_setup(openai_server)
    try:
        fake_openai.complete_reply = lambda body: "Clear and correct.\n**Score: 7/10**"
        (judged,) = await conversation.judge(ids[:1], model_name="fake")
        assert judged.score == 7.0 and judged.rationale == "Clear and correct."
    finally:
        await client.close()


async def test_an_endpoint_refusing_response_format_is_asked_by_instructions(
    openai_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    client, conversation, ids = await openai_judge_setup(openai_server)
    try:
        fake_openai.complete_reply = verdict_of
        fake_openai.reject_response_format = True
        fake_openai.requests.clear()
        await conversation.judge(ids[:1], model_name="fake")
        assert ["response_format" in r for r in fake_openai.requests] == [True, False]
        await conversation.judge(ids[:1], model_name="fake")  # remembered: asked without
        assert ["response_format" in r for r in fake_openai.requests] == [True, False, False]
    finally:
        await client.close()


async def test_extract_points_by_a_model_maps_labels_to_ids(
    openai_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    client, conversation, ids = await openai_judge_setup(openai_server)
    try:
        answer = {
            "points": [
                {"text": "Names a tree.", "replies": ["B"]},
                {"text": "Fruit trees exist.", "replies": ["A", "C", "Z"]},
                {"text": "", "replies": ["A"]},
            ]
        }
        fake_openai.complete_reply = lambda body: json.dumps(answer)
        points = await conversation.extract_points(ids, model_name="fake")
        assert not points.heuristic
        assert [(p.text, p.response_ids) for p in points.points] == [
            ("Fruit trees exist.", (ids[0], ids[2])),
            ("Names a tree.", (ids[1],)),
        ]
        fake_openai.complete_reply = lambda body: "no idea"
        with pytest.raises(FailedPreconditionError, match="no usable list of points"):
            await conversation.extract_points(ids, model_name="fake")
    finally:
        await client.close()


async def test_table_mode_needs_one_prompt(client: Client, server_config: ServerConfig) -> None:
    conversation = await new_conversation(client)
    first, _ = await sample(conversation, "About apples?", seed=1)
    second, _ = await sample(conversation, "About pears?", parent=first.response_id, seed=2)
    ids = [first.response_id, second.response_id]
    with pytest.raises(InvalidArgumentError, match="these 2 replies answer 2 different prompts"):
        await conversation.judge(ids, model_name=OFFLINE, mode="table")
    assert judgement_rows(server_config.db) == []
    each = await conversation.judge(ids, model_name=OFFLINE)  # each reply against its own
    assert [j.response_id for j in each] == ids
