"""The fuse forms of the compare screen: how to fuse, and which points a checklist keeps.

`FuseScreen` asks for the mode (fuse, checklist, custom), the custom instruction and the
model that writes the fused reply; `PointsScreen` shows the points the replies make
(ExtractPoints) as a checklist, every one checked, and returns the checked ones. Both
are modal and keyboard-only; point texts come from a model and are shown as plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from grove_explorer.app.safe_text import clean
from grove_explorer.app.screens.dialogs import DIALOG_CSS
from grove_explorer.client.judgements import MERGE_MODES, ExtractedPoints, MergeMode

MODE_HELP: dict[str, str] = {
    "fuse": "Synthesise the best single answer from the samples.",
    "checklist": "List the points the samples make, check some, write from those.",
    "custom": "Follow your instruction, with the samples as material.",
}


@dataclass(frozen=True, slots=True)
class FuseSettings:
    """What the fuse form returns: the mode, the custom instruction, the writing model."""

    mode: MergeMode
    instruction: str = ""
    model_name: str | None = None


class FuseScreen(ModalScreen[FuseSettings | None]):
    """Mode, instruction and model of a fusion of `count` samples; None when cancelled."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="FuseScreen")
        + """
    FuseScreen Grid {
        grid-size: 2;
        grid-columns: 14 1fr;
        grid-rows: 3;
        height: auto;
        margin-top: 1;
    }
    FuseScreen Grid > Label {
        padding: 1 0 0 0;
    }
    FuseScreen #fuse-error {
        color: $error;
        height: auto;
    }
    FuseScreen Select > SelectCurrent {
        margin-top: 0;
        align-horizontal: left;
    }
    """
    )
    # Ctrl+S submits from any field: Enter on a Select opens its list instead.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Fuse", priority=True),
    ]

    def __init__(self, count: int, models: Sequence[str] = (), model_name: str = "") -> None:
        super().__init__()
        self._count = count
        names = list(dict.fromkeys(models))
        if names and model_name and model_name not in names:
            names.append(model_name)
        self._models = names
        self._model_name = model_name if model_name in names else (names[0] if names else "")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Fuse {self._count} samples into a new reply", style="bold"))
            yield Static(Text(MODE_HELP["fuse"], style="dim"), id="fuse-help")
            with Grid():
                yield Label("mode")
                yield Select(
                    [(mode, mode) for mode in MERGE_MODES],
                    value="fuse",
                    allow_blank=False,
                    id="fuse-mode",
                )
                yield Label("instruction")
                yield Input(placeholder="custom mode: what to do with the samples", id="fuse-text")
                if self._models:
                    yield Label("model")
                    yield Select(
                        [(Text(clean(name)), name) for name in self._models],
                        value=self._model_name,
                        allow_blank=False,
                        id="fuse-model",
                    )
            yield Static("", id="fuse-error", markup=False)
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Fuse", id="fuse", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#fuse-mode", Select).focus()

    @property
    def mode(self) -> MergeMode:
        """The mode chosen."""
        value = self.query_one("#fuse-mode", Select).value
        return next((mode for mode in MERGE_MODES if mode == value), "fuse")

    @on(Select.Changed, "#fuse-mode")
    def _mode_changed(self) -> None:
        self.query_one("#fuse-help", Static).update(Text(MODE_HELP[self.mode], style="dim"))

    @on(Input.Submitted)
    @on(Button.Pressed, "#fuse")
    def _submit(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_submit(self) -> None:
        """Dismisses with the settings, or says what is missing."""
        mode = self.mode
        instruction = self.query_one("#fuse-text", Input).value.strip()
        problem = ""
        if mode == "custom" and not instruction:
            problem = "The custom mode needs an instruction."
        elif mode != "custom" and instruction:
            problem = f"Only the custom mode takes an instruction (this is {mode})."
        if problem:
            self.query_one("#fuse-error", Static).update(Text(problem))
            self.app.bell()
            return
        model: str | None = None
        if self._models:
            value = self.query_one("#fuse-model", Select).value
            model = value if isinstance(value, str) else self._model_name
        self.dismiss(FuseSettings(mode, instruction, model))

    def action_cancel(self) -> None:
        """Closes without fusing."""
        self.dismiss(None)


class PointsScreen(ModalScreen[list[str] | None]):
    """The replies' points as a checklist (all checked); returns the checked ones.

    Space toggles the highlighted point, Enter fuses from the checked ones (at least
    one), Esc cancels. Each point says how many of the samples make it.
    """

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="PointsScreen")
        + """
    PointsScreen SelectionList {
        height: auto;
        max-height: 20;
        margin-top: 1;
    }
    PointsScreen #points-error {
        color: $error;
        height: auto;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "submit", "Fuse from checked", priority=True),
    ]

    def __init__(self, points: ExtractedPoints, sources: int) -> None:
        super().__init__()
        self._points = points
        self._sources = sources

    def compose(self) -> ComposeResult:
        count = len(self._points.points)
        with Vertical():
            yield Label(Text(f"{count} points of {self._sources} samples", style="bold"))
            how = (
                "The offline demo lists the sentences the samples share."
                if self._points.heuristic
                else "Space checks or unchecks a point; Enter writes from the checked ones."
            )
            yield Static(Text(how, style="dim"))
            yield SelectionList[int](
                *(
                    Selection(
                        Text(f"{clean(point.text)}  ({len(point.response_ids)}/{self._sources})"),
                        index,
                        True,
                    )
                    for index, point in enumerate(self._points.points)
                ),
                id="points",
            )
            yield Static("", id="points-error", markup=False)
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Fuse from checked", id="use", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#points", SelectionList).focus()

    @property
    def checked(self) -> list[str]:
        """The checked points' texts, in the order listed."""
        chosen = set(self.query_one("#points", SelectionList).selected)
        return [p.text for i, p in enumerate(self._points.points) if i in chosen]

    @on(Button.Pressed, "#use")
    def _use_pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_submit(self) -> None:
        """Dismisses with the checked points (at least one)."""
        checked = self.checked
        if not checked:
            self.query_one("#points-error", Static).update(
                Text("Check at least one point (Space), or Esc to cancel.")
            )
            self.app.bell()
            return
        self.dismiss(checked)

    def action_cancel(self) -> None:
        """Closes without fusing."""
        self.dismiss(None)
