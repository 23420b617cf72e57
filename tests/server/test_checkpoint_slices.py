"""Checkpoints are taken a slice of the running streams at a time, each stream once an interval.

What must hold: an interval is cut into slices no shorter than the tick (one slice when
the interval is short); streams are dealt into slices round robin; a tick saves only its
slice's streams, and the slices together are every stream, each once; the checkpointer's
batches each hold one slice and go round all of them; with no stream left the
checkpointer ends (an idle server is not woken every tick).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from grove_explorer.server.servicer.stream_registry import (
    MAX_SLICES,
    ActiveStream,
    StreamRegistry,
    checkpoint_slices,
)
from grove_explorer.server.store import Checkpoint, NewResponse
from grove_explorer.server.store.sqlite import SqliteStore

ALICE = "alice"


def test_an_interval_is_cut_into_slices_no_shorter_than_the_tick() -> None:
    assert checkpoint_slices(0.4) == MAX_SLICES == 8
    assert checkpoint_slices(5.0) == MAX_SLICES
    assert checkpoint_slices(0.1) == 2
    assert checkpoint_slices(0.05) == 1
    assert checkpoint_slices(0.01) == 1


def with_text(stream: ActiveStream, text: str) -> ActiveStream:
    """Gives `stream` a snapshot (the partial reply it would store) holding `text`."""
    stream.chars = len(text)
    stream.snapshot = lambda: NewResponse(
        conversation_id=stream.conversation_id,
        message=text,
        sender="model",
        parent_response_id=None,
        partial=True,
    )
    return stream


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "grove.sqlite3") as opened:
        yield opened


async def test_a_tick_saves_its_slice_and_the_slices_are_every_stream_once(
    store: SqliteStore,
) -> None:
    streams = StreamRegistry(store, checkpoint_interval_seconds=60.0)  # no tick in the test
    cid = (await store.create_conversation(ALICE)).conversation_id
    running = [with_text(ActiveStream(ALICE, f"r{i}", cid), f"text {i}") for i in range(20)]
    for stream in running:
        streams.add(stream)
    assert [s.slot for s in running] == [i % MAX_SLICES for i in range(20)], "round robin"

    saved: list[str] = []
    for slot in range(MAX_SLICES):
        before = {s.checkpoint_id for s in running if s.checkpoint_saved}
        count = await streams.checkpoint_now(slot)
        now = {s.checkpoint_id for s in running if s.checkpoint_saved}
        assert count == len(now - before) == len([s for s in running if s.slot == slot])
        assert now - before == {s.checkpoint_id for s in running if s.slot == slot}
        saved += sorted(now - before)
    assert sorted(saved) == sorted(s.checkpoint_id for s in running), "each stream once"
    stored = await store._read("SELECT checkpoint_id FROM checkpoints")
    assert {row[0] for row in stored} == set(saved)
    # Nothing changed since: no slice, nor all at once, saves anything again.
    assert await streams.checkpoint_now() == 0
    for stream in running:
        await streams.remove(stream)
    await streams.stop_all(grace_seconds=1.0)


async def test_the_checkpointer_goes_round_the_slices_and_ends_when_idle(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0.1 s: two slices, a tick every 50 ms.
    streams = StreamRegistry(store, checkpoint_interval_seconds=0.1)
    cid = (await store.create_conversation(ALICE)).conversation_id
    running = [with_text(ActiveStream(ALICE, f"r{i}", cid), f"text {i}") for i in range(6)]
    slot_of = {s.checkpoint_id: i % 2 for i, s in enumerate(running)}
    batches: list[set[str]] = []
    all_saved = asyncio.Event()
    original = store.save_checkpoints

    async def recording(checkpoints: Sequence[Checkpoint], owner: str = "") -> None:
        await original(checkpoints, owner)
        if checkpoints:
            batches.append({c.checkpoint_id for c in checkpoints})
        if set().union(*batches) == set(slot_of):
            all_saved.set()

    monkeypatch.setattr(store, "save_checkpoints", recording)
    for stream in running:
        streams.add(stream)
    await asyncio.wait_for(all_saved.wait(), timeout=10)

    assert len(batches) == 2, "the first round: one batch a slice"
    for batch in batches:
        assert len({slot_of[c] for c in batch}) == 1, "a batch holds one slice"
        assert len(batch) == 3
    assert {slot_of[next(iter(b))] for b in batches} == {0, 1}

    task = streams._checkpointer
    assert task is not None and not task.done()
    for stream in running:
        await streams.remove(stream)
    await asyncio.wait_for(task, timeout=10)  # ends at its next tick: no stream runs
    assert task.done() and not task.cancelled()
    # A new stream starts it again.
    streams.add(with_text(ActiveStream(ALICE, "later", cid), "more"))
    assert streams._checkpointer is not task and not streams._checkpointer.done()
    await streams.stop_all(grace_seconds=1.0)
