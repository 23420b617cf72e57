"""Rows of a store ↔ store records: times, seeds, token blobs, and responses.

Shared by the SQLite and PostgreSQL stores: both select the same columns in the same
order, so one positional mapping serves both. SQLite hands back times as ISO-8601 text and
flags as 0/1; PostgreSQL hands back `datetime`s (timestamptz) and bools — `parse_time` and
`bool()` take either, and `content_values` / `content_values_pg` write each store's kind.

The response mapping is derived from `ResponseRecord`'s fields (server/store/records.py),
the one declaration of a response's columns, so a new response field needs no code here.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, get_type_hints

import orjson

from grove_explorer.server.store.records import (
    AnnotationRecord,
    ApiKeyRecord,
    ConversationRecord,
    ResponseContent,
    ResponseRecord,
    SamplingRecord,
    TokenRow,
)

# Seeds are proto uint64. SQLite integers are signed 64-bit, so seeds >= 2**63 are stored
# as their two's-complement negative; the mapping is a bijection on [0, 2**64).
_SEED_LIMIT = 2**64
_SEED_SIGN = 2**63


def format_time(moment: datetime) -> str:
    """Fixed-width UTC text, so that text order is time order and microseconds survive."""
    if moment.tzinfo is not UTC:  # the store's clock is UTC already (no conversion)
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


def parse_time(text: str | datetime) -> datetime:
    """Inverse of `format_time`, always timezone-aware UTC (PostgreSQL's datetimes pass)."""
    if isinstance(text, datetime):
        return text.astimezone(UTC)
    return datetime.fromisoformat(text).astimezone(UTC)


def encode_seed(seed: int) -> int:
    """A uint64 seed as the signed 64-bit integer SQLite can hold."""
    if not 0 <= seed < _SEED_LIMIT:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return seed - _SEED_LIMIT if seed >= _SEED_SIGN else seed


def decode_seed(stored: int) -> int:
    """Inverse of `encode_seed`."""
    return stored + _SEED_LIMIT if stored < 0 else stored


# -- responses -----------------------------------------------------------------------------

_SAMPLING_COLUMNS = tuple(f.name for f in dataclasses.fields(SamplingRecord))
_PLAIN_TYPES: tuple[object, ...] = (str, int, float, str | None, int | None)


def _columns(record_type: type) -> tuple[tuple[str, object], ...]:
    """(field name, type) of a response record, checked against what rows can hold."""
    hints = get_type_hints(record_type)
    known = (*_PLAIN_TYPES, bool, datetime, SamplingRecord | None, tuple[str, ...])
    result = []
    for f in dataclasses.fields(record_type):
        kind = hints[f.name]
        if kind not in known:
            raise TypeError(f"{record_type.__name__}.{f.name}: no column mapping for {kind}")
        result.append((f.name, kind))
    return tuple(result)


_RECORD_FIELDS = _columns(ResponseRecord)
_CONTENT_FIELDS = _columns(ResponseContent)
_CONTENT_NAMES = tuple(name for name, _ in _CONTENT_FIELDS)
assert tuple(name for name, _ in _RECORD_FIELDS[: len(_CONTENT_NAMES)]) == _CONTENT_NAMES
_CONTENT_VALUES = attrgetter(*_CONTENT_NAMES)
_CONTENT_BOOLS = tuple(i for i, (_, kind) in enumerate(_CONTENT_FIELDS) if kind is bool)
_CONTENT_CONVERSATION = _CONTENT_NAMES.index("conversation_id")
_CONTENT_PARENT = _CONTENT_NAMES.index("parent_response_id")


def _column_names(fields: Sequence[tuple[str, object]]) -> tuple[str, ...]:
    names: list[str] = []
    for name, kind in fields:
        names.extend(_SAMPLING_COLUMNS if kind == SamplingRecord | None else (name,))
    return tuple(names)


RESPONSE_COLUMNS = _column_names(_RECORD_FIELDS)
"""Every column a `ResponseRecord` is read from, in the order `read_response` expects."""

CONTENT_COLUMNS = _column_names(_CONTENT_FIELDS)
"""The columns of a response's content, in the order of `content_values`."""

R_COLUMNS = ", ".join(f"r.{column}" for column in RESPONSE_COLUMNS)
"""`RESPONSE_COLUMNS` of the `responses AS r` alias, for SELECTs read by `read_response`."""


def read_ids(text: str | None) -> tuple[str, ...]:
    """The ids a column holds as a JSON array ("" or NULL: none, as most rows hold)."""
    return tuple(json.loads(text)) if text else ()


def ids_text(ids: Sequence[str]) -> str:
    """A column's text of ids: a JSON array, "" for none (so most rows hold nothing)."""
    return json.dumps(list(ids)) if ids else ""


def _sampling(
    temperature: float | None, top_p: float, max_tokens: int, seed: int
) -> SamplingRecord | None:
    """The sampling record of four columns (all NULL: none recorded)."""
    if temperature is None:
        return None
    return SamplingRecord(temperature, top_p, max_tokens, decode_seed(seed))


def _compile_reader() -> Callable[[Sequence[Any]], ResponseRecord]:
    """Builds `read_response` from `ResponseRecord`'s fields.

    The function is generated as plain positional code (as `dataclasses` generates
    `__init__`): reading a conversation maps every response row, and a loop over field
    specs per row would cost a third more than the hand-written mapping it replaces.
    """
    arguments: list[str] = []
    index = 0
    for name, kind in _RECORD_FIELDS:
        if kind == SamplingRecord | None:
            cells = ", ".join(f"row[{index + i}]" for i in range(len(_SAMPLING_COLUMNS)))
            arguments.append(f"{name}=sampling({cells})")
            index += len(_SAMPLING_COLUMNS)
            continue
        cell = f"row[{index}]"
        if kind is bool:
            cell = f"bool({cell})"
        elif kind is datetime:
            cell = f"parse_time({cell})"
        elif kind == tuple[str, ...]:
            cell = f"read_ids({cell})"
        arguments.append(f"{name}={cell}")
        index += 1
    source = f"def read_response(row):\n    return Record({', '.join(arguments)})\n"
    namespace: dict[str, Any] = {
        "Record": ResponseRecord,
        "sampling": _sampling,
        "parse_time": parse_time,
        "read_ids": read_ids,
    }
    exec(compile(source, "<grove response row reader>", "exec"), namespace)
    reader: Callable[[Sequence[Any]], ResponseRecord] = namespace["read_response"]
    reader.__doc__ = "A ResponseRecord from a row selected with `R_COLUMNS` (positional)."
    return reader


read_response = _compile_reader()


def _compile_content_values(*, bools_as_int: bool) -> Callable[[ResponseContent], list[Any]]:
    """Builds `content_values` from `ResponseContent`'s fields, as `read_response` is built.

    An import maps every response it stores; a loop over field specs per response cost
    three times the generated positional code. SQLite stores flags as 0/1; PostgreSQL's
    boolean columns take no integers (`bools_as_int=False`).
    """
    items: list[str] = []
    for name, kind in _CONTENT_FIELDS:
        if kind == SamplingRecord | None:
            items.append(f"*sampling(content.{name})")
        elif kind is bool:
            flag = f"bool(content.{name})"
            items.append(f"int({flag})" if bools_as_int else flag)
        elif kind == tuple[str, ...]:
            items.append(f"ids_text(content.{name})")
        else:
            items.append(f"content.{name}")
    source = f"def content_values(content):\n    return [{', '.join(items)}]\n"
    namespace: dict[str, Any] = {"sampling": _sampling_values, "ids_text": ids_text}
    exec(compile(source, "<grove response content values>", "exec"), namespace)
    values: Callable[[ResponseContent], list[Any]] = namespace["content_values"]
    values.__doc__ = (
        "The values of `CONTENT_COLUMNS` for an insert (seeds as signed);"
        " ValueError for a seed outside [0, 2**64)."
    )
    return values


_NO_SAMPLING = (None,) * len(_SAMPLING_COLUMNS)


def _sampling_values(value: SamplingRecord | None) -> tuple[Any, ...]:
    """The four sampling columns of a record (all NULL: none recorded)."""
    if value is None:
        return _NO_SAMPLING
    return (value.temperature, value.top_p, value.max_tokens, encode_seed(value.seed))


content_values = _compile_content_values(bools_as_int=True)
content_values_pg = _compile_content_values(bools_as_int=False)


def stored_record(
    content: ResponseContent,
    *,
    response_id: str,
    seq: int,
    create_time: datetime,
    start_time: datetime,
) -> ResponseRecord:
    """The record of a response just inserted with `content` (not shared yet)."""
    fields: dict[str, Any] = {
        name: bool(getattr(content, name)) if kind is bool else getattr(content, name)
        for name, kind in _CONTENT_FIELDS
    }
    return ResponseRecord(
        **fields,
        response_id=response_id,
        seq=seq,
        create_time=create_time,
        shared=False,
        start_time=start_time,
    )


def imported_record(
    content: ResponseContent,
    *,
    conversation_id: str,
    parent_response_id: str | None,
    response_id: str,
    seq: int,
    create_time: datetime,
    start_time: datetime,
    shared: bool,
) -> ResponseRecord:
    """The record of an imported response as stored: linked into its new conversation.

    Positional (the record's content fields come first, in `_CONTENT_FIELDS` order) and
    read with one attrgetter: an import builds one per response.
    """
    values = list(_CONTENT_VALUES(content))
    for index in _CONTENT_BOOLS:
        values[index] = bool(values[index])
    values[_CONTENT_CONVERSATION] = conversation_id
    values[_CONTENT_PARENT] = parent_response_id
    return ResponseRecord(
        *values,
        response_id=response_id,
        seq=seq,
        create_time=create_time,
        shared=shared,
        start_time=start_time,
    )


# -- other tables ----------------------------------------------------------------------------

CONVERSATION_SELECT = """
    SELECT c.conversation_id, c.user_id, c.title, c.starred, c.create_time, c.update_time,
           (SELECT COUNT(*) FROM responses AS r WHERE r.conversation_id = c.conversation_id)
    FROM conversations AS c
"""


def read_conversation(row: Sequence[Any]) -> ConversationRecord:
    """A conversation from a row selected with `CONVERSATION_SELECT` (and maybe a role)."""
    return ConversationRecord(
        conversation_id=row[0],
        user_id=row[1],
        title=row[2],
        starred=bool(row[3]),
        create_time=parse_time(row[4]),
        update_time=parse_time(row[5]),
        response_count=int(row[6]),
        role=row[7] if len(row) > 7 else "owner",  # a listing adds the reader's role
    )


API_KEY_SELECT = "SELECT key_id, user_id, label, create_time, revoked, revoke_time FROM api_keys"


def read_api_key(row: Sequence[Any]) -> ApiKeyRecord:
    """A key record from a row selected with `API_KEY_SELECT`."""
    return ApiKeyRecord(
        key_id=row[0],
        user_id=row[1],
        label=row[2],
        create_time=parse_time(row[3]),
        revoked=bool(row[4]),
        revoke_time=None if row[5] is None else parse_time(row[5]),
    )


def read_annotation(row: Sequence[Any]) -> AnnotationRecord:
    """An annotation from (bookmarked, tags JSON, rating, note[, who set it])."""
    return AnnotationRecord(
        bookmarked=bool(row[0]),
        tags=tuple(json.loads(row[1])),
        rating=row[2],
        note=row[3],
        set_by=row[4] if len(row) > 4 else "",
    )


def annotation_values(annotation: AnnotationRecord) -> tuple[int, str, int, str]:
    """(bookmarked, tags JSON, rating, note) of an annotation, as stored."""
    return (
        int(annotation.bookmarked),
        json.dumps(list(annotation.tags)),
        annotation.rating,
        annotation.note,
    )


def encode_tokens(tokens: Sequence[TokenRow]) -> bytes:
    """Tokens as compressed JSON: [[text, logprob|null, [[alt, logprob], ...]], ...].

    A finished reply is encoded on the event loop while every other stream waits, and a
    team server stores hundreds within one burst when replies end together: orjson and
    zlib's fastest level take ~1/8 of the standard encoder at level 6 (the blob is ~10 %
    larger). orjson writes a non-finite float as null, which would read back as "no
    logprob", so a reply holding one (a backend's -inf) takes the standard encoder, which
    keeps it as -Infinity; so does text orjson refuses (a lone surrogate).
    """
    if _all_finite(tokens):
        try:
            return zlib.compress(orjson.dumps(tokens), 1)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate: the standard encoder escapes it
    text = json.dumps([[t, lp, [list(a) for a in top]] for t, lp, top in tokens])
    return zlib.compress(text.encode(), 1)


def _all_finite(tokens: Sequence[TokenRow]) -> bool:
    """True when every logprob is finite: their sum is (inf or nan would make it not)."""
    total = 0.0
    for _, logprob, top in tokens:
        if logprob is not None:
            total += logprob
        for _, alternative in top:
            total += alternative
    return total - total == 0.0


def decode_tokens(data: bytes) -> list[TokenRow]:
    """The tokens `encode_tokens` stored (whatever encoder and level wrote them)."""
    text = zlib.decompress(data)
    try:
        rows = orjson.loads(text)
    except orjson.JSONDecodeError:  # -Infinity / NaN, written by the standard encoder
        rows = json.loads(text)
    return [
        (token, logprob, tuple((alt, alt_lp) for alt, alt_lp in top))
        for token, logprob, top in rows
    ]
