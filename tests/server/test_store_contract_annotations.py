"""The Store contract for annotations (bookmarks, tags, ratings, notes), on both stores."""

from __future__ import annotations

from grove_explorer.server.store import AnnotationRecord, NewResponse, Store
from grove_explorer.server.store.location import DatabaseLocation
from tests.server.store_rows import another_store, count, rows

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


async def test_a_writers_annotation_is_theirs_and_its_index_rows_follow(
    any_store: Store, database: DatabaseLocation
) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    first = await any_store.add_response(ALICE, human(cid, None, "alpha"))
    assert await any_store.annotate(ALICE, cid, first.response_id, AnnotationRecord(note="a"))
    taken = AnnotationRecord(tags=("t",), note="b")
    assert await any_store.annotate(ALICE, cid, first.response_id, taken, author=BOB)
    assert await any_store.annotations(ALICE, cid) == {first.response_id: taken}
    (read,) = (await any_store.annotations(ALICE, cid)).values()
    assert read.set_by == BOB, "a read says who set it"
    whose = "SELECT user_id FROM annotations WHERE response_id = ?"
    assert rows(database, whose, first.response_id) == [(BOB,)], "who set it last"
    indexed = "SELECT kind, user_id FROM search_rows WHERE ref_id = ? AND kind <> 'message'"
    assert sorted(rows(database, indexed, first.response_id)) == [("note", BOB), ("tag", BOB)]
    assert await any_store.annotate(ALICE, cid, first.response_id, AnnotationRecord(rating=1))
    assert rows(database, whose, first.response_id) == [(ALICE,)], "the owner's again"
    (read,) = (await any_store.annotations(ALICE, cid)).values()
    assert read.set_by == ALICE
    assert sorted(rows(database, indexed, first.response_id)) == [
        ("note", ALICE),
        ("tag", ALICE),
    ]
    # Bob's annotation is no way into another conversation of Alice's: the owner is checked.
    other = (await any_store.create_conversation(BOB)).conversation_id
    assert not await any_store.annotate(BOB, other, first.response_id, taken, author=ALICE)
