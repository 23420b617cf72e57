"""Checkpoints skip a stream whose text did not change without building its snapshot.

A stream keeps its count of characters (`ActiveStream.chars`); the checkpointer builds a
snapshot (the partial reply) only for streams with new text. What must hold: the same
checkpoints are written as when every snapshot was built and compared, and a stream that
keeps no count is still snapshotted every time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from grove_explorer.server.servicer.stream_registry import ActiveStream, StreamRegistry
from grove_explorer.server.store import NewResponse
from grove_explorer.server.store.sqlite import SqliteStore

ALICE = "alice"


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[SqliteStore, StreamRegistry, str]]:
    async with SqliteStore(tmp_path / "grove.sqlite3") as store:
        streams = StreamRegistry(store, checkpoint_interval_seconds=60.0)
        cid = (await store.create_conversation(ALICE)).conversation_id
        yield store, streams, cid
        await streams.stop_all(grace_seconds=1.0)


def watched(stream: ActiveStream, text: list[str], built: list[int]) -> None:
    """Gives `stream` a snapshot of `text` that counts how often it is built."""

    def snapshot() -> NewResponse:
        built.append(1)
        return NewResponse(
            conversation_id=stream.conversation_id,
            message="".join(text),
            sender="model",
            parent_response_id=None,
            partial=True,
        )

    stream.snapshot = snapshot


async def saved(store: SqliteStore) -> dict[str, str]:
    rows = await store._read("SELECT checkpoint_id, response FROM checkpoints")
    return {checkpoint_id: response for checkpoint_id, response in rows}


async def test_only_streams_with_new_text_are_snapshotted_and_saved(setup) -> None:
    store, streams, cid = setup
    counted = ActiveStream(ALICE, "", cid)
    counted.chars = 0
    text: list[str] = []
    built: list[int] = []
    watched(counted, text, built)
    streams.add(counted)

    assert await streams.checkpoint_now() == 0 and built == [], "no text yet: not built"
    text.append("Hello")
    counted.chars += 5
    assert await streams.checkpoint_now() == 1 and len(built) == 1
    assert '"Hello"' in (await saved(store))[counted.checkpoint_id]
    assert await streams.checkpoint_now() == 0 and len(built) == 1, "unchanged: not built"
    text.append(" there")
    counted.chars += 6
    assert await streams.checkpoint_now() == 1 and len(built) == 2
    assert '"Hello there"' in (await saved(store))[counted.checkpoint_id]
    await streams.remove(counted)


async def test_a_stream_without_a_count_is_snapshotted_every_time(setup) -> None:
    store, streams, cid = setup
    uncounted = ActiveStream(ALICE, "", cid)
    text: list[str] = []
    built: list[int] = []
    watched(uncounted, text, built)
    streams.add(uncounted)

    assert await streams.checkpoint_now() == 0 and len(built) == 1
    text.append("Hi")
    assert await streams.checkpoint_now() == 1 and len(built) == 2
    assert await streams.checkpoint_now() == 0 and len(built) == 3
    assert '"Hi"' in (await saved(store))[uncounted.checkpoint_id]
    await streams.remove(uncounted)
