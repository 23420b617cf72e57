"""The research loop's client records: wire enums pinned, judgements read from the wire."""

from __future__ import annotations

from grove_explorer.client.convert import node_from_proto
from grove_explorer.client.judgements import (
    JUDGE_MODE_NUMBERS,
    MERGE_MODE_NUMBERS,
    ExtractedPoints,
    latest_judgement,
)
from grove_explorer.protos import chat_pb2, sampler_public_pb2


def test_mode_numbers_match_the_proto() -> None:
    assert JUDGE_MODE_NUMBERS == {
        "each": chat_pb2.JUDGE_MODE_EACH,
        "table": chat_pb2.JUDGE_MODE_TABLE,
    }
    assert MERGE_MODE_NUMBERS == {
        "fuse": chat_pb2.MERGE_MODE_FUSE,
        "checklist": chat_pb2.MERGE_MODE_CHECKLIST,
        "custom": chat_pb2.MERGE_MODE_CUSTOM,
    }


def test_a_response_brings_its_judgements_and_merge() -> None:
    wire = chat_pb2.Response(
        response_id="r3",
        sender="model",
        message="fused",
        parent_response_id="h1",
        merged_from=["r1", "r2"],
        merge_mode=chat_pb2.MERGE_MODE_CHECKLIST,
        merge_instruction="point one\npoint two",
        judgements=[
            chat_pb2.Judgement(
                judgement_id="j1",
                response_id="r3",
                score=7.5,
                rationale="clear",
                judge_model="judge",
                rubric_name="default",
                rubric="Be correct.",
                sampling_params=sampler_public_pb2.SamplingParams(temperature=0.0, seed=4),
                mode=chat_pb2.JUDGE_MODE_TABLE,
                batch_id="b1",
            ),
            chat_pb2.Judgement(judgement_id="j2", response_id="r3", score=3, heuristic=True),
        ],
    )
    node = node_from_proto(wire)
    assert node.merged_from == ("r1", "r2")
    assert node.merge_mode == "checklist"
    assert node.merge_instruction == "point one\npoint two"
    first, second = node.judgements
    assert (first.score, first.rationale, first.mode, first.batch_id) == (
        7.5,
        "clear",
        "table",
        "b1",
    )
    assert first.sampling is not None and first.sampling.seed == 4
    assert first.rubric_label == "default" and second.rubric_label == "custom"
    assert second.heuristic and second.mode == "each"
    assert latest_judgement(node.judgements) is second


def test_a_plain_response_has_none() -> None:
    node = node_from_proto(chat_pb2.Response(response_id="r", sender="model"))
    assert node.judgements == () and node.merged_from == () and node.merge_mode == ""


def test_points_keep_their_order_and_sources() -> None:
    wire = chat_pb2.ExtractPointsResponse(
        points=[
            chat_pb2.Point(text="Water boils at 100 C.", response_ids=["a", "b"]),
            chat_pb2.Point(text="At sea level.", response_ids=["a"]),
        ],
        heuristic=True,
    )
    points = ExtractedPoints.from_proto(wire)
    assert [p.text for p in points.points] == ["Water boils at 100 C.", "At sea level."]
    assert points.points[0].response_ids == ("a", "b") and points.heuristic
