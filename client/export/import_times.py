"""The times of an export document, read into an import request that keeps them.

A `grove export --format json` file (and the documents `client.foreign` writes from other
tools' files) gives each response a `create_time` and a `start_time`, and the
conversation a `create_time`: UTC ISO 8601 texts (`2026-01-01T12:00:00.123456Z`), null
when unknown. An import that keeps times (`ImportConversationRequest.keep_times`) sends
them; the server checks them against its clock and its parents (see the proto). A time
without a zone is read as UTC, as Grove writes every time. A value that is not such a
text is refused with its JSON path, like every other field of the file.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from grove_explorer.protos import chat_pb2

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_SECONDS = 86_400


def _parse(value: Any, path: str) -> tuple[int, int] | None:
    """(seconds, nanos) since the epoch of an ISO 8601 text; None for null or ""."""
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise ValueError(f"{path}: must be an ISO 8601 time or null.")
    try:
        moment = _fromisoformat(value)
    except ValueError:
        raise ValueError(f"{path}: must be an ISO 8601 time, not {value[:40]!r}.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        delta = moment - _EPOCH
    except OverflowError:  # an offset that takes it out of the years 1-9999
        raise ValueError(f"{path}: {value[:40]!r} is outside the years 1-9999.") from None
    return delta.days * _DAY_SECONDS + delta.seconds, delta.microseconds * 1_000


_fromisoformat = datetime.fromisoformat


def set_response_times(wire: chat_pb2.Response, value: dict[str, Any], index: int) -> None:
    """Sets `wire`'s create_time and start_time from response `value` ($.responses[index]).

    start_time is sent only when it differs from create_time: the server takes one given
    time for both, and a long import saves a field per human message. One function with
    the common case inline (a 60,000-response file reads 120,000 times); any doubt goes
    to `_parse`, which names the problem.
    """
    created_text = value.get("create_time")
    start_text = value.get("start_time")
    created = None
    if created_text is not None and created_text != "":
        created = _parse(created_text, f"$.responses[{index}].create_time")
        assert created is not None
        stamp = wire.create_time
        stamp.seconds, stamp.nanos = created
    if start_text is None or start_text == "" or start_text == created_text:
        return
    start = _parse(start_text, f"$.responses[{index}].start_time")
    if start is not None and start != created:
        stamp = wire.start_time
        stamp.seconds, stamp.nanos = start


def set_conversation_time(
    request: chat_pb2.ImportConversationRequest, document: dict[str, Any]
) -> None:
    """Sets the request's create_time from the document's `create_time` (null: none)."""
    created = _parse(document.get("create_time"), "$.create_time")
    if created is not None:
        request.create_time.seconds, request.create_time.nanos = created


def iso_time(moment: datetime | None) -> str | None:
    """A time as export documents write it (UTC, `Z`); None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def epoch_time(seconds: float) -> datetime:
    """Seconds since the epoch (ChatGPT's and Open WebUI's times) as a UTC datetime.

    Raises ValueError (OverflowError included) outside the years 1-9999.
    """
    return _EPOCH + timedelta(seconds=seconds)
