"""The model picker, per-batch models in Compare, and backend failures, driven through the
pilot against a real server that offers two offline models ("alpha", the default, and
"beta") and, for the failure tests, a backend that breaks off mid-reply."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import SelectionList

from grove_explorer.app.commands import ACTIONS
from grove_explorer.app.errors import BACKEND_FAILED
from grove_explorer.app.screens.compare import CompareScreen, SamplingScreen
from grove_explorer.app.screens.help import binding_rows
from grove_explorer.app.screens.main import MainScreen
from grove_explorer.app.screens.model_picker import RAW_LABEL, ModelPickerScreen
from grove_explorer.client.service import ConversationSettings
from grove_explorer.server.backends import ModelsConfig
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.base import ResolvedParams, SamplerError, SamplerErrorKind
from grove_explorer.server.sampler.offline import OfflineSampler
from tests.app_helpers import explorer, send, settle, until

SIZE = (140, 40)

MARKUP_PROMPT = "[bold red]x[/] \x1b[31mred\x07 [link=https://evil.example]click[/link]"
MARKUP_NAME = "[b]odd[/b]"


class BrokenSampler(OfflineSampler):
    """An offline model whose backend "fails" after `after` tokens (0: before the first)."""

    def __init__(self, model_name: str, after: int) -> None:
        super().__init__(model_name=model_name)
        self._after = after

    async def sample(  # type: ignore[override]
        self, path: Sequence[object], params: ResolvedParams, **kwargs: object
    ) -> AsyncIterator[object]:
        count = 0
        async for token in super().sample(path, params, **kwargs):  # type: ignore[arg-type]
            if count >= self._after:
                break
            count += 1
            yield token
        raise SamplerError(
            SamplerErrorKind.STREAM_BROKEN, f"The {self.model_name!r} backend broke off."
        )


async def _running(server: GroveServer) -> AsyncIterator[GroveServer]:
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def two_models(tmp_path: Path) -> AsyncIterator[GroveServer]:
    """alpha (the default) and beta, with the default system prompts ("" and "fun")."""
    config = ServerConfig(host="127.0.0.1", port=0, db=tmp_path / "grove.sqlite3")
    samplers = {
        "alpha": OfflineSampler(model_name="alpha"),
        "beta": OfflineSampler(model_name="beta"),
    }
    async for running in _running(GroveServer(config, samplers=samplers, default_model="alpha")):
        yield running


@pytest.fixture
async def untrusted_config(tmp_path: Path) -> AsyncIterator[GroveServer]:
    """A server whose configured names and prompt texts hold markup and escape sequences."""
    config = ServerConfig(
        host="127.0.0.1",
        port=0,
        db=tmp_path / "grove.sqlite3",
        models=ModelsConfig(system_prompts={"": "Plain prompt.", MARKUP_NAME: MARKUP_PROMPT}),
    )
    samplers = {
        "alpha": OfflineSampler(model_name="alpha"),
        "[red]gamma[/]": OfflineSampler(model_name="[red]gamma[/]"),
    }
    async for running in _running(GroveServer(config, samplers=samplers, default_model="alpha")):
        yield running


@pytest.fixture
async def flaky(tmp_path: Path) -> AsyncIterator[GroveServer]:
    """alpha works; "flaky" breaks off after three tokens; "down" fails before any."""
    config = ServerConfig(host="127.0.0.1", port=0, db=tmp_path / "grove.sqlite3")
    samplers = {
        "alpha": OfflineSampler(model_name="alpha"),
        "flaky": BrokenSampler("flaky", after=3),
        "down": BrokenSampler("down", after=0),
    }
    async for running in _running(GroveServer(config, samplers=samplers, default_model="alpha")):
        yield running


# -- helpers ---------------------------------------------------------------------------------


def rendered(widget: Widget) -> str:
    """The characters a widget draws, line by line (what reaches the terminal)."""
    lines = []
    for y in range(widget.size.height):
        lines.append("".join(segment.text for segment in widget.render_line(y)))
    return "\n".join(lines)


def status_text(screen: MainScreen) -> str:
    return screen.status.shown.plain


async def open_picker(pilot: Pilot, screen: MainScreen) -> ModelPickerScreen:
    """Presses `m` outside the composer and waits for the picker."""
    screen.thread.focus()
    await pilot.press("m")
    await until(pilot, lambda: isinstance(pilot.app.screen, ModelPickerScreen), "the picker")
    await pilot.pause()
    picker = pilot.app.screen
    assert isinstance(picker, ModelPickerScreen)
    return picker


async def pick(pilot: Pilot, screen: MainScreen, *keys: str) -> None:
    """Opens the picker, presses `keys` in it and waits until it closed."""
    picker = await open_picker(pilot, screen)
    await pilot.press(*keys)
    await until(pilot, lambda: pilot.app.screen is screen, "the picker to close")
    await settle(pilot)
    assert not picker.is_attached


async def first_exchange(pilot: Pilot, screen: MainScreen, text: str) -> str:
    """Sends `text` through the composer; returns the conversation's id."""
    await send(pilot, text)
    await settle(pilot)
    assert screen.conversation_id is not None
    return screen.conversation_id


