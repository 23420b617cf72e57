"""What both stores' imports share: the two public calls over each store's `_write_import`.

`import_conversation` and `import_forest` differ between the SQLite and PostgreSQL stores
only in how the rows are written (multi-row INSERTs on SQLite's thread, COPY on
PostgreSQL); the records of what was written (`written_records`) and the conversation's
read-back are the same, so they live here once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from grove_explorer.server.store.import_rows import stored_original, stored_sources
from grove_explorer.server.store.records import (
    ConversationRecord,
    ImportItem,
    ImportStream,
    ResponseRecord,
)
from grove_explorer.server.store.rows import imported_record, parse_time


@dataclass(slots=True)
class Written:
    """What an import wrote, for the records of `import_forest`."""

    conversation_id: str
    rows: list[list[Any]]
    links: list[tuple[str | None, str | None]]  # stored parent, given start (text)
    first_time: datetime  # the first row's; each next row's one microsecond later
    seqs: list[int]
    items: list[ImportItem]  # as given, in order
    ids: dict[str, str]  # local id → stored id


def written_records(written: Written) -> list[ResponseRecord]:
    """The records of what an import wrote, in creation order (both stores' import_forest).

    Built from the written rows (ids, parents, times, seq), so a caller that answers with
    the new conversation does not read it all back.
    """
    items = written.items
    first = written.first_time
    times = [
        first + timedelta(microseconds=i) if item.create_time is None else item.create_time
        for i, item in enumerate(items)
    ]
    responses = [
        imported_record(
            item.response,
            conversation_id=written.conversation_id,
            parent_response_id=parent,
            response_id=row[1],
            seq=seq,
            create_time=created,
            start_time=created if start is None else parse_time(start),
            shared=item.shared,
        )
        for item, row, (parent, start), created, seq in zip(
            items, written.rows, written.links, times, written.seqs, strict=True
        )
    ]
    for index, item in enumerate(items):
        if item.response.merged_from:  # rare: mapped as the row was
            responses[index] = replace(
                responses[index], merged_from=tuple(stored_sources(item, written.ids))
            )
        if item.response.replay_of:  # rare: mapped as the row was
            responses[index] = replace(
                responses[index], replay_of=stored_original(item, written.ids)
            )
    if any(start is not None for _, start in written.links):  # else creation order already
        responses.sort(key=lambda r: (r.start_time, r.seq))
    return responses


class _ImportingStore(Protocol):
    """What `ImportCalls` needs of the store it is part of."""

    async def _write_import(
        self,
        user_id: str,
        title: str,
        starred: bool,
        items: Sequence[ImportItem] | ImportStream,
        *,
        want_seqs: bool,
        create_time: datetime | None,
    ) -> Written: ...

    async def get_conversation(
        self, user_id: str, conversation_id: str
    ) -> ConversationRecord | None: ...


class ImportCalls:
    """The import calls of the `Store` protocol, for a store that writes with `_write_import`.

    A base of each store's `ImportQueries`, which writes the rows its own way.
    """

    def _store(self) -> _ImportingStore:
        return cast("_ImportingStore", self)

    async def import_conversation(
        self,
        user_id: str,
        title: str,
        starred: bool,
        items: Sequence[ImportItem] | ImportStream,
        *,
        create_time: datetime | None = None,
    ) -> ConversationRecord:
        """Creates a conversation holding `items` (parents first) in one transaction.

        Times as `Store.import_conversation` says: given ones kept, the clock's otherwise.
        Raises UnknownParentError when an item names a parent not imported before it,
        ValueError for a seed outside [0, 2**64); nothing is stored then, nor when an
        `ImportStream`'s batches raise (their error goes on).
        """
        written = await self._store()._write_import(
            user_id, title, starred, items, want_seqs=False, create_time=create_time
        )
        return await self._imported_conversation(user_id, written.conversation_id)

    async def import_forest(
        self,
        user_id: str,
        title: str,
        starred: bool,
        items: Sequence[ImportItem] | ImportStream,
        *,
        create_time: datetime | None = None,
    ) -> tuple[ConversationRecord, list[ResponseRecord]]:
        """`import_conversation`, also returning the stored responses in creation order.

        The records are built from what was written (ids, parents, times, the rows' seq),
        so a caller that answers with the new conversation does not read it all back.
        """
        written = await self._store()._write_import(
            user_id, title, starred, items, want_seqs=True, create_time=create_time
        )
        record = await self._imported_conversation(user_id, written.conversation_id)
        return record, written_records(written)

    async def _imported_conversation(
        self, user_id: str, conversation_id: str
    ) -> ConversationRecord:
        """The conversation an import just committed (it exists: nothing deletes it yet)."""
        record = await self._store().get_conversation(user_id, conversation_id)
        assert record is not None, "an imported conversation is read right after its commit"
        return record
