"""The Store contract for search, on both stores (SQLite's FTS5, PostgreSQL's tsvector).

The queries go through the servicer's parser (server/search.py), as a Search call sends
them; every expectation holds on both stores. The last tests put the same forest in both
stores and check that many queries, generated over the orchard's words with every
operator, find the same hits and counts in each.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from grove_explorer.server.search import QueryError, parse_query
from grove_explorer.server.store import SearchHitRecord, SqliteStore, Store
from grove_explorer.server.store.location import PostgresUrl
from grove_explorer.server.store.postgres import PostgresStore
from tests.server.store_forests import ALICE, BOB, OFFLINE, Orchard, item, plant_orchard

Search = Callable[[str], "Hits"]


class Hits:
    """What a query found: the hits (all of them) and the count the store reports."""

    def __init__(self, hits: list[SearchHitRecord], total: int) -> None:
        self.hits = hits
        self.total = total

    def responses(self) -> set[str]:
        return {hit.response.response_id for hit in self.hits if hit.response is not None}

    def fields(self) -> set[str]:
        return {hit.field for hit in self.hits}


async def find(store: Store, query: str, user: str = ALICE, limit: int = 1000) -> Hits:
    parsed = parse_query(query)
    hits = await store.search(user, parsed.match, parsed.filters, limit)
    total = await store.count_search(user, parsed.match, parsed.filters)
    return Hits(hits, total)


def folded(text: str) -> str:
    """Lower case without diacritics (both stores fold words so)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@pytest.fixture
async def orchard(any_store: Store) -> Orchard:
    return await plant_orchard(any_store)


async def test_words_phrases_prefixes_and_operators(any_store: Store, orchard: Orchard) -> None:
    o = orchard

    async def ids(query: str) -> set[str]:
        found = await find(any_store, query)
        assert found.total == len(found.hits), query
        return found.responses()

    assert await ids("frost") == o.ids("plan", "pie"), "frost-free is frost and free"
    assert await ids("FROST") == o.ids("plan", "pie"), "case does not matter"
    assert await ids('"apple trees"') == o.ids("plan", "advice")
    assert await ids('"trees apple"') == set()
    assert await ids("shear*") == o.ids("advice", "cut")
    assert await ids("pear OR cinnamon") == o.ids("pears", "pie")
    assert await ids("apple AND winter") == o.ids("advice")
    assert await ids("apple NOT shears") == o.ids("plan", "pie")
    assert await ids("apple trees NOT winter") == o.ids("plan")
    assert await ids("apple NOT pruning trees") == o.ids("advice", "pie"), "NOT (pruning trees)"
    assert await ids("pie OR apple trees") == o.ids("plan", "advice", "pie", "bake")
    assert await ids("frost;") == o.ids("plan", "pie"), "punctuation is not syntax"
    assert await ids("(apple") >= o.ids("plan")
    assert await ids("xylophone") == set(), "Bob's words are not Alice's"
    found = await find(any_store, "xylophone", BOB)
    assert found.responses() == o.ids("bob") and found.total == 1


async def test_diacritics_and_punctuation_fold_as_fts5_does(
    any_store: Store, orchard: Orchard
) -> None:
    cafe = orchard.ids("cafe")
    for query in ("cafe", "CAFÉ", "zurich", "Zürich", "naive", "naïve", "foo", "bar"):
        assert (await find(any_store, query)).responses() == cafe, query
    for query in ('"foo bar"', "foo-bar", '"3.14"', "14", "org", '"x org"'):
        assert (await find(any_store, query)).responses() == cafe, query
    assert (await find(any_store, '"bar foo"')).responses() == set()


async def test_titles_tags_and_notes_are_found_with_their_field(
    any_store: Store, orchard: Orchard
) -> None:
    journal = await find(any_store, "journal")
    assert [(h.field, h.conversation_title, h.response) for h in journal.hits] == [
        ("title", "Orchard journal", None)
    ]
    assert journal.hits[0].branch == (0, 0)
    winter = await find(any_store, "winter")
    assert {(h.field, h.response.response_id if h.response else "") for h in winter.hits} == {
        ("message", orchard.responses["advice"].response_id),
        ("tag", orchard.responses["cafe"].response_id),
    }
    (note,) = (await find(any_store, "dates")).hits
    assert note.field == "note" and note.snippet == "dates for grafting"
    assert note.highlights == ((0, 5),)
    grafting = await find(any_store, "grafting")
    assert grafting.fields() == {"message", "note"} and grafting.total == 2
    renamed = await any_store.update_conversation(
        ALICE, orchard.journal.conversation_id, "Almanac", False
    )
    assert renamed is not None
    assert (await find(any_store, "journal")).hits == []
    (title,) = (await find(any_store, "almanac")).hits
    assert title.conversation_title == "Almanac"


