"""The sweep form: the grid's axes as comma lists, seeds, concurrency, optional rubric.

Checked by the same planner as `grove sweep` (`client.sweeps.plan`): a bad axis or a
grid over the cap is said in the form (with the count) and nothing is lost — the form
stays open with what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from grove_explorer.app.screens.dialogs import DIALOG_CSS
from grove_explorer.client.sweeps import (
    DEFAULT_PROMPT_WORD,
    MAX_SAMPLES,
    SweepError,
    SweepSpec,
    parse_names,
    parse_numbers,
    parse_prompts,
    plan,
)


@dataclass(frozen=True, slots=True)
class SweepRequest:
    """What the form returns: the checked grid and the rubric to judge with ("" none)."""

    spec: SweepSpec
    rubric_name: str = ""

    @property
    def samples(self) -> int:
        """How many samples the grid holds (cells x seeds)."""
        return len(plan(self.spec))


def _count(label: str, text: str, default: int) -> int:
    if not text.strip():
        return default
    try:
        return int(text)
    except ValueError:
        raise SweepError(f"{label} takes a whole number, not {text!r}.") from None


class SweepFormScreen(ModalScreen[SweepRequest | None]):
    """The form `W` opens on a node of the explorer."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="SweepFormScreen")
        + """
    SweepFormScreen Grid {
        grid-size: 2;
        grid-columns: 16 1fr;
        grid-rows: 3;
        height: auto;
        margin-top: 1;
    }
    SweepFormScreen Grid > Label {
        padding: 1 0 0 0;
    }
    SweepFormScreen #sweep-error {
        color: $error;
        height: auto;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="sweep_form_cancel"),
        Binding("ctrl+s", "submit", "Run sweep", id="sweep_form_run"),
    ]

    def __init__(self, model_name: str) -> None:
        """`model_name` fills the models field (the model of the node's path)."""
        super().__init__()
        self._model_name = model_name

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Sweep parameters at this node", style="bold"))
            yield Static(
                Text(
                    "Every combination of the axes (comma lists; blank: the model's "
                    f"default), each with seeds S..S+N-1, at most {MAX_SAMPLES} samples. "
                    f"Prompts are named system prompts ('{DEFAULT_PROMPT_WORD}': the "
                    "server's). Samples already made by the same sweep are skipped.",
                    style="dim",
                )
            )
            with Grid():
                yield Label("models")
                yield Input(self._model_name, id="sweep-models")
                yield Label("temperatures")
                yield Input(placeholder="e.g. 0.2, 0.8", id="sweep-temperatures")
                yield Label("top-p")
                yield Input(placeholder="e.g. 0.9, 1", id="sweep-top-ps")
                yield Label("system prompts")
                yield Input(placeholder="e.g. default, fun", id="sweep-prompts")
                yield Label("seeds")
                yield Input("2", id="sweep-seeds")
                yield Label("first seed")
                yield Input("0", id="sweep-seed")
                yield Label("max tokens")
                yield Input(placeholder="the model's default", id="sweep-max-tokens")
                yield Label("concurrency")
                yield Input("4", id="sweep-concurrency")
                yield Label("rubric")
                yield Input(placeholder="optional: judge every reply", id="sweep-rubric")
            yield Static("", id="sweep-error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Run", id="run", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#sweep-temperatures", Input).focus()

    def _text(self, name: str) -> str:
        return self.query_one(f"#sweep-{name}", Input).value

    def request(self) -> SweepRequest:
        """The typed grid, checked (`SweepError` says what is wrong)."""
        models = parse_names(self._text("models"))
        if models is None:
            raise SweepError("models: name at least one model.")
        max_tokens = self._text("max-tokens")
        spec = SweepSpec(
            models=models,
            temperatures=parse_numbers("temperatures", self._text("temperatures")),
            top_ps=parse_numbers("top-p", self._text("top-ps")),
            system_prompts=parse_prompts(self._text("prompts")),
            seeds=_count("seeds", self._text("seeds"), 1),
            base_seed=_count("first seed", self._text("seed"), 0),
            max_tokens=_count("max tokens", max_tokens, 0) if max_tokens.strip() else None,
            concurrency=_count("concurrency", self._text("concurrency"), 4),
        )
        plan(spec)
        return SweepRequest(spec, self._text("rubric").strip())

    @on(Input.Submitted)
    @on(Button.Pressed, "#run")
    def _submit(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.action_cancel()

    def action_submit(self) -> None:
        """Dismisses with the checked request, or says in the form what is wrong."""
        try:
            request = self.request()
        except SweepError as error:
            self.query_one("#sweep-error", Static).update(Text(str(error)))
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        """Closes without sweeping."""
        self.dismiss(None)
