"""The arena's setup form: two setups (model, temperature, top-p, seed) typed by keyboard.

Tab / Shift+Tab move between the fields, Enter starts the arena, Esc cancels. Empty
parameters leave the server's default. A value that is not a number is refused with a
notification naming the field; the form stays open with what was typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from grove_explorer.app.screens.dialogs import DIALOG_CSS
from grove_explorer.client.arena import Setup

FIELDS = ("model", "temperature", "top_p", "seed", "system")
NO_PROMPT = "none"
"""What the system field says for "no system prompt" (empty: the server's default)."""


def parse_setup(side: str, values: dict[str, str], prompts: Sequence[str] = ()) -> Setup:
    """A setup from the form's text; ValueError with a sentence naming the bad field.

    `prompts` are the server's system prompt names (empty: not checked here).
    """
    model = values.get("model", "").strip()
    if not model:
        raise ValueError(f"Setup {side} needs a model name.")
    system = values.get("system", "").strip()
    system_prompt_name: str | None = None if system == NO_PROMPT else system
    if system_prompt_name and prompts and system_prompt_name not in prompts:
        known = ", ".join(repr(p) for p in prompts)
        raise ValueError(
            f"Setup {side}: unknown system prompt {system!r}; known: {known}, or {NO_PROMPT}."
        )
    numbers: dict[str, float | int | None] = {}
    for name in ("temperature", "top_p"):
        text = values.get(name, "").strip()
        try:
            numbers[name] = float(text) if text else None
        except ValueError:
            raise ValueError(f"Setup {side}: {name} {text!r} is not a number.") from None
    text = values.get("seed", "").strip()
    try:
        numbers["seed"] = int(text) if text else None
    except ValueError:
        raise ValueError(f"Setup {side}: seed {text!r} is not a whole number.") from None
    return Setup(
        model_name=model,
        temperature=numbers["temperature"],
        top_p=numbers["top_p"],
        seed=numbers["seed"],  # type: ignore[arg-type]
        system_prompt_name=system_prompt_name,
    )


class ArenaSetupForm(ModalScreen[tuple[Setup, Setup] | None]):
    """Two setups side by side; returns them (None when cancelled)."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="ArenaSetupForm")
        + """
    ArenaSetupForm Grid {
        grid-size: 3;
        grid-columns: 13 1fr 1fr;
        grid-rows: 3;
        height: auto;
        margin-top: 1;
    }
    ArenaSetupForm Grid > Label {
        padding: 1 0 0 0;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, models: Sequence[str], first: Setup, second: Setup, prompts: Sequence[str] = ()
    ) -> None:
        """`models` are named in the hint; `first` / `second` fill the fields.

        `prompts` are the server's system prompt names (a typed name is checked).
        """
        super().__init__()
        self._models = list(models)
        self._initial = (first, second)
        self._prompts = list(prompts)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Blind arena: two setups", style="bold"))
            known = ", ".join(self._models) or "(none listed)"
            yield Static(
                Text(
                    "Both sample a reply under the node; you see them as A and B in random "
                    "order, without names, and vote. Empty fields: the server's default. "
                    f"Models: {known}. system: a prompt name, empty for the default, "
                    f"{NO_PROMPT} for none. Enter starts, Esc cancels.",
                    style="dim",
                )
            )
            with Grid():
                yield Label("")
                yield Label(Text("setup 1", style="bold"))
                yield Label(Text("setup 2", style="bold"))
                for name in FIELDS:
                    yield Label(name)
                    for index, setup in enumerate(self._initial):
                        yield Input(
                            value=_initial_text(setup, name),
                            placeholder="default",
                            id=f"arena-{index}-{name}",
                        )

    def on_mount(self) -> None:
        self.query_one("#arena-0-model", Input).focus()

    @on(Input.Submitted)
    def _submit(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        """Dismisses with both setups, or notifies what is wrong and stays open."""
        setups = []
        for index in (0, 1):
            values = {
                name: self.query_one(f"#arena-{index}-{name}", Input).value for name in FIELDS
            }
            try:
                setups.append(parse_setup(str(index + 1), values, self._prompts))
            except ValueError as error:
                self.notify(str(error), severity="warning", markup=False)
                return
        self.dismiss((setups[0], setups[1]))

    def action_cancel(self) -> None:
        """Closes without starting the arena."""
        self.dismiss(None)


def _initial_text(setup: Setup, name: str) -> str:
    if name == "system":
        return NO_PROMPT if setup.system_prompt_name is None else setup.system_prompt_name
    value = {
        "model": setup.model_name,
        "temperature": setup.temperature,
        "top_p": setup.top_p,
        "seed": setup.seed,
    }[name]
    return "" if value is None else str(value)