async def test_filters_narrow_to_responses(any_store: Store, orchard: Orchard) -> None:
    o = orchard

    async def ids(query: str) -> set[str]:
        found = await find(any_store, query)
        assert found.total == len(found.hits), query
        return found.responses()

    assert await ids("sender:model") == o.ids("advice", "cut", "bake")
    assert await ids("sender:human prune") == set(), "prune is not pruning (no stemming)"
    assert await ids("sender:human pruning") == o.ids("plan")
    assert await ids(f"model:{OFFLINE}") == o.ids("advice", "bake")
    assert await ids(f"apple model:{OFFLINE}") == o.ids("advice")
    assert await ids("model:gpt-9") == set()
    assert await ids("tag:orchard") == o.ids("plan", "cafe")
    assert await ids("tag:orchard tag:winter") == o.ids("cafe")
    assert await ids("tag:orch") == set(), "a tag is exact"
    assert await ids("rated:+") == o.ids("cafe")
    assert await ids("rated:-") == o.ids("advice")
    assert await ids("bookmarked") == o.ids("plan")
    assert await ids("bookmarked apple") == o.ids("plan")
    assert await ids("partial") == o.ids("cut")
    assert await ids("partial shears") == o.ids("cut")
    # A filter keeps the tag and note rows of matching responses, never titles.
    orchard_hits = await find(any_store, "orchard tag:winter")
    assert {(h.field, h.response.response_id) for h in orchard_hits.hits if h.response} == {
        ("tag", o.responses["cafe"].response_id)
    }


async def test_snippets_mark_the_matched_words(any_store: Store, orchard: Orchard) -> None:
    for query, words in (
        ("apple", {"apple"}),
        ("shear*", {"shears"}),
        ('"apple trees"', {"apple", "trees"}),
        ("cafe OR naive", {"cafe", "naive"}),
        ("cinnamon", {"cinnamon"}),
    ):
        found = await find(any_store, query)
        assert found.hits, query
        for hit in found.hits:
            assert hit.highlights, (query, hit.snippet)
            # FTS5 marks a phrase as one range, PostgreSQL word by word.
            marked = {word for a, b in hit.highlights for word in folded(hit.snippet[a:b]).split()}
            assert marked <= words, (query, hit.snippet, marked)
    long = "word " * 40 + "needle " + "word " * 40
    await any_store.import_forest(ALICE, "long", False, [item("l", None, long)])
    (hit,) = (await find(any_store, "needle")).hits
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert len(hit.snippet.split()) <= 18
    assert [hit.snippet[a:b] for a, b in hit.highlights] == ["needle"]


async def test_branches_and_filter_only_order(any_store: Store, orchard: Orchard) -> None:
    found = await find(any_store, "sender:model")
    by_id = {h.response.response_id: h for h in found.hits if h.response}
    assert by_id[orchard.responses["advice"].response_id].branch == (1, 2)
    assert by_id[orchard.responses["cut"].response_id].branch == (2, 2)
    assert by_id[orchard.responses["bake"].response_id].branch == (1, 1)
    # Filters alone: newest first, the message's start as the snippet.
    assert [h.response.message[:4] for h in found.hits if h.response] == [
        "Bake",
        "Shea",
        "Prun",
    ]
    assert all(h.highlights == () for h in found.hits)


async def test_pages_cover_every_hit_once_in_a_stable_order(any_store: Store) -> None:
    items = [
        item(f"r{i}", f"r{i - 1}" if i else None, f"lantern number {i}" + " lantern" * (i % 3))
        for i in range(130)
    ]
    await any_store.import_forest(ALICE, "Lanterns", False, items)
    parsed = parse_query("lantern")
    total = await any_store.count_search(ALICE, parsed.match, parsed.filters)
    assert total == 130
    seen: list[str] = []
    for offset in range(0, 130, 50):
        page = await any_store.search(ALICE, parsed.match, parsed.filters, 50, offset)
        seen += [hit.response.response_id for hit in page if hit.response]
    assert len(seen) == 130 and len(set(seen)) == 130
    everything = await any_store.search(ALICE, parsed.match, parsed.filters, 1000)
    assert [hit.response.response_id for hit in everything if hit.response] == seen
    assert await any_store.search(ALICE, parsed.match, parsed.filters, 50, 130) == []
    filtered = parse_query("sender:human")
    page = await any_store.search(ALICE, None, filtered.filters, 10, 125)
    assert [hit.response.message for hit in page if hit.response][-1] == "lantern number 0"


