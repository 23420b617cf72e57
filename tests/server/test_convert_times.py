"""`server.convert.timestamp` gives the Timestamp protobuf's `FromDatetime` gives.

It computes UTC times by arithmetic (a long conversation's reply converts two per
response); these cases pin it to the library's result: before the epoch, at microsecond
edges, at the ends of the range, naive (taken as UTC) and in other zones.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from grove_explorer.protos import chat_pb2, sampler_public_pb2
from grove_explorer.server.convert import (
    FINISH_TO_WIRE,
    annotation_to_proto,
    conversation_to_proto,
    response_to_proto,
    timestamp,
)
from grove_explorer.server.store import (
    AnnotationRecord,
    ConversationRecord,
    ResponseRecord,
    SamplingRecord,
)


def _library(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


_EDGES = [
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 12, 5, 2, 11, 21, 1, tzinfo=UTC),
    datetime(2026, 12, 5, 2, 11, 21, 1),
    datetime(1950, 6, 1, 12, 0, 0, 500_000),
    datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2026, 3, 29, 1, 30, 0, 7, tzinfo=timezone(timedelta(hours=-8))),
]


@pytest.mark.parametrize("value", _EDGES, ids=str)
def test_edges_equal_from_datetime(value: datetime) -> None:
    assert timestamp(value) == _library(value)


def test_random_times_equal_from_datetime() -> None:
    rng = random.Random(13)
    low, high = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)
    span = int((high - low).total_seconds())
    for _ in range(2_000):
        value = low + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(10**6))
        assert timestamp(value) == _library(value)
        naive = value.replace(tzinfo=None)
        assert timestamp(naive) == _library(naive)


def test_a_response_keeps_sampling_unset_or_given() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    base = {
        "conversation_id": "c",
        "message": "m",
        "sender": "human",
        "parent_response_id": None,
        "response_id": "r",
        "seq": 1,
        "create_time": now,
        "start_time": now,
        "shared": False,
    }
    human = response_to_proto(ResponseRecord(**base))  # type: ignore[arg-type]
    assert not human.HasField("sampling_params")
    sampling = SamplingRecord(temperature=0.5, top_p=0.9, max_tokens=7, seed=2**64 - 1)
    model = response_to_proto(
        ResponseRecord(**{**base, "sender": "model", "sampling": sampling})  # type: ignore[arg-type]
    )
    assert (
        model.sampling_params
        == chat_pb2.Response(
            sampling_params={"temperature": 0.5, "top_p": 0.9, "max_tokens": 7, "seed": 2**64 - 1}
        ).sampling_params
    )
    assert model.create_time == _library(now)


def _constructed(record: ResponseRecord, annotation: AnnotationRecord | None) -> chat_pb2.Response:
    """The wire response as the constructor built it before it was filled in place."""
    sampling = record.sampling
    message = chat_pb2.Response(
        response_id=record.response_id,
        message=record.message,
        sender=record.sender,
        create_time=_library(record.create_time),
        parent_response_id=record.parent_response_id or "",
        manual=record.manual,
        partial=record.partial,
        shared=record.shared,
        query=record.query,
        query_type=record.query_type,
        model_name=record.model_name,
        token_count=record.token_count,
        time_to_first_token_seconds=record.time_to_first_token_seconds,
        total_time_seconds=record.total_time_seconds,
        prefix_length=record.prefix_length,
        start_time=_library(record.start_time),
        finish_reason=FINISH_TO_WIRE.get(record.finish_reason, chat_pb2.FINISH_REASON_UNSPECIFIED),
        sampling_params=None
        if sampling is None
        else sampler_public_pb2.SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_tokens,
            seed=sampling.seed,
        ),
    )
    if annotation is not None and not annotation.empty:
        message.annotation.CopyFrom(annotation_to_proto(annotation))
    return message


def test_responses_filled_in_place_are_the_constructed_ones() -> None:
    """GetConversation fills each response in place; every field and presence is the same."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    base = ResponseRecord(
        conversation_id="c",
        message="m",
        sender="model",
        parent_response_id="p",
        response_id="r",
        seq=1,
        create_time=datetime(2026, 1, 1, 0, 0, 0, 7, tzinfo=UTC),
        start_time=datetime(2025, 12, 31, 23, 59, 59, 999_999),
        shared=True,
        manual=True,
        partial=True,
        query="q",
        query_type="web",
        model_name="offline",
        token_count=5,
        time_to_first_token_seconds=0.25,
        total_time_seconds=1.5,
        prefix_length=3,
        finish_reason="length",
        sampling=SamplingRecord(temperature=0.7, top_p=None, max_tokens=None, seed=0),
    )
    records = [
        base,
        replace(base, parent_response_id=None, sampling=None, finish_reason="", shared=False),
        replace(base, sampling=SamplingRecord(None, None, None, None)),
        replace(base, create_time=epoch, start_time=epoch, finish_reason="unknown-reason"),
        replace(base, start_time=datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=5)))),
    ]
    marks = AnnotationRecord(bookmarked=True, tags=("a", "b"), rating=-1, note="n")
    for record in records:
        for annotation in (None, AnnotationRecord(), marks):
            expected = _constructed(record, annotation)
            single = response_to_proto(record, annotation)
            assert single == expected
            assert single.SerializeToString(deterministic=True) == expected.SerializeToString(
                deterministic=True
            )
            for name in ("create_time", "start_time", "sampling_params", "annotation"):
                assert single.HasField(name) == expected.HasField(name), name
    conversation = ConversationRecord(
        user_id="u",
        conversation_id="c",
        title="t",
        starred=False,
        create_time=epoch,
        update_time=epoch,
        response_count=len(records),
    )
    wire = conversation_to_proto(conversation, records, {"r": marks})
    assert list(wire.responses) == [_constructed(r, marks) for r in records]