def notifications(pilot: Pilot) -> list[tuple[str, str]]:
    return [(n.title, n.message) for n in pilot.app._notifications]


# -- the picker ------------------------------------------------------------------------------


async def test_picker_lists_models_and_system_prompts(two_models: GroveServer) -> None:
    async with explorer(two_models.address, size=SIZE) as (app, pilot, screen):
        status = status_text(screen)
        assert "model alpha" in status and "prompt default" in status, status
        picker = await open_picker(pilot, screen)
        assert picker.model_names == ["alpha", "beta"]
        assert picker.prompt_names == ["", "fun", None]
        assert picker.model_list.has_focus
        assert picker.model_list.highlighted == 0, "the current (default) model"
        assert picker.prompt_list.highlighted == 0, "the default prompt"
        alpha, beta = (picker.model_list.get_option_at_index(i).prompt for i in (0, 1))
        assert alpha.plain.startswith("● alpha  offline · n-gram demo model (built in)")
        assert "server default" in alpha.plain and "server default" not in beta.plain
        assert beta.plain.startswith("  beta")
        assert "T 0.8" in alpha.plain and "max " in alpha.plain
        assert "· logprobs" in alpha.plain
        assert "Built-in offline demo model" in alpha.plain
        prompts = [picker.prompt_list.get_option_at_index(i).prompt.plain for i in range(3)]
        assert prompts[0].startswith("● default  You are Grove's assistant")
        assert prompts[1].startswith("  fun  You are in fun mode")
        assert prompts[2] == f"  {RAW_LABEL}"
        # On screen too.
        drawn = rendered(picker.model_list)
        assert "alpha" in drawn and "beta" in drawn and "logprobs" in drawn
        # Tab moves between the lists (and back).
        await pilot.press("tab")
        assert picker.prompt_list.has_focus
        await pilot.press("tab")
        assert picker.model_list.has_focus
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


async def test_picker_key_is_listed_and_rebindable(two_models: GroveServer) -> None:
    keymap = {"pick_model": "M"}
    async with explorer(two_models.address, size=SIZE, keymap=keymap) as (app, pilot, screen):
        assert ("Explorer", "M", "Choose model / system prompt") in binding_rows([screen])
        assert any(action == "pick_model" for _, action, _ in ACTIONS), "in the palette"
        screen.thread.focus()
        await pilot.press("m")
        await settle(pilot)
        assert app.screen is screen, "rebound away from m"
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, ModelPickerScreen), "the picker")


async def test_choosing_beta_before_the_first_message(two_models: GroveServer) -> None:
    async with explorer(two_models.address, size=SIZE) as (_, pilot, screen):
        await pick(pilot, screen, "down", "enter")
        assert screen.conversation_id is None
        assert screen.settings == ConversationSettings("beta", "", True)
        assert "model beta" in status_text(screen)
        # The first message creates the conversation with the chosen model.
        cid = await first_exchange(pilot, screen, "Tell me about trees")
        forest = screen.forest
        assert forest is not None
        reply = forest.current_path[-1]
        assert reply.model_name == "beta" and not reply.streaming
        assert screen.service.settings(cid).model_name == "beta"
        assert "model beta" in status_text(screen)
        # `n` carries the settings over to the new conversation.
        screen.thread.focus()
        await pilot.press("n")
        await settle(pilot)
        assert screen.conversation_id not in (None, cid)
        assert screen.service.settings(screen.conversation_id).model_name == "beta"
        assert "model beta" in status_text(screen)


