"""The pure parts of judging: reading a judge's answer, rubrics config, labels, the
offline heuristic judge and the heuristic points."""

from __future__ import annotations

import pytest

from grove_explorer.server.backends import BackendConfigError, parse_models_config
from grove_explorer.server.judging.parsing import (
    UnusableOutput,
    Verdict,
    json_object,
    parse_each,
    parse_points,
    parse_table,
)
from grove_explorer.server.judging.points import heuristic_points
from grove_explorer.server.judging.prompts import label
from grove_explorer.server.judging.rubrics import DEFAULT_RUBRIC
from grove_explorer.server.sampler.base import HeuristicJudge
from grove_explorer.server.sampler.offline import OfflineSampler


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ('{"score": 7, "rationale": "good"}', Verdict(7.0, "good")),
        ('Sure!\n```json\n{"score": 3.5, "rationale": "thin"}\n```', Verdict(3.5, "thin")),
        ('My verdict: {"score": "8/10", "rationale": "ok"} done', Verdict(8.0, "ok")),
        ('<think>{"score": 1}</think>{"score": 9, "rationale": "x"}', Verdict(9.0, "x")),
        ("Clear and correct.\n**Score: 7/10**", Verdict(7.0, "Clear and correct.")),
        ("Score: 10. Perfect.", Verdict(10.0, "Perfect.")),
        ("I give it 0 out of 10; empty.", Verdict(0.0, "I give it ; empty.")),
        ('{"score": 0, "rationale": null}', Verdict(0.0, "")),
    ],
)
def test_each_answers_are_read_tolerantly(answer: str, verdict: Verdict) -> None:
    assert parse_each(answer) == verdict


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("It is quite good.", "no JSON object and no"),
        ('{"score": 11}', "outside 0-10"),
        ('{"score": -1, "rationale": ""}', "outside 0-10"),
        ('{"score": true}', "not a number"),
        ('{"score": NaN}', "outside 0-10"),
        ('{"rationale": "no score"}', 'has no "score"'),
        ("Score: 12/10", "outside 0-10"),
    ],
)
def test_unusable_each_answers_say_why(answer: str, why: str) -> None:
    with pytest.raises(UnusableOutput, match=why):
        parse_each(answer)


def test_table_answers_map_labels_in_order() -> None:
    answer = (
        '{"scores": [{"label": "Reply B", "score": 2, "rationale": "b"}, '
        '{"label": "a", "score": 9, "rationale": "a"}, {"label": "Q", "score": 1}]}'
    )
    assert parse_table(answer, ["A", "B"]) == [Verdict(9.0, "a"), Verdict(2.0, "b")]
    assert parse_table('{"scores": {"A": 4, "B": {"score": 5}}}', ["A", "B"]) == [
        Verdict(4.0, ""),
        Verdict(5.0, ""),
    ]
    with pytest.raises(UnusableOutput, match="no score for reply B") as missing:
        parse_table('{"scores": [{"label": "A", "score": 3}]}', ["A", "B"])
    assert missing.value.label == "B"
    with pytest.raises(UnusableOutput, match="twice"):
        parse_table('{"scores": [{"label": "A", "score": 3}, {"label": "A", "score": 4}]}', ["A"])
    with pytest.raises(UnusableOutput, match="outside 0-10") as bad:
        parse_table('{"scores": [{"label": "A", "score": 30}]}', ["A"])
    assert bad.value.label == "A"


def test_points_and_json_extraction() -> None:
    assert parse_points('{"points": [{"text": " a  b ", "replies": ["a", "X", "A"]}]}', ["A"]) == [
        ("a b", ["A"])
    ]
    with pytest.raises(UnusableOutput):
        parse_points("[1, 2]", ["A"])
    assert json_object("no braces here") is None
    assert json_object('{"a": {"b": 1}} and {"c": 2}') == {"a": {"b": 1}}


def test_labels_run_past_z() -> None:
    assert [label(i) for i in (0, 1, 25, 26, 27, 51, 52)] == ["A", "B", "Z", "AA", "AB", "AZ", "BA"]


def test_rubrics_config_is_checked_at_start() -> None:
    config = parse_models_config({"rubrics": {"brevity": "  Short wins.  "}})
    assert list(config.rubrics.items()) == [("default", DEFAULT_RUBRIC), ("brevity", "Short wins.")]
    assert list(parse_models_config({}).rubrics) == ["default"]
    for bad, why in [
        ({"rubrics": "x"}, r"\[rubrics\] must map rubric names to texts"),
        ({"rubrics": {"default": "mine"}}, "built-in rubric cannot be redefined"),
        ({"rubrics": {"empty": "  "}}, "'empty' must be a non-empty text"),
        ({"rubrics": {"n": 3}}, "'n' must be a non-empty text"),
        ({"rubrics": {"x" * 65: "t"}}, "at most 64 characters"),
    ]:
        with pytest.raises(BackendConfigError, match=why):
            parse_models_config(bad, "grove.toml")


def test_the_offline_heuristic_judge_is_transparent_and_deterministic() -> None:
    sampler = OfflineSampler()
    assert isinstance(sampler, HeuristicJudge)
    prompt = "Why do apple trees need pruning?"
    good = "Pruning apple trees lets light reach the fruit, so the trees need it."
    score, why = sampler.heuristic_judgement("Mention light.", prompt, good)
    assert (score, why) == sampler.heuristic_judgement("Mention light.", prompt, good)
    # "mention" is the one rubric word the reply lacks (words are matched by stem).
    assert "covers 4/5 rubric and prompt words (appl, light, prun, tree)" in why
    assert "mean logprob" in why
    low, low_why = sampler.heuristic_judgement("Mention light.", prompt, "Zxq vrk.")
    assert low < score and "covers 0/5" in low_why
    empty, empty_why = sampler.heuristic_judgement("", "", "")
    assert empty == 0.0 and "no words to score" in empty_why
    assert 0 <= low <= 10 and 0 <= score <= 10


def test_heuristic_points_group_near_identical_sentences() -> None:
    points = heuristic_points(["Soil holds water. Worms help.", "Soil holds the water!", ""])
    assert [(p.text, p.replies) for p in points] == [
        ("Soil holds water.", (0, 1)),
        ("Worms help.", (0,)),
    ]
