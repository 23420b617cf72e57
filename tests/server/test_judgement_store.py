"""The judgements table (migration 12) through the `Store` protocol of SqliteStore.

A batch is one transaction (an unknown response stores none of it); judgements are the
conversation's user's (another user neither adds nor reads any); deleting a conversation
deletes them; imports keep them; a conversation's judgements are one indexed read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from grove_explorer.server.store import (
    ImportItem,
    NewJudgement,
    NewResponse,
    SamplingRecord,
    SqliteStore,
    UnknownConversationError,
    UnknownParentError,
)
from tests.server.test_store import ALICE, BOB, human, raw


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "grove.sqlite3")
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def reply(conversation_id: str, parent: str, message: str = "an answer") -> NewResponse:
    return NewResponse(
        conversation_id=conversation_id, message=message, sender="model", parent_response_id=parent
    )


def judged(response_id: str, score: float, **kw: object) -> NewJudgement:
    values: dict[str, object] = {
        "response_id": response_id,
        "score": score,
        "rationale": f"scored {score}",
        "judge_model": "judge",
        "rubric_name": "default",
        "rubric": "be good",
        "sampling": SamplingRecord(temperature=0.0, top_p=1.0, max_tokens=64, seed=2**63 + 5),
        "mode": "each",
    }
    values.update(kw)
    return NewJudgement(**values)  # type: ignore[arg-type]


async def two_replies(store: SqliteStore, user: str = ALICE) -> tuple[str, list[str]]:
    conversation = await store.create_conversation(user)
    cid = conversation.conversation_id
    root = await store.add_response(user, human(cid, None))
    replies = [await store.add_response(user, reply(cid, root.response_id)) for _ in range(2)]
    return cid, [r.response_id for r in replies]


async def test_a_batch_is_stored_together_and_read_back_by_response(store: SqliteStore) -> None:
    cid, (a, b) = await two_replies(store)
    stored = await store.add_judgements(ALICE, cid, [judged(a, 7.5), judged(b, 3.0)])
    assert [r.response_id for r in stored] == [a, b]
    assert stored[0].batch_id == stored[1].batch_id and stored[0].create_time.tzinfo is UTC
    later = await store.add_judgements(ALICE, cid, [judged(a, 9.0, mode="table", heuristic=True)])

    found = await store.judgements(ALICE, cid)
    assert [j.judgement.score for j in found[a]] == [7.5, 9.0]  # oldest first
    assert [j.judgement.score for j in found[b]] == [3.0]
    assert found[a][0] == stored[0] and found[a][1] == later[0]
    assert found[a][1].judgement.heuristic and found[a][1].judgement.mode == "table"
    assert found[a][0].judgement.sampling == SamplingRecord(0.0, 1.0, 64, 2**63 + 5)


async def test_an_unknown_response_stores_nothing_of_the_batch(
    store: SqliteStore, tmp_path: Path
) -> None:
    cid, (a, _) = await two_replies(store)
    _other, (foreign, _) = await two_replies(store)
    with pytest.raises(UnknownParentError):
        await store.add_judgements(ALICE, cid, [judged(a, 5.0), judged(foreign, 5.0)])
    with raw(tmp_path / "grove.sqlite3") as conn:
        assert conn.execute("SELECT COUNT(*) FROM judgements").fetchone() == (0,)
    assert await store.judgements(ALICE, cid) == {}


async def test_another_user_neither_adds_nor_sees_judgements(store: SqliteStore) -> None:
    cid, (a, b) = await two_replies(store)
    await store.add_judgements(ALICE, cid, [judged(a, 4.0)])
    with pytest.raises(UnknownConversationError):
        await store.add_judgements(BOB, cid, [judged(b, 1.0)])
    assert await store.judgements(BOB, cid) == {}
    assert list(await store.judgements(ALICE, cid)) == [a]


async def test_deleting_the_conversation_deletes_its_judgements(
    store: SqliteStore, tmp_path: Path
) -> None:
    cid, (a, b) = await two_replies(store)
    kept, (c, _) = await two_replies(store)
    await store.add_judgements(ALICE, cid, [judged(a, 4.0), judged(b, 6.0)])
    await store.add_judgements(ALICE, kept, [judged(c, 2.0)])
    assert await store.delete_conversation(ALICE, cid)
    with raw(tmp_path / "grove.sqlite3") as conn:
        assert conn.execute("SELECT response_id FROM judgements").fetchall() == [(c,)]


async def test_scores_outside_0_10_are_refused_by_the_table(store: SqliteStore) -> None:
    cid, (a, _) = await two_replies(store)
    with pytest.raises(Exception, match="CHECK constraint"):
        await store.add_judgements(ALICE, cid, [judged(a, 10.5)])


async def test_an_import_keeps_judgements_with_their_time_and_batch(store: SqliteStore) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    items = [
        ImportItem(
            "h",
            None,
            NewResponse(conversation_id="", message="q", sender="human", parent_response_id=None),
        ),
        ImportItem(
            "m",
            "h",
            reply("", ""),
            judgements=(judged("", 8.0, create_time=when, batch_id="b" * 32),),
        ),
    ]
    record, responses = await store.import_forest(ALICE, "t", False, items)
    found = await store.judgements(ALICE, record.conversation_id)
    model_id = responses[1].response_id
    assert list(found) == [model_id]
    (judgement,) = found[model_id]
    assert judgement.create_time == when and judgement.batch_id == "b" * 32
    assert judgement.judgement.score == 8.0 and judgement.judgement.rationale == "scored 8.0"


async def test_a_conversations_judgements_are_read_through_an_index(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "grove.sqlite3"):
        pass
    with raw(tmp_path / "grove.sqlite3") as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM judgements WHERE conversation_id = ? AND user_id = ?"
            " ORDER BY create_time",
            ("c", "u"),
        ).fetchall()
    assert any("judgements_conversation" in str(row) for row in plan), plan
