"""The search screen driven through Textual's pilot against a real server."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from grove_explorer.app.screens.main import MainScreen
from grove_explorer.app.screens.search import (
    HIGHLIGHT,
    PAGE_SIZE,
    SearchScreen,
    hit_text,
    snippet_text,
)
from grove_explorer.client import Client
from grove_explorer.client.research import Annotation, SearchHit
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, settle, until

SIZE = (140, 40)


def highlighted(text: Text) -> list[str]:
    """The pieces of `text` drawn with the search highlight."""
    return [text.plain[span.start : span.end] for span in text.spans if span.style == HIGHLIGHT]


@dataclass
class Library:
    """Two conversations; in "Zebras", the first question was edited (so it is off the path)."""

    orchards: str
    orchard_question: str
    zebras: str
    zebra_question: str
    quokka_question: str


async def library(screen: MainScreen, pilot) -> Library:
    service = screen.service
    first = await service.new_conversation()
    orchards = first.conversation.conversation_id
    reply = await service.send(orchards, "Pruning apple orchards in winter", None)
    assert reply is not None and reply.parent_id is not None
    orchard_question = reply.parent_id
    await settle(pilot)  # the explorer titles a new conversation itself: let it, then rename
    await service.set_title(orchards, "Orchard care")
    second = await service.new_conversation()
    zebras = second.conversation.conversation_id
    reply = await service.send(zebras, "Why do zebras have stripes? Pruning aside.", None)
    assert reply is not None and reply.parent_id is not None
    zebra_question = reply.parent_id
    edited = await service.edit(zebras, zebra_question, "What do quokkas eat?")
    assert edited is not None and edited.parent_id is not None
    await settle(pilot)
    await service.set_title(zebras, "Savanna questions")
    await settle(pilot)
    return Library(orchards, orchard_question, zebras, zebra_question, edited.parent_id)


async def open_search(pilot) -> SearchScreen:
    await pilot.press("slash")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, SearchScreen)
    return screen


async def search_for(pilot, screen: SearchScreen, query: str) -> None:
    """Types `query` (replacing what is there) and waits for its results or error."""
    screen.query_input.value = ""
    if query:
        await pilot.press(*query)
    await until(pilot, lambda: screen.shown_query == query, f"results for {query!r}")
    await settle(pilot)


async def test_typing_shows_hits_with_highlights(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, main):
        lib = await library(main, pilot)
        main.thread.focus()
        search = await open_search(pilot)
        assert search.query_input.has_focus
        await search_for(pilot, search, "prun*")
        hits = search.hits
        assert {(h.conversation_id, h.response_id) for h in hits} >= {
            (lib.orchards, lib.orchard_question),
            (lib.zebras, lib.zebra_question),
        }
        assert not search.error
        for hit in hits:
            assert hit.highlights, hit
            assert all(piece.lower().startswith("prun") for piece in highlighted(hit_text(hit)))
        # The list shows each hit with its highlighted snippet and where it is.
        results = search.results
        assert results.option_count == len(hits)
        prompt = results.get_option_at_index(0).prompt
        assert isinstance(prompt, Text)
        assert highlighted(prompt)
        assert "message" in prompt.plain and "You" in prompt.plain
        # Titles are searched too: a title hit says it opens the conversation.
        await search_for(pilot, search, "savanna")
        assert [(h.field, h.conversation_id) for h in search.hits] == [("title", lib.zebras)]
        assert "opens the conversation" in search.results.get_option_at_index(0).prompt.plain


async def test_filters_work_through_the_ui(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, main):
        lib = await library(main, pilot)
        await main.service.annotate(
            lib.zebras, lib.zebra_question, bookmarked=True, tags=["stripes"], rating=1
        )
        main.thread.focus()
        search = await open_search(pilot)
        await search_for(pilot, search, "sender:human")
        assert len(search.hits) == 3
        assert all(h.sender == "human" for h in search.hits)
        await search_for(pilot, search, "bookmarked")
        assert [h.response_id for h in search.hits] == [lib.zebra_question]
        assert search.hits[0].annotation.bookmarked
        assert "⚑▲#1" in search.results.get_option_at_index(0).prompt.plain
        await search_for(pilot, search, "tag:stripes rated:+ zebras")
        assert [h.response_id for h in search.hits] == [lib.zebra_question]
        await search_for(pilot, search, "quokkas OR orchards sender:human")
        assert {h.response_id for h in search.hits} == {lib.quokka_question, lib.orchard_question}
        await search_for(pilot, search, '"apple orchards" NOT zebras')
        assert [h.response_id for h in search.hits] == [lib.orchard_question]
        await search_for(pilot, search, "rated:-")
        assert search.hits == [] and "No matches" in str(search.query_one("#search-status").content)


async def test_enter_jumps_to_a_hit_in_another_conversation(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, main):
        lib = await library(main, pilot)
        main.action_open_conversation(lib.orchards)
        await settle(pilot)
        assert main.conversation_id == lib.orchards
        zebras = main.service.forest(lib.zebras)
        assert lib.zebra_question not in [n.response_id for n in zebras.current_path]
        main.thread.focus()
        search = await open_search(pilot)
        await pilot.press(*"stripes")
        await pilot.press("enter")  # searches at once, then the hits get the focus
        await until(pilot, lambda: search.results.has_focus, "focus on the hits")
        assert [h.response_id for h in search.hits] == [lib.zebra_question]
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is main
        assert main.conversation_id == lib.zebras
        forest = main.forest
        assert forest is not None
        assert forest.leaf_id == lib.zebra_question, "selected as the leaf"
        assert main.thread.focused_response_id == lib.zebra_question
        assert main.thread.has_focus
        assert [n.response_id for n in main.thread.path] == [lib.zebra_question]
        item = main.forest_pane.cursor_item
        assert item is not None and lib.zebra_question in item.response_ids
        assert main.title == "Savanna questions"
        # The query is kept for the next `/`, with its results.
        search = await open_search(pilot)
        assert search.query_input.value == "stripes"
        await until(pilot, lambda: search.shown_query == "stripes", "results again")
        # A title hit opens the conversation as it was left.
        await search_for(pilot, search, "orchard care")
        assert [h.field for h in search.hits] == ["title"]
        search.results.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert main.conversation_id == lib.orchards
        assert main.forest.leaf_id == main.service.forest(lib.orchards).leaf_id


async def test_jump_within_the_open_conversation(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, main):
        lib = await library(main, pilot)
        main.action_open_conversation(lib.zebras)
        await settle(pilot)
        assert main.forest.leaf_id != lib.zebra_question
        main.thread.focus()
        search = await open_search(pilot)
        await search_for(pilot, search, "zebras")
        search.results.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert main.forest.leaf_id == lib.zebra_question
        assert main.thread.focused_response_id == lib.zebra_question


async def test_invalid_query_is_shown_inline(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, main):
        await library(main, pilot)
        main.thread.focus()
        search = await open_search(pilot)
        await search_for(pilot, search, "sender:robot")
        assert "sender: takes human or model" in search.error
        status = search.query_one("#search-status")
        assert status.has_class("-error")
        assert "sender: takes human or model" in str(status.content)
        assert search.hits == []
        assert app.screen is search and app.is_running
        assert not any("sender:" in str(n.message) for n in app._notifications)
        # Fixing the query clears the error.
        await search_for(pilot, search, "sender:human zebras")
        assert not search.error and not status.has_class("-error")
        assert len(search.hits) == 1
        # Emptying the box clears the list without asking the server.
        await search_for(pilot, search, "")
        assert search.hits == [] and not search.error
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is main


async def test_palette_opens_search(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, main):
        main.thread.focus()
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"search all", "enter")
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)


def test_snippets_are_inert_and_highlights_survive_cleaning() -> None:
    snippet = "a \x1b[31m[b]zebra[/b]\x1b[0m\nstripes and zebras"
    start = snippet.index("zebra")
    second = snippet.index("zebras")
    text = snippet_text(snippet, ((start, start + 5), (second, second + 6), (999, 1005)))
    assert text.plain == "a [b]zebra[/b] stripes and zebras"
    assert highlighted(text) == ["zebra", "zebras"]
    hit = SearchHit(
        conversation_id="c",
        conversation_title="[@click=app.quit]T[/]",
        field="message",
        snippet=snippet,
        highlights=((start, start + 5),),
        response_id="r",
        sender="model",
        model_name="m\x1b]0;x\x07",
        annotation=Annotation(note="n"),
    )
    plain = hit_text(hit).plain
    assert plain.startswith("[@click=app.quit]T[/] · message · m ¶")
    assert "\x1b" not in plain and "\x07" not in plain


async def test_many_hits_say_how_many_and_load_more_on_demand(
    server: GroveServer, client: Client
) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, main):
        request = chat_pb2.ImportConversationRequest(title="Beacons")
        for i in range(120):
            request.responses.append(
                chat_pb2.Response(
                    response_id=f"r{i}",
                    sender="human",
                    message=f"beacon number {i}",
                    parent_response_id=f"r{i - 1}" if i else "",
                )
            )
        await client.grok.import_conversation(request)
        main.thread.focus()
        search = await open_search(pilot)
        await search_for(pilot, search, "beacon")
        assert (len(search.hits), search.total) == (PAGE_SIZE, 120)
        assert search.status_text.startswith("50 of 120 hits")
        assert "Ctrl+N" in search.status_text
        # Ctrl+N loads the next page, from the box.
        assert search.query_input.has_focus
        await pilot.press("ctrl+n")
        await until(pilot, lambda: len(search.hits) == 100, "a second page")
        await settle(pilot)
        assert search.results.option_count == 100
        assert search.status_text.startswith("100 of 120 hits")
        # Reaching the last hit in the list loads the rest.
        search.results.focus()
        await pilot.press("end")
        await until(pilot, lambda: len(search.hits) == 120, "the last page")
        await settle(pilot)
        assert search.status_text.startswith("120 hits — Enter jumps")
        ids = [hit.response_id for hit in search.hits]
        assert len(set(ids)) == 120, "pages neither repeat nor skip hits"
        # Nothing more to load: Ctrl+N is a no-op, and a new query starts over.
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert len(search.hits) == 120
        search.query_input.focus()
        await search_for(pilot, search, "number")
        assert (len(search.hits), search.total) == (PAGE_SIZE, 120)
