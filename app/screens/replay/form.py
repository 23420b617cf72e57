"""The replay form: which model, system prompt and parameters replay a path.

Modal and keyboard-only (Tab between fields, Enter replays, Esc cancels). The model and
system prompt come from the server's catalog when it answered; the parameters are typed
and checked here, so a bad temperature is said at once and nothing is sampled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from grove_explorer.app.safe_text import clean
from grove_explorer.app.screens.dialogs import DIALOG_CSS


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    """What the form returns: the model, the prompt (None: the conversation's), parameters."""

    model_name: str
    system_prompt_name: str | None = None
    temperature: float | None = None
    seed: int | None = None
    # True: replay from the focused message to the path's end (the path above is shared);
    # False: the path from the root to the focused message.
    from_here: bool = False


class ReplayFormScreen(ModalScreen[ReplaySettings | None]):
    """Model, system prompt and parameters of a replay; None when cancelled.

    `turns` counts the responses of the path root → the focused message; `turns_on` those
    of the focused message → the path's end (0: no such choice, the message is the end).
    """

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="ReplayFormScreen")
        + """
    ReplayFormScreen Grid {
        grid-size: 2;
        grid-columns: 14 1fr;
        grid-rows: 3;
        height: auto;
        margin-top: 1;
    }
    ReplayFormScreen Grid > Label {
        padding: 1 0 0 0;
    }
    ReplayFormScreen #replay-error {
        color: $error;
        height: auto;
    }
    ReplayFormScreen Select > SelectCurrent {
        margin-top: 0;
        align-horizontal: left;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        turns: int,
        models: Sequence[str] = (),
        model_name: str = "",
        prompts: Sequence[str] = (),
        turns_on: int = 0,
    ) -> None:
        super().__init__()
        self._turns = turns
        self._turns_on = turns_on
        names = list(dict.fromkeys(models))
        if model_name and model_name not in names:
            names.append(model_name)
        self._models = names
        self._model_name = model_name or (names[0] if names else "")
        self._prompts = list(dict.fromkeys(prompts))

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Replay a path under another setup", style="bold"))
            yield Static(
                Text(
                    "Human turns are copied; every model turn is sampled again by the model "
                    "below, reading the new branch. Both branches stay in the tree.",
                    style="dim",
                )
            )
            with Grid():
                yield Label("path")
                choices = [(f"the root → this message ({self._turns} responses)", False)]
                if self._turns_on:
                    choices.append(
                        (f"this message → the path's end ({self._turns_on} responses)", True)
                    )
                yield Select(choices, value=False, allow_blank=False, id="replay-start")
                yield Label("model")
                if self._models:
                    yield Select(
                        [(Text(clean(name)), name) for name in self._models],
                        value=self._model_name,
                        allow_blank=False,
                        id="replay-model",
                    )
                else:
                    yield Input(self._model_name, placeholder="model name", id="replay-model")
                yield Label("system prompt")
                yield Select(
                    [(Text(clean(name) or "(default)"), name) for name in self._prompts],
                    prompt="the conversation's",
                    id="replay-prompt",
                )
                yield Label("temperature")
                yield Input(placeholder="the model's default", id="replay-temperature")
                yield Label("seed")
                yield Input(placeholder="none", id="replay-seed")
            yield Static("", id="replay-error", markup=False)
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Replay", id="replay", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#replay-start").focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#replay")
    def _submit(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def _model(self) -> str:
        field = self.query_one("#replay-model")
        if isinstance(field, Select):
            value = field.value
            return value if isinstance(value, str) else self._model_name
        assert isinstance(field, Input)
        return field.value.strip()

    def _problem(self, temperature: str, seed: str) -> str:
        if not self._model():
            return "Name the model to replay with."
        if temperature:
            try:
                value = float(temperature)
            except ValueError:
                return f"The temperature must be a number, not {clean(temperature)!r}."
            if not math.isfinite(value) or value < 0:
                return "The temperature must be a number of 0 or more."
        if seed and not (seed.isdigit() and int(seed) < 2**63):
            return f"The seed must be a whole number from 0 to 2^63 - 1, not {clean(seed)!r}."
        return ""

    def action_submit(self) -> None:
        """Dismisses with the settings, or says what is wrong."""
        temperature = self.query_one("#replay-temperature", Input).value.strip()
        seed = self.query_one("#replay-seed", Input).value.strip()
        problem = self._problem(temperature, seed)
        if problem:
            self.query_one("#replay-error", Static).update(Text(problem))
            self.app.bell()
            return
        prompt = self.query_one("#replay-prompt", Select).value
        start = self.query_one("#replay-start", Select).value
        self.dismiss(
            ReplaySettings(
                self._model(),
                prompt if isinstance(prompt, str) else None,
                float(temperature) if temperature else None,
                int(seed) if seed else None,
                from_here=start is True,
            )
        )

    def action_cancel(self) -> None:
        """Closes without replaying."""
        self.dismiss(None)