async def test_choosing_beta_in_an_open_conversation(two_models: GroveServer) -> None:
    async with explorer(two_models.address, size=SIZE) as (_, pilot, screen):
        cid = await first_exchange(pilot, screen, "Tell me about apple trees")
        first = screen.forest.current_path[-1]
        assert first.model_name == "alpha", "the server default"
        await pick(pilot, screen, "down", "enter")
        assert screen.service.settings(cid) == ConversationSettings("beta", "", True)
        assert "model beta" in status_text(screen)
        assert any("model beta" in message for _, message in notifications(pilot))
        # The next reply records beta; the earlier one keeps alpha.
        await send(pilot, "And about pear trees?")
        await settle(pilot)
        path = screen.forest.current_path
        assert [n.model_name for n in path if not n.is_human] == ["alpha", "beta"]
        # Opening the conversation again continues with the model of its latest reply.
        other = await screen.service.new_conversation()
        await settle(pilot)
        assert screen.conversation_id == other.conversation.conversation_id
        assert "model alpha" in status_text(screen), "a fresh conversation: the default"
        await screen.service.open(cid)
        await settle(pilot)
        assert screen.conversation_id == cid
        assert "model beta" in status_text(screen)


async def test_choosing_fun_then_raw_model(two_models: GroveServer) -> None:
    async with explorer(two_models.address, size=SIZE) as (app, pilot, screen):
        cid = await first_exchange(pilot, screen, "Hello there")
        await pick(pilot, screen, "tab", "down", "enter")
        assert screen.service.settings(cid) == ConversationSettings("", "fun", True)
        assert "prompt fun" in status_text(screen)
        assert "model alpha" in status_text(screen), "the model is unchanged"
        picker = await open_picker(pilot, screen)
        assert picker.prompt_list.highlighted == 1, "fun is the current prompt"
        assert picker.prompt_list.get_option_at_index(1).prompt.plain.startswith("● fun")
        await pilot.press("tab", "down", "enter")
        await until(pilot, lambda: app.screen is screen, "the picker to close")
        await settle(pilot)
        settings = screen.service.settings(cid)
        assert settings.use_system_prompt is False
        assert "prompt raw" in status_text(screen)
        # A reply is still sampled (with no system prompt) and keeps the conversation's model.
        await send(pilot, "Raw question")
        await settle(pilot)
        assert screen.forest.current_path[-1].model_name == "alpha"
        # Clicking works like Enter: back to the default prompt.
        picker = await open_picker(pilot, screen)
        await pilot.click(picker.prompt_list, offset=(4, 1))
        await until(pilot, lambda: app.screen is screen, "the picker to close")
        await settle(pilot)
        assert screen.service.settings(cid) == ConversationSettings("", "", True)


async def test_escape_cancels_the_picker(two_models: GroveServer) -> None:
    async with explorer(two_models.address, size=SIZE) as (_, pilot, screen):
        cid = await first_exchange(pilot, screen, "Hello there")
        before = screen.service.settings(cid)
        status = status_text(screen)
        seen = len(notifications(pilot))
        await pick(pilot, screen, "down", "tab", "down", "down", "escape")
        assert screen.service.settings(cid) == before
        assert status_text(screen) == status
        assert len(notifications(pilot)) == seen, "nothing to report"
        # In a new conversation too.
        screen.thread.focus()
        await pilot.press("n")
        await settle(pilot)
        await pick(pilot, screen, "down", "escape")
        assert screen.settings == before


async def test_picker_shows_untrusted_config_text_literally(untrusted_config: GroveServer) -> None:
    async with explorer(untrusted_config.address, size=SIZE) as (app, pilot, screen):
        picker = await open_picker(pilot, screen)
        assert picker.prompt_names == ["", MARKUP_NAME, None]
        odd = picker.prompt_list.get_option_at_index(1).prompt
        assert odd.plain.startswith(f"  {MARKUP_NAME}  [bold red]x[/] red [link=")
        assert {str(span.style) for span in odd.spans} <= {"bold green", "bold", "dim"}
        drawn = rendered(picker.prompt_list) + rendered(picker.model_list)
        assert "[bold red]x[/]" in drawn and MARKUP_NAME in drawn and "[red]gamma[/]" in drawn
        assert "\x1b" not in drawn and "\x07" not in drawn
        # Choosing them keeps them literal in the status line, and the server accepts them.
        await pilot.press("down", "tab", "down", "enter")
        await until(pilot, lambda: app.screen is screen, "the picker to close")
        await settle(pilot)
        assert screen.settings == ConversationSettings("[red]gamma[/]", MARKUP_NAME, True)
        status = status_text(screen)
        assert "model [red]gamma[/]" in status and f"prompt {MARKUP_NAME}" in status
        await first_exchange(pilot, screen, "Hello")
        assert screen.forest.current_path[-1].model_name == "[red]gamma[/]"
        assert all("Traceback" not in m for _, m in notifications(pilot))


# -- Compare: a batch from another model -----------------------------------------------------


