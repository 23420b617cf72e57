"""The Compare screen (issue 4) driven through the pilot against a real server, and the
pure word-diff helpers behind its diff mode."""

from __future__ import annotations

import itertools

import pytest
from rich._wrap import divide_line
from textual import events
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from grove_explorer.app.diffing import common_prefix_words, similarity, word_diff, word_spans, words
from grove_explorer.app.screens.compare import CompareScreen, SamplingScreen, parse_sampling
from grove_explorer.app.screens.main import MainScreen
from grove_explorer.app.widgets.sample_column import (
    DIFF_STYLES,
    MARKER,
    PREFIX_STYLE,
    LiveText,
    SampleColumn,
    column_header,
    diff_text,
)
from grove_explorer.client.models import ResponseNode, SamplingInfo
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, settle, until

SIZE = (140, 40)
SMALL = SamplingParams(max_tokens=30, temperature=0.8)


# -- helpers ---------------------------------------------------------------------------------


async def conversation_with_siblings(screen: MainScreen, extra: int = 1) -> tuple[str, list[str]]:
    """A conversation whose first reply has `extra` more sampled siblings; leaf = first."""
    service = screen.service
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    first = await service.send(cid, "How do trees grow in a forest?", None, sampling=SMALL)
    assert first is not None
    for _ in range(extra):
        await service.resample(cid, first.response_id, sampling=SMALL, select=False)
    return cid, service.forest(cid).siblings_of(first.response_id)


async def open_compare(
    pilot: Pilot, screen: MainScreen, response_id: str, key: str = "c"
) -> CompareScreen:
    """Focuses `response_id` in the thread (moving to its branch) and presses `key`."""
    forest = screen.forest
    assert forest is not None
    if response_id not in [n.response_id for n in forest.current_path]:
        screen.service.select(forest.conversation.conversation_id, forest.descend(response_id))
    await settle(pilot)
    screen.thread.focus()
    assert screen.thread.focus_message(response_id)
    await pilot.press(key)
    await until(pilot, lambda: isinstance(pilot.app.screen, CompareScreen), "compare screen")
    await pilot.pause()
    compare = pilot.app.screen
    assert isinstance(compare, CompareScreen)
    return compare


def tap(pilot: Pilot, key: str) -> None:
    """Sends a key without `pilot.press`'s wait for an idle CPU.

    While samples stream the process is never idle (the server runs in it too), so
    `press` would return only after up to two seconds, when short samples have ended.
    The test then polls the state it expects with `until`.
    """
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(pilot.app)
    pilot.app.post_message(event)


def streaming_count(compare: CompareScreen) -> int:
    return sum(1 for c in compare.columns if c.streaming)


# -- opening, keys ---------------------------------------------------------------------------


