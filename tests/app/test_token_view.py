"""The token view (`v`) and token shading in the thread (`V`), against a real server.

Replies come from the offline model with fixed seeds (or from the fake OpenAI endpoint for
hostile token text); what the view shows is compared with `ConversationService.tokens`,
what a branch stored with the forest the service mirrors.
"""

from __future__ import annotations

import math

from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual.widgets import Input

from grove_explorer.app.safe_text import clean
from grove_explorer.app.screens.dialogs import PromptScreen
from grove_explorer.app.screens.main import MainScreen
from grove_explorer.app.screens.tokens import (
    NOT_SAMPLED,
    TokenText,
    TokenViewScreen,
    alternatives,
    visible_token,
    wrap_lines,
)
from grove_explorer.app.widgets.message_view import (
    CURSOR_SHADE,
    GIVEN_SHADE,
    SHADES,
    MessageView,
    probability_bucket,
)
from grove_explorer.client.models import ResponseNode
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.streams import TokenInfo
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, send, settle
from tests.fake_openai import FakeOpenAI

SIZE = (140, 40)
EDGES = (0.1, 0.3, 0.6, 0.9)


def expected_bucket(logprob: float) -> int:
    """The bucket the issue asks for, computed here from p = exp(logprob)."""
    p = math.exp(logprob)
    return sum(p >= edge for edge in EDGES)


async def seeded_reply(screen: MainScreen, pilot, seed: int = 11) -> tuple[str, ResponseNode]:
    """A conversation with one question and an offline-model reply sampled with `seed`."""
    service = screen.service
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    reply = await service.send(
        cid,
        "How do trees decide where to branch?",
        None,
        sampling=SamplingParams(seed=seed, max_tokens=60, temperature=0.8),
    )
    assert reply is not None
    await settle(pilot)
    assert screen.conversation_id == cid
    return cid, reply


async def open_view(pilot, screen: MainScreen, rid: str) -> TokenViewScreen:
    screen.thread.focus()
    assert screen.thread.focus_message(rid)
    await pilot.press("v")
    await settle(pilot)
    view = pilot.app.screen
    assert isinstance(view, TokenViewScreen)
    assert pilot.app.focused is None, "no widget takes the view's keys"
    return view


def view_of(screen: MainScreen, rid: str) -> MessageView:
    views = [v for v in screen.thread.query(MessageView) if v.response_id == rid]
    assert len(views) == 1
    return views[0]


def notified(app, text: str) -> bool:
    return any(text in str(n.message) for n in app._notifications)


