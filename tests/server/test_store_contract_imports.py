"""The Store contract for imports, on both stores: one transaction, nothing on a problem.

`import_forest`'s records are what the store then reads back (here through the
filter-only search, which returns whole response records on both stores), every column
kept; a streamed import (`ImportStream`) stores what a whole one stores; a problem in a
late batch, a broken count, or a batch source that fails stores nothing at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest

from grove_explorer.server.store import (
    AnnotationRecord,
    ImportItem,
    ImportStream,
    NewResponse,
    ResponseRecord,
    SamplingRecord,
    SearchFilters,
    Store,
    UnknownParentError,
)
from tests.server.store_forests import ALICE, BOB, item


async def stored_responses(store: Store, user: str = ALICE) -> list[ResponseRecord]:
    """Every response of the user as the store reads it, in insertion (seq) order."""
    found: list[ResponseRecord] = []
    for sender in ("human", "model"):
        hits = await store.search(user, None, SearchFilters(sender=sender), 10_000)
        found += [hit.response for hit in hits if hit.response is not None]
    return sorted(found, key=lambda r: r.seq)


def full_item(local: str, parent: str | None, **kw: object) -> ImportItem:
    """A model reply with every column set (as an export of a sampled reply has them)."""
    response = NewResponse(
        conversation_id="",
        message=f"reply {local}",
        sender="model",
        parent_response_id=None,
        manual=False,
        partial=True,
        query="what next",
        query_type="continue",
        model_name="grove-offline-ngram",
        sampling=SamplingRecord(0.25, 0.5, 99, 2**64 - 3),
        token_count=12,
        time_to_first_token_seconds=0.125,
        total_time_seconds=1.5,
        prefix_length=4,
        finish_reason="length",
        reported_prompt_tokens=31,
        reported_completion_tokens=12,
        system_prompt_name="terse",
        tokens=(("re", -0.5, (("ra", -1.25),)), ("ply", None, ())),
        **kw,  # type: ignore[arg-type]
    )
    return ImportItem(local, parent, response, shared=True)


async def test_the_records_returned_are_what_the_store_holds(any_store: Store) -> None:
    given = datetime(2025, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    items = [
        item("q", None, "question"),
        full_item("a", "q"),
        full_item("b", "q", start_time=given),
        full_item("fused", "q", merged_from=("a", "b"), merge_mode="synthesize"),
        full_item("again", "q", replay_of="a"),
    ]
    record, responses = await any_store.import_forest(ALICE, "Everything", True, items)
    assert (record.title, record.starred, record.response_count) == ("Everything", True, 5)
    assert record.user_id == ALICE
    ids = {r.message: r.response_id for r in responses}
    assert len(set(ids.values())) == 5
    assert await stored_responses(any_store) == sorted(responses, key=lambda r: r.seq)
    # Creation order: the given start (long ago) first, then the rest as imported.
    assert [r.message for r in responses] == [
        "reply b",
        "question",
        "reply a",
        "reply fused",
        "reply again",
    ]
    stored_b = next(r for r in responses if r.message == "reply b")
    assert stored_b.start_time == given and stored_b.create_time > given
    question = next(r for r in responses if r.message == "question")
    assert question.parent_response_id is None and not question.shared
    fused = next(r for r in responses if r.message == "reply fused")
    assert fused.merged_from == (ids["reply a"], ids["reply b"]), "local ids mapped"
    again = next(r for r in responses if r.message == "reply again")
    assert again.replay_of == ids["reply a"]
    assert fused.sampling == SamplingRecord(0.25, 0.5, 99, 2**64 - 3)
    assert (fused.partial, fused.shared, fused.finish_reason) == (True, True, "length")
    assert fused.system_prompt_name == "terse" and fused.parent_response_id == question.response_id
    conversation = await any_store.get_conversation(ALICE, record.conversation_id)
    assert conversation == record
    assert record.update_time == max(r.create_time for r in responses)


async def batches(
    items: Sequence[ImportItem], sizes: Sequence[int], fail_at: int | None = None
) -> AsyncIterator[Sequence[ImportItem]]:
    """`items` in batches of the given sizes (repeating the last); raises at batch `fail_at`."""
    start = 0
    for number in range(len(items)):
        if start >= len(items):
            return
        if number == fail_at:
            raise RuntimeError("the client went away")
        size = sizes[min(number, len(sizes) - 1)]
        yield items[start : start + size]
        start += size


def chain(count: int, word: str = "lantern") -> list[ImportItem]:
    """`count` messages, each a reply to the previous, tagged every tenth."""
    return [
        item(
            f"r{i}",
            f"r{i - 1}" if i else None,
            f"{word} number {i}",
            annotation=AnnotationRecord(tags=("tenth",)) if i % 10 == 0 else None,
        )
        for i in range(count)
    ]


async def test_a_streamed_import_stores_what_a_whole_one_stores(any_store: Store) -> None:
    items = chain(2_500)
    stream = ImportStream(len(items), batches(items, [1, 999, 1_000, 7]))
    record, responses = await any_store.import_forest(ALICE, "Streamed", False, stream)
    assert record.response_count == 2_500 == len(responses)
    assert [r.message for r in responses] == [i.response.message for i in items]
    parents = [r.parent_response_id for r in responses]
    assert parents == [None] + [r.response_id for r in responses[:-1]]
    whole = await any_store.import_conversation(BOB, "Whole", False, items)
    assert whole.response_count == 2_500
    for user in (ALICE, BOB):
        assert await any_store.count_search(user, '"lantern"', SearchFilters()) == 2_500
        assert await any_store.count_search(user, '"tenth"', SearchFilters()) == 250
        assert await any_store.count_search(user, None, SearchFilters(tags=("tenth",))) == 250
    assert record.update_time == responses[-1].create_time


@pytest.mark.parametrize(
    ("problem", "error"),
    [
        ("late parent", UnknownParentError),
        ("seed", ValueError),
        ("batch fails", RuntimeError),
        ("too many", ValueError),
        ("too few", ValueError),
    ],
)
async def test_a_late_problem_stores_nothing(
    any_store: Store, problem: str, error: type[Exception]
) -> None:
    items = chain(1_500, word="doomed")
    count, fail_at = len(items), None
    if problem == "late parent":
        items.append(item("last", "nobody", "orphan"))
        count += 1
    elif problem == "seed":
        bad = NewResponse(
            conversation_id="",
            message="bad seed",
            sender="model",
            parent_response_id=None,
            sampling=SamplingRecord(0.5, 0.5, 5, 2**64),
        )
        items.append(ImportItem("seed", "r0", bad))
        count += 1
    elif problem == "batch fails":
        fail_at = 2
    elif problem == "too many":
        count -= 1
    else:
        count += 1
    stream = ImportStream(count, batches(items, [500], fail_at))
    with pytest.raises(error):
        await any_store.import_forest(ALICE, "Doomed", False, stream)
    assert await any_store.list_conversations(ALICE) == []
    assert await any_store.count_search(ALICE, '"doomed"', SearchFilters()) == 0
    assert await any_store.count_search(ALICE, '"Doomed"', SearchFilters()) == 0
    # The store is still usable: the next import goes in.
    record = await any_store.import_conversation(ALICE, "Fine", False, chain(3))
    assert record.response_count == 3
