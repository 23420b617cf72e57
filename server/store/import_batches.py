"""An import's batches, each written while the next is received, checked and built.

Both stores write an import a batch at a time (a thousand responses, or a streamed
import's chunks as the client sends them): SQLite inserts a batch on its connection's
thread, PostgreSQL COPYs it over its connection, and in both the database's work on one
batch overlaps this process's work on the next, on two cores instead of taking turns. How
batches are counted, built and handed over, and what happens to a write under way when
something fails, is the same for both and lives here; each store gives only how a batch of
rows is written (`BatchWrite`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from grove_explorer.server.store.import_rows import ImportRows
from grove_explorer.server.store.records import ImportItem, ImportStream

BATCH_ROWS = 1_000
"""Items per batch of an import given whole (`as_stream`), as a stream's chunks come."""

BatchWrite = Callable[[list[list[Any]], asyncio.Event], Awaitable[None]]
"""Writes a batch's response rows, setting the event once this process's part is done (the
rows handed to the database): the rest is the database's, and overlaps the next batch."""


async def item_batches(items: Sequence[ImportItem]) -> AsyncIterator[Sequence[ImportItem]]:
    """`items` a thousand at a time, as an `ImportStream` hands them."""
    for start in range(0, len(items), BATCH_ROWS):
        yield items[start : start + BATCH_ROWS]


def as_stream(items: Sequence[ImportItem] | ImportStream) -> ImportStream:
    """An import given whole as the stream of batches both stores' imports read."""
    if isinstance(items, ImportStream):
        return items
    return ImportStream(len(items), item_batches(items))


async def write_batches(
    stream: ImportStream, rows: ImportRows, times: Sequence[str], write: BatchWrite
) -> list[ImportItem]:
    """Builds each batch's rows and writes them, as a task, while the next is built.

    One write at a time: a batch's write starts once the one before has ended, so a
    database connection never holds two. This process waits for a write until its rows
    are handed over (or it ended early), then goes on to the next batch. `times`: the
    store's clock for each item, in order (an item's given time wins). On any error the
    write under way is waited for before the error goes on (its own error, if any, is
    not this one's), so the transaction's ROLLBACK never meets a write in the middle.

    Returns the items given, in order. Raises ValueError when the stream gives more or
    fewer items than it announced, and what building a batch raises (UnknownParentError,
    ValueError for a seed out of range) or the stream's batches raise.
    """
    count = stream.count
    given: list[ImportItem] = []
    writing: asyncio.Future[None] | None = None
    try:
        async for batch in stream.batches:
            start = len(given)
            if start + len(batch) > count:
                raise ValueError(f"an import of {count} items was given more")
            given.extend(batch)
            built = rows.build(batch, times[start : len(given)])
            if writing is not None:
                await writing
            handed = asyncio.Event()
            writing = asyncio.ensure_future(write(built, handed))
            await _first(handed, writing)
        if writing is not None:
            await writing
    except BaseException:
        if writing is not None and not writing.done():
            await asyncio.wait([writing])
        if writing is not None and not writing.cancelled():
            writing.exception()  # taken, so an error nobody awaited is not reported
        raise
    if len(given) != count:
        raise ValueError(f"an import of {count} items was given {len(given)}")
    return given


async def _first(handed: asyncio.Event, writing: asyncio.Future[None]) -> None:
    """Waits until a write's rows are handed over or the write ended (early, by an error)."""
    waiting: asyncio.Future[Any] = asyncio.ensure_future(handed.wait())
    try:
        await asyncio.wait([waiting, writing], return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
