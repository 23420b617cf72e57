"""The shape of a Response is declared once per side: these tests catch a field left out.

`ResponseContent`/`ResponseRecord` (server/store/records.py) name the columns; the SQLite
mapping is derived from them, and server/convert.py carries each field to and from the
wire. A new field that misses a column or a conversion fails here, not in production.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import new_response_from_proto, response_to_proto
from grove_explorer.server.store import (
    NewResponse,
    ResponseContent,
    ResponseRecord,
    SamplingRecord,
    SqliteStore,
)
from grove_explorer.server.store.rows import RESPONSE_COLUMNS

USER = "alice"

# A value unlike the default for every content field, so a dropped field shows.
CONTENT = {
    "message": "Once upon a time",
    "sender": "model",
    "manual": True,
    "partial": True,
    "query": "q",
    "query_type": "search",
    "model_name": "offline",
    "sampling": SamplingRecord(temperature=0.5, top_p=0.75, max_tokens=99, seed=2**64 - 1),
    "token_count": 4,
    "time_to_first_token_seconds": 0.25,
    "total_time_seconds": 1.5,
    "prefix_length": 4,
    "finish_reason": "length",
    "reported_prompt_tokens": 12,
    "reported_completion_tokens": 3,
    "merged_from": ("a" * 32, "b" * 32),
    "merge_mode": "checklist",
    "merge_instruction": "a point\nanother",
    "replay_of": "c" * 32,
    "system_prompt_name": "terse",
    "author": "bob",
    "request_id": "req-7",
}

# Fields an import does not take from the wire (what it carries is the importer's word):
# who made a response is this server's record of its own users (sharing).
# The request that made it names a stream of the server that ran it (resuming).
NOT_IMPORTED = {"author", "request_id"}


def test_every_content_field_has_a_test_value() -> None:
    linked = {"conversation_id", "parent_response_id"}
    names = {f.name for f in dataclasses.fields(ResponseContent)} - linked
    assert names == set(CONTENT), "give the new field a non-default value in CONTENT"


async def test_every_record_field_is_a_column_and_survives_the_store(tmp_path: Path) -> None:
    path = tmp_path / "grove.db"
    async with SqliteStore(path) as store:
        conversation = await store.create_conversation(USER)
        root = await store.add_response(
            USER, NewResponse(conversation.conversation_id, "hi", "human", None)
        )
        new = NewResponse(
            conversation_id=conversation.conversation_id,
            parent_response_id=root.response_id,
            **CONTENT,  # type: ignore[arg-type]
        )
        inserted = await store.add_response(USER, new)
        (listed,) = [
            r
            for r in await store.list_responses(USER, conversation.conversation_id)
            if r.response_id == inserted.response_id
        ]
    with closing(sqlite3.connect(path)) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(responses)")}
    assert set(RESPONSE_COLUMNS) <= columns
    assert listed == inserted
    for name, value in CONTENT.items():
        assert getattr(listed, name) == value, name


def test_every_record_field_crosses_the_wire_both_ways() -> None:
    record = ResponseRecord(
        conversation_id="c" * 32,
        parent_response_id="p" * 32,
        response_id="r" * 32,
        seq=7,
        create_time=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        shared=True,
        start_time=datetime(2026, 1, 2, 3, 4, 1, 5, tzinfo=UTC),
        **CONTENT,  # type: ignore[arg-type]
    )
    wire = response_to_proto(record)
    assert wire.start_time.ToDatetime(tzinfo=UTC) == record.start_time
    assert wire.response_id == record.response_id
    assert wire.parent_response_id == record.parent_response_id
    assert wire.shared is True
    assert wire.create_time.ToDatetime(tzinfo=UTC) == record.create_time
    back = new_response_from_proto(
        chat_pb2.Response.FromString(wire.SerializeToString()),
        sampling=record.sampling,
        tokens=None,
    )
    assert wire.author_user_id == "bob"
    for name, value in CONTENT.items():
        if name in NOT_IMPORTED:
            assert getattr(back, name) == "", name
            continue
        assert getattr(back, name) == value, name
