"""Referring to a branch in the app: short ids in the thread, branch and id on search hits."""

from __future__ import annotations

from rich.text import Text

from grove_explorer.app.widgets.message_view import MessageView
from grove_explorer.server.runtime import GroveServer
from tests.app.test_search_ui import SIZE, library, open_search, search_for
from tests.app_helpers import explorer, settle


async def test_the_focused_message_shows_its_short_id(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, main):
        lib = await library(main, pilot)
        main.action_open_conversation(lib.zebras)
        await settle(pilot)
        main.thread.focus()
        main.thread.focus_message(lib.quokka_question)
        await settle(pilot)
        focused = [v for v in main.thread.query(MessageView) if v.has_class("-focused")]
        assert [v.response_id for v in focused] == [lib.quokka_question]
        header = focused[0].header.plain
        assert header.endswith(f" · {lib.quokka_question[:8]}"), header
        assert "branch 2/2" in header, "the edit is the second of two questions"
        assert lib.quokka_question[:9] not in header, "8 characters, not more"


async def test_search_hits_show_branch_position_and_short_id(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, main):
        lib = await library(main, pilot)
        main.thread.focus()
        search = await open_search(pilot)
        await search_for(pilot, search, "sender:human")
        by_id = {hit.response_id: hit for hit in search.hits}
        assert by_id[lib.zebra_question].branch == (1, 2)
        assert by_id[lib.quokka_question].branch == (2, 2)
        assert by_id[lib.orchard_question].branch == (1, 1)
        prompts = {}
        for index, hit in enumerate(search.hits):
            prompt = search.results.get_option_at_index(index).prompt
            assert isinstance(prompt, Text)
            prompts[hit.response_id] = prompt.plain.splitlines()[0]
        assert "branch 2/2" in prompts[lib.quokka_question]
        assert "branch 1/2" in prompts[lib.zebra_question]
        assert "branch" not in prompts[lib.orchard_question], "an only child has no branch"
        for response_id, line in prompts.items():
            assert line.endswith(f" · {response_id[:8]}"), line
        # A title hit has no response: no branch, no id.
        await search_for(pilot, search, "savanna")
        (title_hit,) = search.hits
        assert title_hit.branch == (0, 0) and title_hit.short_id == ""
        assert "branch" not in search.results.get_option_at_index(0).prompt.plain
