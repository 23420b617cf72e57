"""The Store contract for search over imported text, on both stores.

An import indexes its messages apart from the path a reply takes (SQLite: one INSERT …
SELECT per batch with the per-row triggers skipped; PostgreSQL: each batch's COPY, indexed
by a statement trigger while the next batch is built). Whatever the path, a search must find
imported text exactly as it finds the same text written one response at a time: the same
messages, each as often as it was stored, with every operator, phrase, prefix and filter.
"""

from __future__ import annotations

import pytest

from grove_explorer.server.store import ImportItem, ImportStream, NewResponse, Store
from tests.server.store_forests import ALICE, BOB, OFFLINE, item
from tests.server.test_store_contract_imports import batches
from tests.server.test_store_contract_search import find, random_queries

FULL_WIDTH = "\uff26\uff55\uff4c\uff4c-width \uff21\uff30\uff30\uff2c\uff25"
"""'Full-width APPLE' in full-width letters (written escaped: they look like ASCII)."""
TEXTS = [
    ("human", "The apple trees need pruning before the frost."),
    ("model", "Prune apple trees in late winter; use sharp shears."),
    ("model", "Shears should be cleaned between trees"),
    ("human", "Café owners in Zürich sell naïve cider; foo-bar me@x.org costs 3.14 francs"),
    ("human", "Pear grafting notes: pear, pear and more pear"),
    ("human", "Apple pie recipe with cinnamon and frost-free butter"),
    ("model", "Bake the pie at 180 degrees"),
    ("human", FULL_WIDTH + " and ligatures: ﬁne ﬂour for the orchard's pie"),
    ("model", "Tabs\tand\nnewlines,,, runs!!! of — punctuation… «journal» kitchen"),
    ("human", "Combining accents: cafe\u0301 Zu\u0308rich nai\u0308ve"),
    ("model", "日本語 のりんご and emoji 🍎🍐 between apple and pear"),
    ("human", "x" * 300 + " winter " + "grafting" * 40),
]
COPIES = 60
"""Each text is imported this many times (in batches of several sizes), written live once."""


def imported_items() -> list[ImportItem]:
    """Every text `COPIES` times, as roots (three batches of a stream: 1, 499, the rest)."""
    return [
        item(f"r{i}", None, text, sender=sender, model=OFFLINE if sender == "model" else "")
        for i in range(COPIES)
        for sender, text in TEXTS
    ]


@pytest.mark.parametrize("whole", [False, True], ids=["streamed", "whole"])
async def test_imported_text_is_found_as_text_written_one_response_at_a_time(
    any_store: Store, whole: bool
) -> None:
    items = imported_items()
    given: list[ImportItem] | ImportStream = (
        items if whole else ImportStream(len(items), batches(items, [1, 499, 700]))
    )
    await any_store.import_conversation(ALICE, "Imported", False, given)
    live = await any_store.create_conversation(BOB, "Live")
    for sender, text in TEXTS:
        await any_store.add_response(
            BOB,
            NewResponse(
                conversation_id=live.conversation_id,
                message=text,
                sender=sender,
                parent_response_id=None,
                model_name=OFFLINE if sender == "model" else "",
            ),
        )
    queries = [
        *random_queries(40, seed=29),
        '"3.14"',
        "foo-bar",
        '"x org"',
        "cafe",
        "zurich",
        "naive",
        "ﬁne",
        "fine",
        "apple",
        '"full width"',
        "りんご",
        "grafting*",
        "punctuation",
        '"runs of"',
    ]
    matched = 0
    for query in queries:
        imported = await find(any_store, query, ALICE, limit=COPIES * len(TEXTS))
        written = await find(any_store, query, BOB)
        assert imported.total == COPIES * written.total == COPIES * len(written.hits), query
        messages = {hit.response.message for hit in imported.hits if hit.response}
        assert messages == {hit.response.message for hit in written.hits if hit.response}, query
        matched += bool(written.hits)
    assert matched > len(queries) // 3, "the queries must find things to compare"
