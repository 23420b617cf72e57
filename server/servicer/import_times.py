"""The times an import keeps (ImportConversationRequest.keep_times): checked, settled, counted.

An import that keeps its file's times stores each response at the create_time and
start_time the request gives (one given: both that one) instead of the import's time.
Three rules keep the conversation sane, each counted in the reply's `import_times`, never
silent:

- a response given no time (unset, or 0 — the epoch, which no tool means) is stored at
  the import's time (`missing`);
- creation order is start order (`list_responses` orders by start_time, then insertion),
  so a child must not start before its parent: one that does is stored at its parent's
  start (`raised`; its create_time raised to it too when earlier). Given times may reorder
  siblings, as live ones do — the file's order breaks ties — but never put a child before
  its parent, which every reader of a conversation relies on;
- a time after the server's clock is refused (INVALID_ARGUMENT, naming the response and
  the time), not kept and not moved: a reply added to such a response later would get
  the clock's earlier time and come before its parent. A skewed clock or a broken file is
  better said than silently changed; the user can import without the file's times.

Work is in integer microseconds (what the store keeps; nanoseconds beyond are dropped),
one datetime made per kept time: a 60,000-response import settles its times in a few
dozen milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf import timestamp_pb2

from grove_explorer.protos import chat_pb2

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z, google.protobuf.Timestamp's first
_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z, its last
_MICROSECOND = timedelta(microseconds=1)
_NANOS = 1_000_000_000


class TimeProblem(ValueError):
    """A time of the request that cannot be kept; the sentence says why (without where)."""


def micros(stamp: timestamp_pb2.Timestamp, name: str) -> int | None:
    """`stamp` in microseconds since the epoch; None when unset or 0 (no time given).

    Raises TimeProblem for a value google.protobuf.Timestamp does not allow.
    """
    seconds = stamp.seconds
    nanos = stamp.nanos
    if not seconds and not nanos:
        return None
    if not (_MIN_SECONDS <= seconds <= _MAX_SECONDS and 0 <= nanos < 1_000_000_000):
        raise TimeProblem(
            f"its {name} is not a valid time (seconds {seconds}, nanos {nanos}): "
            "a time lies within the years 1-9999 and nanos within 0-999,999,999."
        )
    return seconds * 1_000_000 + nanos // 1_000


def moment(value: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return _EPOCH + value * _MICROSECOND


def _text(value: int) -> str:
    return moment(value).isoformat(timespec="microseconds").replace("+00:00", "Z")


class KeptTimes:
    """Settles the times of one import's responses, in order, and counts what it did."""

    __slots__ = ("_now", "_starts", "kept", "missing", "now", "raised")

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._now = (now - _EPOCH) // _MICROSECOND
        # Each response's settled start, by the id local to the request (a child's
        # parent is always settled before it).
        self._starts: dict[str, int] = {}
        self.kept = 0
        self.missing = 0
        self.raised = 0

    def conversation(self, request: chat_pb2.ImportConversationRequest) -> datetime | None:
        """The conversation's given create_time (None: not given); TimeProblem if unkeepable."""
        given = micros(request.create_time, "create_time")
        if given is None:
            return None
        self._check_past(given, "create_time")
        return moment(given)

    def settle(self, wire: chat_pb2.Response) -> tuple[datetime, datetime]:
        """The (create_time, start_time) `wire` is stored at; counted. TimeProblem if refused.

        Call in the request's order (parents first). A parent the request does not hold
        (refused by the other checks) sets no bound. The usual response — a valid
        create_time, no other start, not after its parent — is read inline (this runs
        once per imported response); anything else goes through `micros`.
        """
        stamp = wire.create_time
        seconds = stamp.seconds
        nanos = stamp.nanos
        if 0 < seconds <= _MAX_SECONDS and 0 <= nanos < _NANOS:  # (else: `micros` says)
            created: int | None = seconds * 1_000_000 + nanos // 1_000
        else:
            created = micros(stamp, "create_time")
        start = micros(wire.start_time, "start_time") if wire.HasField("start_time") else None
        starts = self._starts
        if created is None and start is None:
            self.missing += 1
            starts[wire.response_id] = self._now
            at = self.now
            return at, at
        if created is None:
            created = start
        elif start is None:
            start = created
        assert created is not None and start is not None
        if created > self._now or start > self._now:
            self._check_past(max(created, start), "time")
        parent = wire.parent_response_id
        above = starts.get(parent) if parent else None
        if above is not None and start < above:
            self.raised += 1
            start = above
            created = max(created, start)
        else:
            self.kept += 1
        starts[wire.response_id] = start
        stored = _EPOCH + created * _MICROSECOND
        return stored, stored if start == created else moment(start)

    def report(self) -> chat_pb2.ImportTimes:
        """The counts for the reply (kept + missing + raised = the responses settled)."""
        return chat_pb2.ImportTimes(kept=self.kept, missing=self.missing, raised=self.raised)

    def _check_past(self, value: int, name: str) -> None:
        if value > self._now:
            raise TimeProblem(
                f"its {name} {_text(value)} is after the server's clock ({_text(self._now)}): "
                "an import keeps times up to now only (a reply added to it later would come "
                "before it). Correct the file's times, or import it without them."
            )
