"""`server.convert.timestamp` gives the Timestamp protobuf's `FromDatetime` gives.

It computes UTC times by arithmetic (a long conversation's reply converts two per
response); these cases pin it to the library's result: before the epoch, at microsecond
edges, at the ends of the range, naive (taken as UTC) and in other zones.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import response_to_proto, timestamp
from grove_explorer.server.store import ResponseRecord, SamplingRecord


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
