"""The blind arena in the explorer: `A` on a message, two setups, A and B without names,
a one-key vote stored with RecordVote, names after it, the next pair, the leaderboard.

Driven through the pilot against a real server offering the offline model under two
names; the order of the sides comes from a seeded RNG.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from grove_explorer.app import events as app_events
from grove_explorer.app.screens.arena import ArenaScreen, ArenaSetupForm, LeaderboardScreen, opening
from grove_explorer.app.screens.arena.screen import shown_order
from grove_explorer.app.screens.help import HelpScreen
from grove_explorer.app.screens.main import MainScreen
from grove_explorer.app.widgets.live_lines import LiveText
from grove_explorer.client import Client
from grove_explorer.client import events as service_events
from grove_explorer.client.arena import Setup
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.offline import OfflineSampler
from tests.app.test_live_reply import screen_text
from tests.app_helpers import explorer, settle, until

SIZE = (140, 40)
KESTREL, OSPREY = "kestrel-7b", "osprey-13b"


@pytest.fixture
async def two_models(tmp_path: Path) -> AsyncIterator[GroveServer]:
    """The offline model under two names that no reply would contain."""
    config = ServerConfig(host="127.0.0.1", port=0, db=tmp_path / "grove.sqlite3")
    samplers = {
        KESTREL: OfflineSampler(model_name=KESTREL),
        OSPREY: OfflineSampler(model_name=OSPREY),
    }
    server = GroveServer(config, samplers=samplers, default_model=KESTREL)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def open_arena(pilot: Pilot, screen: MainScreen) -> ArenaScreen:
    service = screen.service
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    reply = await service.send(
        cid, "How do trees grow?", None, sampling=SamplingParams(max_tokens=8)
    )
    assert reply is not None
    await settle(pilot)
    screen.thread.focus()
    assert screen.thread.focus_message(reply.response_id)
    await pilot.press("A")
    await until(pilot, lambda: isinstance(pilot.app.screen, ArenaSetupForm), "setup form")
    form = pilot.app.screen
    assert isinstance(form, ArenaSetupForm)
    assert form.query_one("#arena-0-model", Input).value == KESTREL
    assert form.query_one("#arena-1-model", Input).value == OSPREY
    form.query_one("#arena-0-seed", Input).value = "3"
    assert form.query_one("#arena-0-system", Input).value == "", "the default prompt"
    form.query_one("#arena-1-system", Input).value = "fun"
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, ArenaScreen), "arena")
    await settle(pilot)
    arena = pilot.app.screen
    assert isinstance(arena, ArenaScreen)
    return arena


async def test_names_are_hidden_until_the_vote_which_is_stored(
    two_models: GroveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(opening, "ARENA_RNG", random.Random(4))
    async with explorer(two_models.address, size=SIZE) as (app, pilot, screen):
        arena = await open_arena(pilot, screen)
        pair = arena.pair
        assert pair is not None and pair.done and all(pair.replies)
        before = screen_text(app)
        assert KESTREL not in before and OSPREY not in before, before
        assert "Vote: a = A better" in before
        assert {s.model_name for s in pair.shown} == {KESTREL, OSPREY}
        for reply, setup in zip(pair.replies, pair.shown, strict=True):
            assert reply is not None and reply.model_name == setup.model_name
            assert reply.parent_id == arena._parent_id, "both answer the node"

        await pilot.press("b")
        await settle(pilot)
        after = screen_text(app)
        assert KESTREL in after and OSPREY in after, "names shown after the vote"
        assert "Voted B is better" in after
        async with Client(api_host=two_models.address) as client:
            votes = await client.grok.list_votes()
        assert len(votes) == 1
        vote = votes[0]
        assert vote.outcome == "b"
        assert (vote.setup_a, vote.setup_b) == pair.shown
        prompts = {s.model_name: s.system_prompt_name for s in (vote.setup_a, vote.setup_b)}
        assert prompts == {KESTREL: "", OSPREY: "fun"}
        assert vote.response_b == pair.replies[1].response_id  # type: ignore[union-attr]
        assert vote.winner == pair.replies[1].response_id  # type: ignore[union-attr]

        await pilot.press("a")  # a second vote on the same pair is refused
        await settle(pilot)
        async with Client(api_host=two_models.address) as client:
            assert len(await client.grok.list_votes()) == 1

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await settle(pilot)
        help_text = screen_text(app)
        for word in ("A better", "B better", "Tie", "Both bad", "Next pair", "Leaderboard"):
            assert word in help_text, word
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is arena, "back to the arena")

        await pilot.press("n")
        await settle(pilot)
        assert arena.pair is not pair and arena.pair is not None
        hidden = screen_text(app)
        assert KESTREL not in hidden and OSPREY not in hidden, "the next pair is blind again"

        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, LeaderboardScreen), "leaderboard")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2
        assert "1 votes" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "back to the explorer")


async def test_a_vote_before_the_replies_or_a_bad_form_is_refused_with_a_notice(
    two_models: GroveServer,
) -> None:
    async with explorer(two_models.address, size=SIZE) as (app, pilot, screen):
        service = screen.service
        forest = await service.new_conversation()
        cid = forest.conversation.conversation_id
        reply = await service.send(cid, "Hi", None, sampling=SamplingParams(max_tokens=4))
        assert reply is not None
        await settle(pilot)
        screen.thread.focus()
        assert screen.thread.focus_message(reply.response_id)
        await pilot.press("A")
        await until(pilot, lambda: isinstance(app.screen, ArenaSetupForm), "setup form")
        app.screen.query_one("#arena-1-temperature", Input).value = "hot"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ArenaSetupForm), "the form stays open"
        assert any("temperature 'hot' is not a number" in n.message for n in app._notifications)
        app.screen.query_one("#arena-1-temperature", Input).value = ""
        app.screen.query_one("#arena-1-system", Input).value = "grumpy"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ArenaSetupForm), "the form stays open"
        assert any("unknown system prompt 'grumpy'" in n.message for n in app._notifications)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "form closed")


def test_the_order_shown_is_random_but_reproducible() -> None:
    one, two = Setup(model_name="x"), Setup(model_name="y")
    orders = {shown_order((one, two), random.Random(seed)) for seed in range(20)}
    assert orders == {(one, two), (two, one)}
    assert shown_order((one, two), random.Random(4)) == shown_order((one, two), random.Random(4))


@pytest.fixture
async def slow_models(tmp_path: Path) -> AsyncIterator[GroveServer]:
    """The two names again, paced (20 ms a token) so the replies are seen streaming."""
    config = ServerConfig(host="127.0.0.1", port=0, db=tmp_path / "grove.sqlite3")
    samplers = {
        KESTREL: OfflineSampler(model_name=KESTREL, token_delay_ms=20),
        OSPREY: OfflineSampler(model_name=OSPREY, token_delay_ms=20),
    }
    server = GroveServer(config, samplers=samplers, default_model=KESTREL)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def arena_on_a_reply(app: App[object], screen: MainScreen) -> ArenaScreen:
    """An arena (both names, a seeded order) pushed on the human message of a new reply."""
    service = screen.service
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    reply = await service.send(cid, "Hi", None, sampling=SamplingParams(max_tokens=3))
    assert reply is not None and reply.parent_id is not None
    setups = (Setup(model_name=KESTREL), Setup(model_name=OSPREY))
    arena = ArenaScreen(service, cid, reply.parent_id, setups, rng=random.Random(1))
    await app.push_screen(arena)
    return arena


async def test_both_replies_stream_live_then_show_whole(slow_models: GroveServer) -> None:
    async with explorer(slow_models.address, size=SIZE) as (app, pilot, screen):
        arena = await arena_on_a_reply(app, screen)

        def live_texts() -> list[str]:
            return [live.text for live in arena.query(LiveText)]

        # Both sides show text while the pair is still sampling.
        await until(pilot, lambda: len([t for t in live_texts() if t]) == 2, "two live tails")
        pair = arena.pair
        assert pair is not None and not pair.done
        streamed = live_texts()
        await until(pilot, lambda: pair.done, "both replies")
        await settle(pilot)
        assert not arena.query(LiveText), "the tail views give way to the whole replies"
        finals = [r.message if r is not None else "" for r in pair.replies]
        for index, (so_far, final) in enumerate(zip(streamed, finals, strict=True)):
            assert final.startswith(so_far.rstrip()[:20]), f"side {index} streamed its own reply"
            body = str(arena.query_one(f"#arena-body-{index}", Static).content)
            assert body == final


async def test_an_arena_detached_by_teardown_mounts_no_live_tail(two_models: GroveServer) -> None:
    # The app's teardown detaches a screen before closing its widgets; tokens arriving in
    # between would have mounted a live tail into the detached side (MountError).
    async with explorer(two_models.address, size=SIZE) as (app, pilot, screen):
        arena = await arena_on_a_reply(app, screen)
        cid = arena._conversation_id
        await until(pilot, lambda: arena.pair is not None and arena.pair.done, "both replies")
        await settle(pilot)
        pair = arena.pair
        assert pair is not None and not arena.query(LiveText), "no tail: the next tokens mount one"
        late = service_events.TokensAppended(cid, pair.placeholders[0], "late", ())
        arena._detach()
        try:
            assert not arena.query_one("#arena-side-0").is_attached
            arena._on_tokens(app_events.TokensAppended(late))  # raised MountError before
            assert not arena.query(LiveText)
        finally:
            arena._attach(app)
        arena._on_tokens(app_events.TokensAppended(late))  # attached again: it mounts
        await settle(pilot)
        assert [live.text for live in arena.query(LiveText)] == ["late"]
