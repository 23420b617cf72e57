"""The Store contract for annotations (bookmarks, tags, ratings, notes), on both stores."""

from __future__ import annotations

from grove_explorer.server.store import AnnotationRecord, NewResponse, Store
from grove_explorer.server.store.location import DatabaseLocation
from tests.server.store_rows import another_store, count

ALICE = "alice"
BOB = "bob"


def human(conversation_id: str, parent: str | None, message: str = "hi") -> NewResponse:
    return NewResponse(
        conversation_id=conversation_id, message=message, sender="human", parent_response_id=parent
    )


async def test_annotations_are_set_replaced_removed_and_per_user(
    any_store: Store, database: DatabaseLocation
) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    other = (await any_store.create_conversation(BOB)).conversation_id
    first = await any_store.add_response(ALICE, human(cid, None, "alpha"))
    second = await any_store.add_response(ALICE, human(cid, first.response_id, "beta"))
    bobs = await any_store.add_response(BOB, human(other, None))

    note = AnnotationRecord(bookmarked=True, tags=("x", "y"), rating=1, note="a note")
    assert await any_store.annotate(ALICE, cid, first.response_id, note)
    assert await any_store.annotate(ALICE, cid, second.response_id, AnnotationRecord(rating=-1))
    assert await any_store.annotations(ALICE, cid) == {
        first.response_id: note,
        second.response_id: AnnotationRecord(rating=-1),
    }
    replaced = AnnotationRecord(tags=("z",))
    assert await any_store.annotate(ALICE, cid, first.response_id, replaced)
    assert (await any_store.annotations(ALICE, cid))[first.response_id] == replaced

    # Bob cannot annotate Alice's response, nor Alice one of another conversation.
    assert not await any_store.annotate(BOB, cid, first.response_id, note)
    assert not await any_store.annotate(ALICE, other, first.response_id, note)
    assert not await any_store.annotate(ALICE, cid, bobs.response_id, note)
    assert not await any_store.annotate(ALICE, cid, "missing", note)
    assert await any_store.annotations(BOB, cid) == {}
    assert await any_store.annotations(BOB, other) == {}

    # An empty annotation removes the row.
    assert await any_store.annotate(ALICE, cid, second.response_id, AnnotationRecord())
    assert set(await any_store.annotations(ALICE, cid)) == {first.response_id}
    assert count(database, "annotations") == 1
    async with another_store(database) as replica:
        assert await replica.annotations(ALICE, cid) == {first.response_id: replaced}
    assert await any_store.delete_conversation(ALICE, cid)
    assert count(database, "annotations") == 0