async def test_compare_batch_from_another_model(two_models: GroveServer) -> None:
    async with explorer(two_models.address, size=SIZE) as (app, pilot, screen):
        cid = await first_exchange(pilot, screen, "How do forests grow?")
        first = screen.forest.current_path[-1]
        screen.thread.focus()
        assert screen.thread.focus_message(first.response_id)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), "compare")
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, SamplingScreen), "params form")
        form = app.screen
        assert isinstance(form, SamplingScreen)
        models = form.query_one("#param-models", SelectionList)
        assert form.chosen_models == ["alpha"], "the conversation's model"
        # Choose beta instead with the keyboard: focus the list, untick alpha, tick beta.
        models.focus()
        await pilot.press("space", "down", "space")
        await until(pilot, lambda: form.chosen_models == ["beta"], "beta chosen")
        form.query_one("#param-max_tokens").value = "12"  # type: ignore[attr-defined]
        form.query_one("#param-temperature").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is compare
        assert compare.model_name == "beta"
        assert "R samples 4 x beta" in str(compare.query_one("#compare-status").content)
        await pilot.press("2", "R")
        await settle(pilot)
        new = compare.columns[1:]
        assert len(new) == 2
        for column in new:
            assert column.node.model_name == "beta" and not column.node.streaming
            assert "beta" in column.header.plain
        assert compare.columns[0].node.model_name == "alpha"
        # The conversation itself still samples from its own model.
        assert screen.service.settings(cid).model_name == ""
        # Choosing the conversation's model again drops the override.
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, SamplingScreen), "params form")
        form = app.screen
        assert isinstance(form, SamplingScreen)
        assert form.chosen_models == ["beta"], "the last choice"
        models = form.query_one("#param-models", SelectionList)
        models.deselect_all()
        models.select("alpha")
        await pilot.press("enter")
        await settle(pilot)
        assert compare.model_name is None and compare.fan_out.models == ()


# -- backend failures ------------------------------------------------------------------------


async def test_backend_failure_keeps_the_partial_reply(flaky: GroveServer) -> None:
    async with explorer(flaky.address, size=SIZE) as (app, pilot, screen):
        cid = await first_exchange(pilot, screen, "Hello forest")
        anchor = screen.forest.current_path[-1]
        screen.service.configure(cid, model_name="flaky")
        await send(pilot, "Tell me more")
        await settle(pilot)
        path = screen.forest.current_path
        leaf = path[-1]
        assert leaf.partial and leaf.message and not leaf.streaming
        assert leaf.model_name == "flaky"
        assert screen.thread.live_response_id is None and not screen.composer.busy
        shown = notifications(pilot)
        failures = [(t, m) for t, m in shown if t == BACKEND_FAILED]
        assert failures, shown
        assert "'flaky' backend broke off" in failures[-1][1]
        assert "partial reply was kept" in failures[-1][1]
        # A backend that fails before its first token: no reply stays "streaming".
        screen.service.configure(cid, model_name="down")
        app._notifications.clear()
        await send(pilot, "And again")
        await settle(pilot)
        assert screen.thread.live_response_id is None and screen.thread.live_reply is None
        assert not screen.composer.busy
        assert [n.sender for n in screen.forest.current_path[-2:]] == ["model", "human"]
        assert [t for t, _ in notifications(pilot)] == [BACKEND_FAILED]
        # In Compare: a batch from the flaky model keeps its partial columns; one from a
        # model that fails before writing anything leaves none.
        screen.service.configure(cid, model_name="")
        await settle(pilot)
        screen.thread.focus()
        assert screen.thread.focus_message(anchor.response_id)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), "compare")
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        compare.model_name = "flaky"
        await pilot.press("2", "R")
        await settle(pilot)
        assert len(compare.columns) == 3
        for column in compare.columns[1:]:
            assert column.node.partial and column.node.model_name == "flaky"
            assert column.text and not column.streaming
        compare.model_name = "down"
        app._notifications.clear()
        await pilot.press("2", "R")
        await settle(pilot)
        assert len(compare.columns) == 3, "failed before a token: no column"
        failures = [(t, m) for t, m in notifications(pilot) if t == BACKEND_FAILED]
        assert len(failures) == 1, "one notification per distinct sentence"
        assert "'down' backend broke off" in failures[0][1]
        assert "partial" not in failures[0][1]


def test_modes_say_what_a_model_does() -> None:
    from grove_explorer.app.screens.model_picker import modes_label

    assert modes_label(("chat",)) == "chat"
    assert modes_label(("chat", "completion")) == "chat + continues text"
    assert modes_label(("completion",)) == "continues text"