async def test_compare_shows_siblings_side_by_side(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        _, siblings = await conversation_with_siblings(screen)
        compare = await open_compare(pilot, screen, siblings[0])
        headers = compare.header_texts()
        assert len(headers) == 2
        assert headers[0].startswith("1/2 · model · grove-offline-ngram")
        assert headers[1].startswith("2/2 · model")
        for header, column in zip(headers, compare.columns, strict=True):
            node = column.node
            assert f"{node.word_count} words · {node.token_count} tokens" in header
            assert "T 0.8" in header and "max 30" in header
            assert f"seed {node.sampling.seed}" in header
        assert compare.focused_id == siblings[0]
        assert compare.columns[0].has_class("-focused")
        # Finished samples are one Markdown renderable each.
        from rich.markdown import Markdown

        assert all(isinstance(c.body, Markdown) for c in compare.columns)
        # Move, then Esc closes (nothing streams).
        await pilot.press("l")
        assert compare.focused_id == siblings[1]
        assert compare.columns[1].has_class("-focused")
        assert not compare.columns[0].has_class("-focused")
        await pilot.press("right")
        assert compare.focused_id == siblings[1], "clamped at the last column"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


async def test_compare_needs_a_model_message(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, _ = await conversation_with_siblings(screen, extra=0)
        human = screen.service.forest(cid).current_path[0]
        await settle(pilot)
        screen.thread.focus()
        screen.thread.focus_message(human.response_id)
        await pilot.press("c")
        await settle(pilot)
        assert app.screen is screen
        assert any("finished model message" in str(n.message) for n in app._notifications)


async def test_parallel_sampling_streams_into_new_columns(make_server) -> None:
    running = make_server(token_delay_ms=20.0)
    await running.start()
    try:
        async with explorer(running.address, size=SIZE) as (app, pilot, screen):
            cid, siblings = await conversation_with_siblings(screen)
            leaf = screen.service.forest(cid).leaf_id
            compare = await open_compare(pilot, screen, siblings[0])
            tap(pilot, "R")
            await until(pilot, lambda: streaming_count(compare) == 4, "4 columns streaming")
            # While streaming, columns draw plain text and the headers say so.
            await until(
                pilot,
                lambda: all(c.body.plain for c in compare.columns if c.streaming),
                "streamed text drawn in every live column",
            )
            from rich.text import Text

            live = [c for c in compare.columns if c.streaming]
            assert all(isinstance(c.body, Text) for c in live)
            assert all("streaming…" in c.header.plain for c in live)
            await settle(pilot)
            assert streaming_count(compare) == 0
            forest = screen.service.forest(cid)
            headers = compare.header_texts()
            assert len(headers) == 6
            assert [h.split(" ")[0] for h in headers] == [f"{k}/6" for k in range(1, 7)]
            kids = forest.children_of(forest.responses[siblings[0]].parent_id)
            assert [c.response_id for c in compare.columns] == kids
            for column, header in zip(compare.columns[2:], headers[2:], strict=True):
                node = column.node
                assert not node.partial and node.message and node.sampling is not None
                assert f"seed {node.sampling.seed}" in header and "T 0.8" in header
                assert "top_p 0.95" in header and "max 200" in header
                assert node.mean_logprob is not None and "logprob" in header
            assert forest.leaf_id == leaf, "sampling in parallel does not move the leaf"
            assert app.screen is compare
    finally:
        await running.stop()


async def test_count_prefix_and_R_on_the_explorer(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        _, siblings = await conversation_with_siblings(screen, extra=0)
        # R on the explorer opens Compare and samples four at once.
        compare = await open_compare(pilot, screen, siblings[0], key="R")
        await settle(pilot)
        assert len(compare.columns) == 5
        assert not any(c.streaming for c in compare.columns)
        # A count prefix: 2 then R samples two more.
        await pilot.press("2")
        assert compare.count_prefix == "2"
        await pilot.press("R")
        await settle(pilot)
        assert compare.count_prefix == ""
        assert len(compare.columns) == 7
        assert compare.header_texts()[-1].startswith("7/7")
        # A count prefix on the explorer too: 3R opens Compare sampling three.
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        screen.thread.focus()
        screen.thread.focus_message(siblings[0])
        await pilot.press("3", "R")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        assert len(app.screen.columns) == 10
        # A count belongs to the next command: `r` (one resample) drops it, so a later
        # 2R samples two, not 32.
        await pilot.press("escape")
        await settle(pilot)
        cid = screen.conversation_id
        assert cid is not None
        first = siblings[0]
        before = len(screen.service.forest(cid).siblings_of(first))
        screen.thread.focus()
        screen.thread.focus_message(first)
        await settle(pilot)
        await pilot.press("3", "r")
        await until(pilot, lambda: not screen.service.is_streaming(cid), "the resample ended")
        await settle(pilot)
        after = screen.service.forest(cid).siblings_of(first)
        assert len(after) == before + 1
        screen.thread.focus()
        screen.thread.focus_message(after[-1])
        await settle(pilot)
        await pilot.press("2", "R")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        assert len(app.screen.columns) == before + 3


async def test_escape_stops_every_sample_and_keeps_partials(make_server) -> None:
    running = make_server(token_delay_ms=50.0)
    await running.start()
    try:
        async with explorer(running.address, size=SIZE) as (app, pilot, screen):
            cid, siblings = await conversation_with_siblings(screen)
            compare = await open_compare(pilot, screen, siblings[0])
            tap(pilot, "R")
            await until(
                pilot,
                lambda: (
                    streaming_count(compare) == 4
                    and all(c.tokens for c in compare.columns if c.streaming)
                ),
                "4 samples streaming text",
            )
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is compare, "the first Esc stops, it does not close"
            forest = screen.service.forest(cid)
            new = compare.columns[2:]
            assert len(new) == 4
            for column in new:
                assert not column.streaming and column.node.partial
                assert column.has_class("-partial")
                assert "partial" in column.header.plain
                stored = forest.responses[column.response_id]
                assert stored.partial and stored.message and not stored.streaming
                assert not stored.response_id.startswith("pending:")
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen, "nothing streams: Esc closes"
    finally:
        await running.stop()


async def test_enter_picks_the_focused_sample(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, siblings = await conversation_with_siblings(screen)
        forest = screen.service.forest(cid)
        # A follow-up under the second sample: picking it returns to that deeper leaf.
        await screen.service.send(cid, "And then?", siblings[1], sampling=SMALL)
        deep_leaf = forest.leaf_id
        screen.service.select(cid, siblings[0])
        compare = await open_compare(pilot, screen, siblings[0])
        await pilot.press("right", "enter")
        await settle(pilot)
        assert app.screen is screen
        assert forest.leaf_id == deep_leaf == forest.descend(siblings[1])
        assert screen.thread.focused_response_id == siblings[1], "the explorer returns to it"
        assert not compare.is_attached


async def test_hide_and_show_columns(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        _, siblings = await conversation_with_siblings(screen, extra=2)
        compare = await open_compare(pilot, screen, siblings[0])
        await pilot.press("x")
        await pilot.pause()
        assert [c.response_id for c in compare.visible_columns] == siblings[1:]
        assert compare.focused_id == siblings[1]
        assert compare.column(siblings[0]).display is False
        await pilot.press("x")
        assert [c.response_id for c in compare.visible_columns] == siblings[2:]
        await pilot.press("X")
        await pilot.pause()
        assert [c.response_id for c in compare.visible_columns] == siblings


async def test_sort_by_length_logprob_and_time(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        cid, siblings = await conversation_with_siblings(screen, extra=0)
        service = screen.service
        # Manual siblings of known lengths (no logprob: they were not sampled).
        await service.edit(cid, siblings[0], "one two three four five six seven eight nine ten")
        await service.edit(cid, siblings[0], "just one")
        compare = await open_compare(pilot, screen, siblings[0])
        await pilot.press("3", "R")
        await settle(pilot)
        assert len(compare.columns) == 6
        assert compare.sort == "sampled"
        await pilot.press("s")
        await pilot.pause()
        assert compare.sort == "length"
        assert "length" in compare.sub_title
        counts = [len(words(c.node.message)) for c in compare.visible_columns]
        assert counts == sorted(counts) and counts[0] == 2
        await pilot.press("s")
        await pilot.pause()
        assert compare.sort == "logprob"
        assert "logprob" in compare.sub_title
        means = [c.node.mean_logprob for c in compare.visible_columns]
        known = [m for m in means if m is not None]
        assert len(known) == 4, "the four replies streamed this session have a mean logprob"
        assert known == sorted(known, reverse=True)
        assert means[4:] == [None, None], "unknown last"
        assert all(c.node.manual for c in compare.visible_columns[4:])
        manual_headers = [h for h in compare.header_texts() if " · manual" in h]
        assert len(manual_headers) == 2
        await pilot.press("s")
        await pilot.pause()
        assert compare.sort == "time"
        times = [c.node.total_time for c in compare.visible_columns if c.node.total_time > 0]
        assert times == sorted(times)
        await pilot.press("s")
        await pilot.pause()
        assert compare.sort == "similar"  # the seriation order (tests/app/test_compare_spread.py)
        await pilot.press("s")
        await pilot.pause()
        assert compare.sort == "score"  # nothing judged: the order sampled stays
        await pilot.press("s")
        await pilot.pause()
        assert compare.sort == "sampled"
        kids = service.forest(cid).children_of(service.forest(cid).responses[siblings[0]].parent_id)
        assert [c.response_id for c in compare.columns] == kids


# -- diff mode -------------------------------------------------------------------------------


async def test_diff_mode_on_a_known_pair(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        cid, siblings = await conversation_with_siblings(screen, extra=0)
        service = screen.service
        sat = await service.edit(cid, siblings[0], "the cat sat on the mat")
        lay = await service.edit(cid, siblings[0], "the cat lay on a mat")
        assert sat is not None and lay is not None and sat.manual and lay.manual
        compare = await open_compare(pilot, screen, sat.response_id)
        assert [c.response_id for c in compare.columns] == [
            siblings[0],
            sat.response_id,
            lay.response_id,
        ]
        # Hide the sampled reply, so the common prefix is the pair's.
        await pilot.press("h", "x")
        assert compare.focused_id == sat.response_id
        await pilot.press("d")
        await pilot.pause()
        assert compare.diff_mode and compare.reference_id == sat.response_id
        ref, other = compare.column(sat.response_id), compare.column(lay.response_id)
        assert other.diff == [
            ("the", "equal"),
            ("cat", "equal"),
            ("lay", "replace"),
            ("on", "equal"),
            ("a", "replace"),
            ("mat", "equal"),
        ]
        assert ref.body.plain == f"the cat {MARKER}sat on the mat"
        assert other.body.plain == f"the cat {MARKER}lay on a mat"
        assert "reference" in ref.header.plain
        assert "same words as the reference" in other.header.plain

        def styled(text, style: str) -> list[str]:
            return [text.plain[s.start : s.end] for s in text.spans if str(s.style) == style]

        assert styled(other.body, DIFF_STYLES["replace"]) == ["lay", "a"]
        assert styled(other.body, PREFIX_STYLE) == ["the", "cat"]
        assert styled(ref.body, DIFF_STYLES["replace"]) == []
        assert other.body.plain.index(MARKER) == len("the cat ")
        # D makes the focused column the reference.
        await pilot.press("l", "D")
        await pilot.pause()
        assert compare.reference_id == lay.response_id
        assert [w for w, k in ref.diff if k == "replace"] == ["sat", "the"]
        assert "reference" in other.header.plain
        # Diff off: Markdown again, no marker.
        await pilot.press("d")
        await pilot.pause()
        from rich.markdown import Markdown

        assert not compare.diff_mode
        assert isinstance(ref.body, Markdown) and isinstance(other.body, Markdown)
        assert ref.diff is None and "reference" not in other.header.plain


# -- sampling parameters ---------------------------------------------------------------------


async def test_params_form_validates_and_applies(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, siblings = await conversation_with_siblings(screen, extra=0)
        compare = await open_compare(pilot, screen, siblings[0])
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, SamplingScreen), "params form")
        form = app.screen
        assert isinstance(form, SamplingScreen)
        await pilot.press(*"abc", "enter")
        await pilot.pause()
        assert app.screen is form, "bad values keep the form open"
        assert "temperature must be a number" in form.error
        assert form.query_one("#param-temperature").has_class("-invalid")
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is compare and compare.sampling is None
        assert len(compare.columns) == 1 and not screen.service.is_streaming()
        assert len(screen.service.forest(cid).siblings_of(siblings[0])) == 1, "nothing sampled"
        # Valid values are used for the next batch and recorded with each sample.
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, SamplingScreen), "params form")
        form = app.screen
        from textual.widgets import Input

        for name, value in (
            ("temperature", "0.5"),
            ("top_p", "0.9"),
            ("max_tokens", "12"),
            ("seed", "42"),
        ):
            form.query_one(f"#param-{name}", Input).value = value
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is compare
        assert compare.sampling == SamplingParams(
            temperature=0.5, top_p=0.9, max_tokens=12, seed=42
        )
        await pilot.press("2", "R")
        await settle(pilot)
        new = compare.columns[1:]
        assert len(new) == 2
        seeds = set()
        for column in new:
            sampling = column.node.sampling
            assert sampling is not None
            assert sampling.temperature == pytest.approx(0.5)
            assert sampling.top_p == pytest.approx(0.9)
            assert sampling.max_tokens == 12
            assert column.node.token_count <= 12
            seeds.add(sampling.seed)
            assert "T 0.5 · top_p 0.9 · max 12" in column.header.plain
            assert f"seed {sampling.seed}" in column.header.plain
        assert seeds == {42, 43}


async def test_server_refusal_is_a_notification(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, siblings = await conversation_with_siblings(screen, extra=0)
        compare = await open_compare(pilot, screen, siblings[0])
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, SamplingScreen), "params form")
        await pilot.press(*"5", "enter")  # a number, but above the server's maximum
        await settle(pilot)
        assert compare.sampling == SamplingParams(temperature=5.0)
        await pilot.press("2", "R")
        await settle(pilot)
        assert app.screen is compare
        assert len(compare.columns) == 1, "failed samples leave no column"
        messages = [str(n.message) for n in app._notifications]
        refusals = [m for m in messages if "temperature must be between 0 and 2" in m]
        assert refusals, messages
        assert all("Traceback" not in m for m in messages)
        assert len(screen.service.forest(cid).siblings_of(siblings[0])) == 1


# -- pure helpers ----------------------------------------------------------------------------


def test_common_prefix_words() -> None:
    assert common_prefix_words([]) == 0
    assert common_prefix_words(["a b c"]) == 3
    assert common_prefix_words(["the cat sat on the mat", "the cat lay on a mat"]) == 2
    assert common_prefix_words(["the  cat\nsat", "the cat sat down", "the cat sat"]) == 3
    assert common_prefix_words(["x y", "a b"]) == 0
    assert common_prefix_words(["same text", "same text"]) == 2
    assert common_prefix_words(["", "words here"]) == 0


def test_word_diff_kinds() -> None:
    assert word_diff("the cat sat on the mat", "the cat lay on a mat") == [
        ("the", "equal"),
        ("cat", "equal"),
        ("lay", "replace"),
        ("on", "equal"),
        ("a", "replace"),
        ("mat", "equal"),
    ]
    assert word_diff("the cat sat", "the big cat sat down") == [
        ("the", "equal"),
        ("big", "insert"),
        ("cat", "equal"),
        ("sat", "equal"),
        ("down", "insert"),
    ]
    # Words only the reference has are not listed.
    assert word_diff("the cat sat down", "the cat") == [("the", "equal"), ("cat", "equal")]
    assert word_diff("", "new words") == [("new", "insert"), ("words", "insert")]
    assert word_diff("anything", "") == []
    # Common words still match in long texts (no autojunk).
    long_ref = " ".join(["the"] * 300 + ["end"])
    assert all(k == "equal" for _, k in word_diff(long_ref, long_ref))
    assert similarity("a b c d", "a b c d") == 1.0
    assert similarity("a b", "c d") == 0.0


def test_word_spans_align_with_words() -> None:
    text = "  the cat\n\nsat  on\tthe mat. "
    spans = word_spans(text)
    assert (
        [text[s:e] for s, e in spans] == words(text) == ["the", "cat", "sat", "on", "the", "mat."]
    )


def test_diff_text_marks_prefix_and_divergence() -> None:
    text = "the cat\nlay on a mat"
    diff = word_diff("the cat sat on the mat", text)
    drawn = diff_text(text, diff, 2, marker=True)
    assert drawn.plain == f"the cat\n{MARKER}lay on a mat", "whitespace is kept"
    # A sample that ends inside the common prefix gets the marker at its end.
    assert diff_text("the cat", None, 2, marker=True).plain == f"the cat{MARKER}"
    assert diff_text("the cat", None, 2, marker=False).plain == "the cat"
    # Untrusted text stays inert: control characters are dropped, markup is literal.
    hostile = "[b]x[/b] \x1b[2J y"
    assert diff_text(hostile, None, 0, marker=False).plain == "[b]x[/b]  y"
    with pytest.raises(ValueError):
        diff_text("other words", diff, 2, marker=True)


def test_column_header_lists_what_is_known() -> None:
    node = ResponseNode(
        response_id="r",
        parent_id="p",
        sender="model",
        message="one two three",
        model_name="m\x1b[31m",
        sampling=SamplingInfo(temperature=0.800000011920929, top_p=0.95, max_tokens=70, seed=7),
        token_count=5,
        time_to_first_token=0.5,
        total_time=1.5,
        mean_logprob=-1.234,
    )
    plain = column_header(node, (2, 3)).plain.split("\n")
    assert plain == [
        "2/3 · model · m",
        "3 words · 5 tokens",
        "T 0.8 · top_p 0.95 · max 70 · seed 7",
        "TTFT 0.50s · 4 tok/s · logprob -1.23",
    ]
    manual = node.model_copy(
        update={
            "manual": True,
            "partial": True,
            "sampling": None,
            "token_count": 0,
            "time_to_first_token": 0.0,
            "total_time": 0.0,
            "mean_logprob": None,
            "model_name": "",
        }
    )
    assert column_header(manual, (1, 3)).plain.split("\n") == [
        "1/3 · manual",
        "3 words · partial",
    ]
    live = column_header(node, (3, 3), streaming=True, tokens=1).plain
    assert "1 token · streaming…" in live and "TTFT" not in live


def test_parse_sampling() -> None:
    assert parse_sampling("", "", "", "") == SamplingParams()
    assert parse_sampling(" 0.7 ", "1", "64", "0") == SamplingParams(
        temperature=0.7, top_p=1.0, max_tokens=64, seed=0
    )
    for args, reason in (
        (("abc", "", "", ""), "temperature must be a number"),
        (("nan", "", "", ""), "temperature must be a finite number"),
        (("-1", "", "", ""), "temperature must be a finite number"),
        (("", "0", "", ""), "top_p must be greater than 0"),
        (("", "1.5", "", ""), "top_p must be greater than 0"),
        (("", "", "0", ""), "max_tokens must be between 1"),
        (("", "", "2.5", ""), "max_tokens must be a whole number"),
        (("", "", "", "-3"), "seed must be between 0"),
        (("", "", "", str(2**63)), "seed must be between 0"),
    ):
        with pytest.raises(ValueError, match=reason):
            parse_sampling(*args)
    with pytest.raises(ValueError) as both:
        parse_sampling("x", "", "y", "")
    assert str(both.value).count("\n") == 1


# -- the live column -------------------------------------------------------------------------

LIVE_TEXT = (
    "Trees grow from the tips of their branches\tand roots.\n\nA forest is many trees, "
    "averyveryverylongwordthatmustfold and short words, then\nmore lines\n"
)


def wrapped(text: str, width: int) -> list[str]:
    """Every paragraph of `text` wrapped in one go, as `LiveText` should draw it."""
    lines = []
    for paragraph in text.replace("\t", "    ").split("\n"):
        offsets = [0, *divide_line(paragraph, width), len(paragraph)]
        lines += [paragraph[a:b] for a, b in itertools.pairwise(offsets)] or [""]
    return lines


class LiveApp(App[None]):
    CSS = "LiveText { width: 12; height: 4; }"

    def __init__(self, widget: LiveText | SampleColumn) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


async def test_live_text_wraps_only_new_text_and_shows_the_newest_lines() -> None:
    live = LiveText()
    async with LiveApp(live).run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        for index in range(0, len(LIVE_TEXT), 3):
            live.append(LIVE_TEXT[index : index + 3])
            assert not live._layout_required, "a repaint, never a layout pass"
            assert live.lines == wrapped(LIVE_TEXT[: index + 3], 12)
        await pilot.pause()
        shown = [live.render_line(y).text.rstrip() for y in range(4)]
        assert shown == [line.rstrip() for line in wrapped(LIVE_TEXT, 12)[-4:]]
        assert all(live.render_line(y).cell_length == 12 for y in range(4))
        # A new width wraps the whole text again.
        live.styles.width = 20
        await pilot.pause()
        assert live.lines == wrapped(LIVE_TEXT, 20)


async def test_flushing_a_streaming_column_needs_no_layout() -> None:
    node = ResponseNode(
        response_id="pending:1",
        parent_id="p",
        sender="model",
        message="",
        streaming=True,
        sampling=SamplingInfo(temperature=0.8, max_tokens=70, seed=7),
    )
    from rich.markdown import Markdown
    from rich.text import Text

    column = SampleColumn(node, (1, 1))
    async with LiveApp(column).run_test(size=(60, 40)) as pilot:
        await pilot.pause()
        assert column._live_view.display and not column._body.display
        column.append("Hello \x1b[31m[b]world[/b]", 2)
        column.flush()
        await pilot.pause()
        for _ in range(5):
            column.append(" and more words", 3)
            column.flush()
            widgets = (column, column._header, column._live_view, column._body)
            assert not any(w._layout_required for w in widgets), "repaint only"
        assert column.text.startswith("Hello [b]world[/b] and more")
        assert column._live_view.text == column.text
        assert isinstance(column.body, Text) and "17 tokens" in column.header.plain
        await pilot.pause()
        column.complete(node.model_copy(update={"message": column.text, "streaming": False}))
        await pilot.pause()
        assert column._body.display and not column._live_view.display
        assert isinstance(column.body, Markdown)


async def test_a_compare_screen_detached_by_teardown_mounts_no_column(server: GroveServer) -> None:
    # The app's teardown detaches a screen before closing its widgets; a reply added in
    # between would have been mounted as a column into the detached row (MountError).
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        _, siblings = await conversation_with_siblings(screen)
        compare = await open_compare(pilot, screen, siblings[0])
        parent_id = compare.columns[0].node.parent_id
        late = ResponseNode(
            response_id="late-reply",
            conversation_id=compare.conversation_id,
            parent_id=parent_id,
            sender="model",
            message="",
            streaming=True,
        )
        compare._detach()
        try:
            assert not compare.row.is_attached
            compare._response_added(late)  # raised MountError before
            assert len(compare.columns) == 2
        finally:
            compare._attach(app)
        await pilot.press("escape")
        await settle(pilot)
