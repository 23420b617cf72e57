"""Migration 13: a fused reply's sources, mode and instruction in the store.

An upgrade from version 11 reads old replies as not fused; a fused reply round-trips
through inserts, reads, checkpoints and imports (sources mapped to the new ids).
"""

from __future__ import annotations

from pathlib import Path

from grove_explorer.server.store import ImportItem, NewResponse, SqliteStore
from grove_explorer.server.store.migrations import LATEST_VERSION
from grove_explorer.server.store.sqlite.checkpoints import (
    _decode_new_response,
    _encode_new_response,
)
from tests.server.old_databases import OLD_CONVERSATION, database_at_version
from tests.server.test_store import (  # the fixtures too
    ALICE,
    db_path,  # noqa: F401
    human,
    raw,
    store,  # noqa: F401
)


def _reply(cid: str, parent: str, message: str, **merge: object) -> NewResponse:
    return NewResponse(
        conversation_id=cid,
        message=message,
        sender="model",
        parent_response_id=parent,
        **merge,  # type: ignore[arg-type]
    )


async def test_upgrade_from_version_11_reads_old_replies_as_not_fused(
    db_path: Path,  # noqa: F811
) -> None:
    await database_at_version(db_path, 11)
    async with SqliteStore(db_path) as opened:
        assert LATEST_VERSION >= 13
        (old,) = await opened.list_responses(ALICE, OLD_CONVERSATION)
        assert (old.merged_from, old.merge_mode, old.merge_instruction) == ((), "", "")
        fused = await opened.add_response(
            ALICE,
            _reply(
                "c" * 32,
                "1" * 32,
                "both",
                merged_from=("a" * 32, "b" * 32),
                merge_mode="checklist",
                merge_instruction="one\ntwo",
            ),
        )
        assert fused.merged_from == ("a" * 32, "b" * 32)
        again = await opened.list_responses(ALICE, OLD_CONVERSATION)
        assert again[-1].merged_from == ("a" * 32, "b" * 32)
        assert (again[-1].merge_mode, again[-1].merge_instruction) == ("checklist", "one\ntwo")
        assert await opened.check_integrity() == []
    with raw(db_path) as conn:
        stored = conn.execute("SELECT merged_from FROM responses ORDER BY seq").fetchall()
    assert stored == [("",), ('["' + "a" * 32 + '", "' + "b" * 32 + '"]',)], "JSON text"


async def test_a_checkpoint_keeps_the_sources(store: SqliteStore) -> None:  # noqa: F811
    conversation = await store.create_conversation(ALICE)
    question = await store.add_response(ALICE, human(conversation.conversation_id, None))
    reply = _reply(
        conversation.conversation_id,
        question.response_id,
        "so far",
        merged_from=("a" * 32, "b" * 32),
        merge_mode="fuse",
    )
    back = _decode_new_response(_encode_new_response(reply))
    assert back.merged_from == ("a" * 32, "b" * 32) and back.merge_mode == "fuse"
    assert back.partial and back.finish_reason == "interrupted"


async def test_an_import_maps_sources_to_the_new_ids(store: SqliteStore) -> None:  # noqa: F811
    items = [
        ImportItem("q", None, human("", None, "Why?")),
        ImportItem("a", "q", _reply("", "", "A.")),
        ImportItem("b", "q", _reply("", "", "B.")),
        ImportItem("f", "q", _reply("", "", "AB.", merged_from=("b", "a"), merge_mode="fuse")),
    ]
    record, responses = await store.import_forest(ALICE, "imported", False, items)
    by_message = {r.message: r for r in responses}
    fused = by_message["AB."]
    assert fused.merged_from == (by_message["B."].response_id, by_message["A."].response_id)
    listed = await store.list_responses(ALICE, record.conversation_id)
    assert [r.merged_from for r in listed if r.merged_from] == [fused.merged_from]