async def test_view_shows_each_token_shaded_by_probability(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, reply = await seeded_reply(screen, pilot)
        tokens = await screen.service.tokens(cid, reply.response_id)
        assert len(tokens) > 10
        view = await open_view(pilot, screen, reply.response_id)
        text = view.text

        # Every token is shown, in order, and together they are the message.
        shown = text.displayed_tokens()
        assert shown == [clean(t.text) for t in tokens]
        assert "".join(shown) == clean(reply.message)

        # Each token's background follows its probability bucket.
        buckets = set()
        for index, token in enumerate(tokens):
            assert token.logprob is not None, "the offline model knows every logprob"
            bucket = expected_bucket(token.logprob)
            assert probability_bucket(token.logprob) == bucket
            assert text.style_of(index) == SHADES[bucket]
            buckets.add(bucket)
        assert len(buckets) >= 3, f"a seeded reply spans several buckets: {buckets}"
        assert len(set(SHADES)) == len(SHADES), "every bucket looks different"

        # The summary: model, token count, mean logprob and perplexity.
        svg = app.export_screenshot().replace("&#160;", " ")
        mean = sum(t.logprob for t in tokens) / len(tokens)
        assert f"{len(tokens)} tokens" in svg
        assert f"mean logprob {mean:.3f}" in svg
        assert f"perplexity {math.exp(-mean):.2f}" in svg
        assert "given" in svg and "≥90%" in svg, "the legend"


async def test_cursor_lists_the_alternatives_of_its_token(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, reply = await seeded_reply(screen, pilot)
        tokens = await screen.service.tokens(cid, reply.response_id)
        view = await open_view(pilot, screen, reply.response_id)
        assert view.cursor == 0

        def check(index: int) -> None:
            assert view.cursor == index
            top = sorted(tokens[index].top, key=lambda alt: -alt[1])
            listed = [(a.text, a.logprob) for a in view.alternatives]
            assert listed[: len(top)] == list(top)
            chosen = [a for a in view.alternatives if a.chosen]
            assert [a.text for a in chosen] == [tokens[index].text], "the sampled one marked"
            assert view.selected is not None and view.selected.chosen, "selected at first"

        for _ in range(3):
            await pilot.press("right")
        await settle(pilot)
        check(3)
        await pilot.press("h")
        await settle(pilot)
        check(2)
        await pilot.press("end")
        await settle(pilot)
        check(len(tokens) - 1)
        await pilot.press("home")
        await settle(pilot)
        check(0)
        await pilot.press("w")
        await settle(pilot)
        assert view.cursor > 0 and tokens[view.cursor].text[:1].isspace(), "next word"

        # The panel shows each alternative's probability as a percentage.
        index = next(i for i, t in enumerate(tokens) if len(t.top) >= 2)
        view.text.move_to(index)
        await settle(pilot)
        svg = app.export_screenshot().replace("&#160;", " ")
        for alt in view.alternatives:
            assert alt.probability is not None
            assert f"{alt.probability:.1%}" in svg or f"{alt.probability:.0%}" in svg

        # A click puts the cursor on the token under the mouse (the text has a 1-cell pad).
        expected = min(i for i in range(len(tokens)) if view.text.token_lines(i)[1] >= 1)
        await pilot.click(TokenText, offset=(1, 1))
        await settle(pilot)
        assert view.cursor == expected

        # n jumps to the next token below 30 %.
        view.text.move_to(0)
        await pilot.press("n")
        await settle(pilot)
        unlikely = [i for i, t in enumerate(tokens) if math.exp(t.logprob) < 0.3 and i > 0]
        assert view.cursor == (unlikely[0] if unlikely else 0)

        # Esc closes the view; nothing was sampled.
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        assert len(screen.forest.siblings_of(reply.response_id)) == 1


async def test_enter_on_an_alternative_branches_from_that_token(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, reply = await seeded_reply(screen, pilot)
        tokens = await screen.service.tokens(cid, reply.response_id)
        view = await open_view(pilot, screen, reply.response_id)
        k = next(i for i, t in enumerate(tokens) if i > 1 and len(alternatives(t)) >= 2)
        for _ in range(k):
            await pilot.press("l")
        await settle(pilot)
        assert view.cursor == k
        while view.selected is not None and view.selected.chosen:
            before = view.alternative_index
            await pilot.press("down")
            await settle(pilot)
            if view.alternative_index == before:  # the sampled token was last: go up
                await pilot.press("up", "up")
                await settle(pilot)
        alt = view.selected
        assert alt is not None and not alt.chosen
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen, "the view closes"

        forest = screen.forest
        siblings = forest.siblings_of(reply.response_id)
        assert len(siblings) == 2
        new = forest.responses[siblings[1]]
        prefix = "".join(t.text for t in tokens[:k]) + alt.text
        assert new.message.startswith(prefix)
        assert new.prefix_length == len(prefix)
        assert not new.streaming and not new.manual
        # The thread shows the new sibling as the current branch.
        assert forest.leaf_id == new.response_id
        assert screen.thread.path[-1].response_id == new.response_id
        assert "branch 2/2" in view_of(screen, new.response_id).header.plain
        assert screen.thread.focused_response_id == new.response_id, "the cursor follows"

        # Its given prefix is one token of unknown probability, drawn in the neutral style.
        new_tokens = await screen.service.tokens(cid, new.response_id)
        assert new_tokens[0].text == prefix and new_tokens[0].logprob is None
        view = await open_view(pilot, screen, new.response_id)
        assert view.text.style_of(0) == GIVEN_SHADE
        assert probability_bucket(None) is None
        assert view.cursor == 1, "the cursor starts on the first sampled token"
        svg = app.export_screenshot().replace("&#160;", " ")
        assert f"first {len(prefix)} characters given" in svg
        assert f"{len(new_tokens)} tokens (1 given)" in svg
        await pilot.press("home")
        await settle(pilot)
        assert [a.text for a in view.alternatives] == [prefix], "a prefix has no others"


async def test_e_edits_the_alternative_before_branching(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, reply = await seeded_reply(screen, pilot, seed=5)
        tokens = await screen.service.tokens(cid, reply.response_id)
        view = await open_view(pilot, screen, reply.response_id)
        await pilot.press("l", "l")
        await settle(pilot)
        assert view.cursor == 2
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        field = app.screen.query_one(Input)
        assert field.value == tokens[2].text, "starts with the selected alternative"
        field.value = " zebras [b]"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        forest = screen.forest
        new = forest.responses[forest.leaf_id]
        prefix = tokens[0].text + tokens[1].text + " zebras [b]"
        assert new.response_id != reply.response_id
        assert new.message.startswith(prefix) and new.prefix_length == len(prefix)


async def test_messages_people_wrote_have_no_tokens(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, reply = await seeded_reply(screen, pilot)
        human = screen.forest.responses[reply.parent_id]
        for key in ("v", "V"):
            app._notifications.clear()
            screen.thread.focus()
            screen.thread.focus_message(human.response_id)
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is screen
            assert notified(app, NOT_SAMPLED)
        # A manual reply (written in place of the model's) has none either.
        manual = await screen.service.edit(cid, reply.response_id, "Written by hand.")
        await settle(pilot)
        leaf = screen.forest.responses[screen.forest.leaf_id]
        assert leaf.manual, manual
        app._notifications.clear()
        screen.thread.focus()
        screen.thread.focus_message(leaf.response_id)
        await pilot.press("v")
        await settle(pilot)
        assert app.screen is screen
        assert notified(app, NOT_SAMPLED)
        assert not view_of(screen, leaf.response_id).shaded


async def test_token_text_is_inert(openai_server: GroveServer, fake_openai: FakeOpenAI) -> None:
    hostile = ["Plain", " [bold]", "\x1b[31m", " red", " [/]", " [@click=app.quit]x[/]", " end"]
    fake_openai.reply_tokens = hostile
    async with explorer(openai_server.address, size=SIZE) as (app, pilot, screen):
        await send(pilot, "Say something hostile")
        await settle(pilot)
        reply = screen.forest.current_path[-1]
        assert reply.message == "".join(hostile), "stored as sent"
        view = await open_view(pilot, screen, reply.response_id)
        assert view.text.displayed_tokens() == [clean(t) for t in hostile]
        assert view.text.displayed_tokens()[2] == "", "the whole escape sequence goes"
        view.text.move_to(1)
        await settle(pilot)
        svg = app.export_screenshot().replace("&#160;", " ")
        assert "\x1b" not in svg
        assert " [bold]" in svg and "[@click=app.quit]x[/]" in svg
        listed = [visible_token(a.text).plain for a in view.alternatives]
        assert "·[bold]" in listed, "the alternatives list shows the token literally"
        await pilot.press("escape")
        await settle(pilot)
        # The thread's shading shows it literally too.
        screen.thread.focus_message(reply.response_id)
        await pilot.press("V")
        await settle(pilot)
        shaded = view_of(screen, reply.response_id)
        assert shaded.shaded
        assert isinstance(shaded.body, Text)
        assert shaded.body.plain == clean(reply.message)
        svg = app.export_screenshot().replace("&#160;", " ")
        assert "\x1b" not in svg and "[@click=app.quit]x[/]" in svg
        assert app.is_running


async def test_thread_shading_toggles_on_and_off(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        cid, reply = await seeded_reply(screen, pilot)
        tokens = await screen.service.tokens(cid, reply.response_id)
        screen.thread.focus()
        screen.thread.focus_message(reply.response_id)
        message = view_of(screen, reply.response_id)
        assert isinstance(message.body, RichMarkdown)

        await pilot.press("V")
        await settle(pilot)
        message = view_of(screen, reply.response_id)
        assert message.shaded and message.has_class("-shaded")
        assert "shaded by token probability" in message.header.plain
        body = message.body
        assert isinstance(body, Text) and body.plain == clean(reply.message)
        shading = message.shading
        assert shading is not None
        for index, token in enumerate(tokens):
            assert shading.styles[index] == SHADES[expected_bucket(token.logprob)]
            start = shading.starts[index]
            if token.text and SHADES[expected_bucket(token.logprob)]:
                styles = [s.style for s in body.spans if s.start <= start < s.end]
                assert styles == [SHADES[expected_bucket(token.logprob)]]

        # A new sibling elsewhere changes the header ("branch k/n"), not the shading.
        await screen.service.resample(cid, reply.response_id, select=False)
        await settle(pilot)
        message = view_of(screen, reply.response_id)
        assert message.shaded and "branch 1/2" in message.header.plain

        await pilot.press("V")
        await settle(pilot)
        message = view_of(screen, reply.response_id)
        assert not message.shaded and not message.has_class("-shaded")
        assert isinstance(message.body, RichMarkdown)
        assert "shaded" not in message.header.plain


def long_reply(count: int) -> list[TokenInfo]:
    """`count` tokens of varied probability, with a paragraph break every 40."""
    tokens = []
    for i in range(count):
        text = "\n\n" if i % 40 == 39 else f" w{i}"
        logprob = -((i * 7919) % 23) / 5.0
        tokens.append(TokenInfo(text, logprob, ((text, logprob), (" alt", logprob - 1.0))))
    return tokens


async def test_cursor_moves_on_a_long_reply_redraw_a_line_or_two(server: GroveServer) -> None:
    """5,000 tokens: built and wrapped once; a move redraws the lines it touches only.

    Not a timing test: the view counts what it builds, wraps and draws.
    """
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, reply = await seeded_reply(screen, pilot)
        tokens = long_reply(5000)
        app.push_screen(TokenViewScreen(screen.service, cid, reply, tokens=tokens))
        await settle(pilot)
        view = app.screen
        assert isinstance(view, TokenViewScreen)
        text = view.text
        height = text.scrollable_content_region.height
        assert text.line_count > 10 * height, "far more lines than fit"
        assert (text.builds, text.layouts) == (1, 1)
        assert text.line_renders <= height + 2, "only the lines on screen were drawn"

        moves = 0
        before = text.line_renders
        for _ in range(60):
            await pilot.press("right")
            moves += 1
        await settle(pilot)
        assert view.cursor == 60
        # Each move draws the line the cursor left and the one it entered (plus a line
        # scrolled in now and then), never the whole reply nor even the whole screen.
        assert text.line_renders - before <= 3 * moves
        first, last = text.token_lines(view.cursor)
        top = round(text.scroll_offset.y)
        assert top <= first and last < top + height, "the cursor is on screen"

        # Jumping to the end draws one screen of lines, not 5,000 tokens' worth.
        before = text.line_renders
        await pilot.press("end")
        await settle(pilot)
        assert view.cursor == 4999
        assert text.line_renders - before <= height + 4
        await pilot.press("pageup")
        await settle(pilot)
        assert view.cursor < 4999
        assert (text.builds, text.layouts) == (1, 1), "nothing rebuilt or re-wrapped"
        svg = app.export_screenshot().replace("&#160;", " ")
        assert "Token 5000 of 5000" not in svg and "of 5000" in svg


def test_wrapping_keeps_every_character_in_one_line() -> None:
    text = "Prune branches\n\nthat lead nowhere, averyveryverylongwordthatfolds  end\n"
    lines = wrap_lines(text, 12)
    assert "".join(text[a:b] for a, b in lines) == text.replace("\n", "")
    assert all(len(text[a:b].rstrip(" ")) <= 12 for a, b in lines), "spaces may hang"
    assert [text[a:b] for a, b in lines] == [
        "Prune ",
        "branches",
        "",
        "that lead ",
        "nowhere, ",
        "averyveryver",
        "ylongwordtha",
        "tfolds  end",
        "",
    ]
    assert CURSOR_SHADE not in SHADES
