"""The Store contract for judgements and arena votes, on both stores.

A batch of judgements is one transaction (an unknown response stores none of it); both
judgements and votes are the conversation's user's, read back oldest first (a batch in
its order), and go with their conversation. The forests come from imports.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from grove_explorer.server.store import (
    ImportItem,
    NewJudgement,
    SamplingRecord,
    Store,
    UnknownConversationError,
    UnknownParentError,
)
from grove_explorer.server.store.arena_records import ArenaSetupRecord, NewVote
from tests.server.store_forests import ALICE, BOB, item


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


async def replies(store: Store, user: str = ALICE, count: int = 3) -> tuple[str, list[str]]:
    """A conversation of a question and `count` replies to it: its id and the replies' ids."""
    items = [item("q", None, "question")]
    items += [item(f"a{i}", "q", f"answer {i}", sender="model") for i in range(count)]
    record, stored = await store.import_forest(user, "judged", False, items)
    return record.conversation_id, [r.response_id for r in stored[1:]]


async def test_a_batch_is_stored_together_and_read_back_in_order(any_store: Store) -> None:
    cid, (a, b, c) = await replies(any_store)
    scores = [(c, 1.0), (a, 7.5), (b, 3.0), (a, 2.0), (c, 6.0)]
    stored = await any_store.add_judgements(ALICE, cid, [judged(r, s) for r, s in scores])
    assert [r.response_id for r in stored] == [c, a, b, a, c]
    assert len({r.batch_id for r in stored}) == 1 and len({r.create_time for r in stored}) == 1
    assert stored[0].create_time.tzinfo is not None
    later = await any_store.add_judgements(
        ALICE, cid, [judged(a, 9.0, mode="table", heuristic=True, sampling=None)]
    )
    found = await any_store.judgements(ALICE, cid)
    assert [j.judgement.score for j in found[a]] == [7.5, 2.0, 9.0]  # oldest, batch order
    assert [j.judgement.score for j in found[c]] == [1.0, 6.0]
    assert found[a][0] == stored[1] and found[a][2] == later[0]
    assert found[a][2].judgement.heuristic and found[a][2].judgement.mode == "table"
    assert found[a][2].judgement.sampling is None
    assert found[b][0].judgement.sampling == SamplingRecord(0.0, 1.0, 64, 2**63 + 5)
    assert await any_store.add_judgements(ALICE, cid, []) == []


async def test_a_writers_judgements_say_they_asked_for_them(any_store: Store) -> None:
    cid, (a, b, _) = await replies(any_store)
    (hers,) = await any_store.add_judgements(ALICE, cid, [judged(a, 4.0)])
    (his,) = await any_store.add_judgements(ALICE, cid, [judged(b, 6.0)], author=BOB)
    assert (hers.asked_by, his.asked_by) == (ALICE, BOB), "as stored"
    found = await any_store.judgements(ALICE, cid)
    assert [j.asked_by for j in found[a]] == [ALICE] and [j.asked_by for j in found[b]] == [BOB]


async def test_an_unknown_response_or_conversation_stores_nothing(any_store: Store) -> None:
    cid, (a, _, _) = await replies(any_store)
    other, (foreign, _, _) = await replies(any_store)
    with pytest.raises(UnknownParentError):
        await any_store.add_judgements(ALICE, cid, [judged(a, 5.0), judged(foreign, 5.0)])
    with pytest.raises(UnknownConversationError):
        await any_store.add_judgements(BOB, cid, [judged(a, 1.0)])
    with pytest.raises(Exception, match=r"(?i)check"):
        await any_store.add_judgements(ALICE, cid, [judged(a, 4.0), judged(a, 10.5)])
    assert await any_store.judgements(ALICE, cid) == {}
    assert await any_store.judgements(ALICE, other) == {}
    await any_store.add_judgements(ALICE, cid, [judged(a, 4.0)])
    assert await any_store.judgements(BOB, cid) == {}


async def test_judgements_go_with_their_conversation_and_imports_keep_theirs(
    any_store: Store,
) -> None:
    cid, (a, b, _) = await replies(any_store)
    await any_store.add_judgements(ALICE, cid, [judged(a, 4.0), judged(b, 6.0)])
    assert await any_store.delete_conversation(ALICE, cid)
    assert await any_store.judgements(ALICE, cid) == {}
    when = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    items = [
        item("h", None, "q"),
        ImportItem(
            "m",
            "h",
            item("m", "h", "an answer", sender="model").response,
            judgements=(
                judged("", 8.0, create_time=when, batch_id="b" * 32),
                judged("", 2.0),
            ),
        ),
    ]
    record, responses = await any_store.import_forest(ALICE, "t", False, items)
    found = await any_store.judgements(ALICE, record.conversation_id)
    model_id = responses[1].response_id
    kept, fresh = found[model_id]
    assert kept.create_time == when and kept.batch_id == "b" * 32
    assert kept.judgement.score == 8.0 and kept.judgement.rationale == "scored 8.0"
    assert fresh.batch_id == model_id and fresh.create_time >= record.create_time


def setup(label: str, **kw: object) -> ArenaSetupRecord:
    return ArenaSetupRecord(model_name=f"model-{label}", label=label, **kw)  # type: ignore[arg-type]


async def test_votes_are_the_users_own_oldest_first(any_store: Store) -> None:
    cid, (a, b, c) = await replies(any_store)
    other, (d, e, _) = await replies(any_store)
    parent = "parent-id"
    first = NewVote(parent, a, b, setup("x", temperature=0.5, seed=2**64 - 1), setup("y"), "a")
    second = NewVote(parent, b, c, setup("y", system_prompt_name=""), setup("z"), "both_bad")
    third = NewVote(parent, d, e, setup("x"), setup("y", max_tokens=9), "tie")
    stored = [
        await any_store.add_vote(ALICE, cid, first),
        await any_store.add_vote(ALICE, cid, second),
        await any_store.add_vote(ALICE, other, third),
    ]
    assert await any_store.votes(ALICE, cid) == stored[:2]
    assert await any_store.votes(ALICE) == stored
    assert stored[0].vote == first and stored[1].vote.setup_a.system_prompt_name == ""
    assert await any_store.votes(BOB) == []
    with pytest.raises(UnknownConversationError):
        await any_store.add_vote(BOB, cid, first)
    assert await any_store.delete_conversation(ALICE, cid)
    assert await any_store.votes(ALICE) == stored[2:]
