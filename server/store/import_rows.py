"""An import's rows, built in Python a batch at a time, for both stores.

The ids, the times (the store's clock, or those the import keeps), the parents and a fused
reply's sources or a replayed turn's original mapped from the import's local ids to the
stored ones, and the rows of tokens, annotations and judgements; the conversation's span
(`conversation_span`). Each store writes them its own way (sqlite/imports.py: multi-row
INSERTs; postgres/imports.py: COPY), a batch at a time (import_batches.py), so what the
rows hold is decided here once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from grove_explorer.server.store.protocol import UnknownParentError
from grove_explorer.server.store.records import ImportItem, NewJudgement
from grove_explorer.server.store.rows import (
    CONTENT_COLUMNS,
    annotation_values,
    content_values,
    encode_tokens,
    format_time,
    ids_text,
)

# `conversation_id` and `parent_response_id` are content columns: the rows carry the new
# conversation's id and the stored parent ids in their place.
RESPONSE_COLUMNS = (
    "user_id",
    "response_id",
    "create_time",
    "start_time",
    "shared",
    *CONTENT_COLUMNS,
)
TOKEN_COLUMNS = ("response_id", "data")
"""The columns of `ImportRows.tokens`."""
ANNOTATION_COLUMNS = (
    "response_id",
    "user_id",
    "bookmarked",
    "tags",
    "rating",
    "note",
    "update_time",
)
"""The columns of `ImportRows.annotations` with the import's time appended."""
_CONVERSATION = CONTENT_COLUMNS.index("conversation_id")
_PARENT = CONTENT_COLUMNS.index("parent_response_id")
# A fused reply's sources are local ids too, stored mapped (as parents are).
_MERGED_FROM = CONTENT_COLUMNS.index("merged_from")
_REPLAY_OF = CONTENT_COLUMNS.index("replay_of")


def stored_sources(item: ImportItem, ids: dict[str, str]) -> list[str]:
    """The stored ids of a fused reply's sources (local ids imported before it).

    Raises UnknownParentError for a source not imported before it (the servicer checks
    this first; the store refuses it too rather than store an id of nothing).
    """
    stored = []
    for source in item.response.merged_from:
        found = ids.get(source)
        if found is None:
            raise UnknownParentError(
                f"response {item.local_id!r} is merged from {source!r}, which does not "
                "come before it"
            )
        stored.append(found)
    return stored


def stored_original(item: ImportItem, ids: dict[str, str]) -> str:
    """The stored id of the original turn a replayed response replays (imported before it).

    Raises UnknownParentError when it was not imported before it (the servicer checks this
    first; the store refuses it too rather than store an id of nothing).
    """
    found = ids.get(item.response.replay_of)
    if found is None:
        raise UnknownParentError(
            f"response {item.local_id!r} replays {item.response.replay_of!r}, which does "
            "not come before it"
        )
    return found


# uuid4's version (4) and variant (10) bits, as `uuid.UUID(bytes=…, version=4)` sets them:
# byte 6's high nibble is 4, byte 8's two high bits are 10.
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT_10 = bytes((b & 0x3F) | 0x80 for b in range(256))
_SECOND = timedelta(seconds=1)
_MICROSECOND = timedelta(microseconds=1)
_HOUR = timedelta(hours=1)
_HOUR_MICROS = 3_600_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TWO = [f"{n:02d}" for n in range(60)]


def uuid4_hexes(count: int) -> list[str]:
    """`count` ids made as `uuid.uuid4().hex` is, from one read of the system's randomness.

    `uuid4()` builds and checks a UUID object per id, and even one integer per id cost a
    tenth of a second for a 60,000-response import, before its first row could go: here
    the version (4) and variant (10) bits of every id are set at once, a byte column at
    a time (`translate` over a strided slice), and the hex text is cut into ids.
    """
    data = bytearray(os.urandom(16 * count))
    data[6::16] = data[6::16].translate(_VERSION_4)
    data[8::16] = data[8::16].translate(_VARIANT_10)
    text = data.hex()
    return [text[i : i + 32] for i in range(0, 32 * count, 32)]