async def test_phrases_without_words_behave_as_in_fts5(any_store: Store, orchard: Orchard) -> None:
    empty = '"!!!"'
    assert (await find(any_store, empty)).total == 0
    apple = (await find(any_store, "apple")).responses()
    assert (await find(any_store, f"apple {empty}")).responses() == apple
    assert (await find(any_store, f"{empty} OR apple")).responses() == apple
    assert (await find(any_store, f"apple NOT {empty}")).responses() == apple
    assert (await find(any_store, f"apple AND {empty}")).total == 0
    assert (await find(any_store, f"{empty} NOT apple")).total == 0


async def test_expressions_the_servicer_does_not_make_are_refused_or_read_safely(
    any_store: Store, orchard: Orchard
) -> None:
    with pytest.raises(ValueError):
        await any_store.search(ALICE, '"apple" OR', parse_query("apple").filters, 10)
    with pytest.raises(ValueError):
        await any_store.count_search(ALICE, '"apple" AND AND "pear"', parse_query("x").filters)
    # Quotes and tsquery syntax inside a phrase are text.
    for text in ("it's", "a & b | !c", "'apple':*", "\\'", "<->"):
        phrase = '"' + text.replace('"', '""') + '"'
        found = await any_store.search(ALICE, phrase, parse_query("x").filters, 10)
        assert all(hit.conversation_id for hit in found)


# -- the same hits on both stores -----------------------------------------------------------

WORDS = ["apple", "trees", "pear", "shears", "winter", "frost", "pie", "cafe", "naïve"]
WORDS += ["zurich", "grafting", "orchard", "journal", "kitchen", "3", "foo", "free", "the"]
PREFIXES = ["app*", "sh*", "gra*", "p*", "fr*", "zü*", "CAF*", "3*"]
OPERATORS = ["OR", "NOT", "AND"]
FILTERS = ["", "", "", "sender:model", "sender:human", "tag:orchard", "bookmarked", "rated:+"]


def random_queries(count: int, seed: int = 17) -> list[str]:
    """Queries over the orchard's words with every operator, phrases and prefixes."""
    chooser = random.Random(seed)
    queries: list[str] = []
    while len(queries) < count:
        parts: list[str] = []
        for position in range(chooser.randint(1, 5)):
            if position and chooser.random() < 0.5:
                parts.append(chooser.choice(OPERATORS))
            roll = chooser.random()
            if roll < 0.2:
                parts.append(chooser.choice(PREFIXES))
            elif roll < 0.35:
                parts.append('"' + " ".join(chooser.sample(WORDS, 2)) + '"')
            elif roll < 0.4:
                parts.append('"!!!"')
            else:
                parts.append(chooser.choice(WORDS))
        parts.append(chooser.choice(FILTERS))
        query = " ".join(part for part in parts if part)
        try:
            parse_query(query)
        except QueryError:
            continue
        queries.append(query)
    return queries


def described(hits: list[SearchHitRecord]) -> list[tuple[str, str, str, tuple[int, int]]]:
    """Hits as both stores can agree on them (ids differ): field, title, text, branch."""
    return sorted(
        (h.field, h.conversation_title, h.response.message if h.response else "", h.branch)
        for h in hits
    )


async def test_both_stores_find_the_same_hits_and_counts(
    tmp_path: Path, postgres_url: PostgresUrl
) -> None:
    async with SqliteStore(tmp_path / "grove.sqlite3") as lite, PostgresStore(postgres_url) as pg:
        await plant_orchard(lite)
        await plant_orchard(pg)
        queries = random_queries(300)
        matched = 0
        for query in queries:
            in_sqlite, in_postgres = await find(lite, query), await find(pg, query)
            assert described(in_sqlite.hits) == described(in_postgres.hits), query
            assert in_sqlite.total == in_postgres.total == len(in_sqlite.hits), query
            matched += bool(in_sqlite.hits)
        assert matched > len(queries) // 4, "the queries must find things to compare"
