"""A protobuf Timestamp as a datetime, without the SDK's models.

Apart from `client.convert` (which loads the SDK's pydantic models to build them) so that
what reads a time off a wire message and nothing else, such as `grove import` printing the
new conversation's times, loads none of them (issue 13: a command's start-up).
`client.convert` re-exports `utc_datetime`.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.protobuf import timestamp_pb2

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_FIRST_SECOND, _LAST_SECOND = -62_135_596_800, 253_402_300_799
"""The seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: a Timestamp's range."""


def utc_datetime(value: timestamp_pb2.Timestamp) -> datetime.datetime:
    """A protobuf Timestamp as an aware UTC datetime.

    `Timestamp.ToDatetime(tzinfo=UTC)` computes the same (epoch + seconds + microseconds
    rounded toward zero, in UTC) after checks and a time-zone conversion that cost more
    than the sum; it still handles (and refuses) anything out of range.
    """
    seconds, nanos = value.seconds, value.nanos
    if _FIRST_SECOND <= seconds <= _LAST_SECOND and 0 <= nanos < 1_000_000_000:
        return _EPOCH + datetime.timedelta(seconds=seconds, microseconds=nanos // 1000)
    return value.ToDatetime(tzinfo=datetime.UTC)