class ImportRows:
    """An import's rows, built a batch at a time: responses, tokens, annotations."""

    def __init__(self, user_id: str, conversation_id: str, response_ids: list[str]) -> None:
        self.user_id = user_id
        self.conversation_id = conversation_id
        self.response_ids = response_ids
        self.ids: dict[str, str] = {}
        self.rows: list[list[Any]] = []
        self.links: list[tuple[str | None, str | None]] = []  # stored parent, given start
        self.tokens: list[tuple[str, bytes]] = []
        self.annotations: list[tuple[Any, ...]] = []
        self.judgements: list[tuple[NewJudgement, str]] = []  # with the stored response id
        # The earliest and latest create_time of the rows built (texts: fixed-width, so
        # text order is time order); None before the first.
        self.earliest: str | None = None
        self.latest: str | None = None
        self.given = False  # whether any row's time was given (kept) rather than ticked
        self.texts = TimeTexts()

    def build(self, items: Sequence[ImportItem], times: Sequence[str]) -> list[list[Any]]:
        """The response rows of `items` (the next ones), kept too.

        Each is stored at the time its item gives (kept times), else at its entry of
        `times` (the store's clock).

        Raises UnknownParentError for a parent not built before, ValueError for a seed
        outside [0, 2**64).
        """
        user_id, conversation_id, ids = self.user_id, self.conversation_id, self.ids
        text_of, links = self.texts, self.links
        built: list[list[Any]] = []
        offset = len(self.rows)
        earliest, latest = self.earliest, self.latest
        for item, response_id, created in zip(
            items, self.response_ids[offset : offset + len(items)], times, strict=True
        ):
            parent = None
            if item.parent_local_id is not None:
                parent = ids.get(item.parent_local_id)
                if parent is None:
                    raise UnknownParentError(
                        f"response {item.local_id!r} names parent "
                        f"{item.parent_local_id!r}, which does not come before it"
                    )
            ids[item.local_id] = response_id
            new = item.response
            values = content_values(new)
            values[_CONVERSATION] = conversation_id
            values[_PARENT] = parent
            if new.merged_from:
                values[_MERGED_FROM] = ids_text(stored_sources(item, ids))
            if new.replay_of:
                values[_REPLAY_OF] = stored_original(item, ids)
            given = item.create_time
            if given is not None:  # kept from the file (the servicer checked it)
                created = text_of(given)
                self.given = True
            if earliest is None or created < earliest:
                earliest = created
            if latest is None or created > latest:
                latest = created
            # The start time is the row's own time unless given (as a live insert does).
            began = new.start_time
            start = None if began is None else created if began is given else text_of(began)
            built.append(
                [user_id, response_id, created, start or created, int(item.shared), *values]
            )
            links.append((parent, start))
            if new.tokens:
                self.tokens.append((response_id, encode_tokens(new.tokens)))
            annotation = item.annotation
            if annotation is not None and not annotation.empty:
                self.annotations.append((response_id, user_id, *annotation_values(annotation)))
            if item.judgements:
                self.judgements.extend((judgement, response_id) for judgement in item.judgements)
        self.earliest, self.latest = earliest, latest
        self.rows.extend(built)
        return built


class TimeTexts:
    """`format_time` of given times, for an import that keeps its file's times.

    One or two per row: `isoformat` (which formats through printf) cost a fifth of what
    keeping times added to an import. Here the time is taken apart by arithmetic on its
    distance from the epoch (any zone), its hour's text made once, and the minutes and
    seconds (from a table) and microseconds joined to it: the same text, 40% cheaper.
    """

    __slots__ = ("_hours",)

    def __init__(self) -> None:
        self._hours: dict[int, str] = {}

    def __call__(self, moment: datetime) -> str:
        """`format_time(moment)` of an aware time."""
        hour, rest = divmod((moment - _EPOCH) // _MICROSECOND, _HOUR_MICROS)
        head = self._hours.get(hour)
        if head is None:  # "…T04:" of "…T04:00:00.000000+00:00"
            head = self._hours[hour] = format_time(_EPOCH + hour * _HOUR)[:14]
        minute, rest = divmod(rest, 60_000_000)
        second, micro = divmod(rest, 1_000_000)
        return f"{head}{_TWO[minute]}:{_TWO[second]}.{str(micro + 1_000_000)[1:]}+00:00"


def tick_texts(first: datetime, count: int) -> list[str]:
    """`format_time` of `first` and the `count - 1` microseconds after it, by arithmetic.

    Within one second only the six digits of the microseconds change, so each second's
    text is formatted once (`isoformat` per row was a sixth of the store's Python time).
    """
    texts: list[str] = []
    second = first.replace(microsecond=0)
    start = first.microsecond
    while len(texts) < count:
        text = format_time(second)  # "…T04:05:06.000000+00:00"
        head, tail = text[:-12], text[-6:]
        end = min(1_000_000, start + count - len(texts))
        texts.extend([f"{head}{micro:06d}{tail}" for micro in range(start, end)])
        second += _SECOND
        start = 0
    return texts


def conversation_span(stamp: str, clock: bool, rows: ImportRows) -> tuple[str, str]:
    """The conversation's create_time and update_time (see `Store.import_conversation`).

    `stamp`: its own time, the clock's when `clock`. The earliest of that and its rows'
    times, and the latest; except that a conversation without a given time whose rows'
    times were given (kept) starts at its first row, not at the import.
    """
    if rows.earliest is None or rows.latest is None:
        return stamp, stamp
    if clock and rows.given:
        return rows.earliest, rows.latest
    return min(stamp, rows.earliest), max(stamp, rows.latest)
