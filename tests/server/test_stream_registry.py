"""The registry of running streams finds a named stream by (user, request_id) in one step.

What must hold: a running stream is found by its user and request_id only; a stream that
ended is found no more (its request_id may be used again); two users' equal request_ids
never meet; unnamed streams are never found.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from grove_explorer.server.servicer.stream_registry import ActiveStream, StreamRegistry
from grove_explorer.server.store.sqlite import SqliteStore


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[StreamRegistry]:
    async with SqliteStore(tmp_path / "grove.sqlite3") as store:
        streams = StreamRegistry(store, checkpoint_interval_seconds=60.0)
        yield streams
        await streams.stop_all(grace_seconds=1.0)


async def test_named_streams_are_found_by_user_and_request_id(registry: StreamRegistry) -> None:
    alice = ActiveStream("alice", "req-1", "conversation-a")
    bob = ActiveStream("bob", "req-1", "conversation-b")
    unnamed = ActiveStream("alice", "", "conversation-a")
    for stream in (alice, bob, unnamed):
        registry.add(stream)

    assert registry.running("alice", "req-1") is alice
    assert registry.running("bob", "req-1") is bob
    assert registry.running("carol", "req-1") is None
    assert registry.running("alice", "") is None
    assert len(registry) == 3

    await registry.remove(alice)
    assert registry.running("alice", "req-1") is None
    assert registry.running("bob", "req-1") is bob

    again = ActiveStream("alice", "req-1", "conversation-a")
    registry.add(again)
    assert registry.running("alice", "req-1") is again
    for stream in (bob, unnamed, again):
        await registry.remove(stream)
    assert len(registry) == 0


async def test_a_duplicate_that_ends_first_leaves_the_other_findable(
    registry: StreamRegistry,
) -> None:
    # Two starts with one request_id can both pass the duplicate check before either is
    # registered; whichever ends first must not hide the one still running.
    first = ActiveStream("alice", "req-1", "conversation-a")
    second = ActiveStream("alice", "req-1", "conversation-a")
    registry.add(first)
    registry.add(second)
    await registry.remove(first)
    assert registry.running("alice", "req-1") is second
    registry.add(first)
    await registry.remove(second)
    assert registry.running("alice", "req-1") is first
    await registry.remove(first)
    assert registry.running("alice", "req-1") is None
