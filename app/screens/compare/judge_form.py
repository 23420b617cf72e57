"""The judge form of the Compare screen (`J`) and the rationale view (`W`).

`JudgeScreen` picks the judge model, a named rubric of the server or criteria typed
here (which win), and the mode; it returns a `JudgeChoice` (None when cancelled).
`RationaleScreen` shows a reply's judgements in full: score, judge, rubric, mode, time
and rationale, the newest first. Every text from the server (model names, rubrics,
rationales) is `clean()`ed and drawn as inert `Text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from grove_explorer.app.safe_text import clean
from grove_explorer.app.screens.dialogs import DIALOG_CSS
from grove_explorer.app.widgets.judgement_badge import HEURISTIC_NOTE
from grove_explorer.client.catalog import RubricInfo
from grove_explorer.client.judgements import JUDGE_MODES, Judgement, JudgeMode


@dataclass(frozen=True, slots=True)
class JudgeChoice:
    """What the judge form returns: judge, rubric (or typed criteria) and mode."""

    model_name: str
    rubric_name: str = ""
    criteria: str = ""
    mode: JudgeMode = "each"

    @property
    def rubric_label(self) -> str:
        """The rubric as the status names it."""
        return "typed criteria" if self.criteria else (self.rubric_name or "default")


class JudgeScreen(ModalScreen[JudgeChoice | None]):
    """The form `J` opens: judge model, rubric or typed criteria, mode."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="JudgeScreen")
        + """
    JudgeScreen Grid {
        grid-size: 2;
        grid-columns: 12 1fr;
        grid-rows: 3;
        height: auto;
        margin-top: 1;
    }
    JudgeScreen Grid > Label {
        padding: 1 0 0 0;
    }
    JudgeScreen Select > SelectCurrent {
        margin-top: 0;
        align-horizontal: left;
    }
    """
    )
    # Ctrl+S submits from any field: Enter on a Select opens its list instead.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Judge", priority=True),
    ]

    def __init__(
        self,
        models: Sequence[str],
        model_name: str,
        rubrics: Sequence[RubricInfo],
        count: int,
    ) -> None:
        """`models` to choose the judge from, `model_name` first chosen, `count` replies."""
        super().__init__()
        self._models = list(dict.fromkeys([*models, model_name] if model_name else models))
        self._model_name = model_name or (self._models[0] if self._models else "")
        names = [r.name for r in rubrics] or ["default"]
        self._rubrics = list(dict.fromkeys(names))
        self._count = count

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Judge {self._count} shown replies", style="bold"))
            yield Static(
                Text(
                    "A judge model scores each reply 0-10 with a short rationale; the scores "
                    "are stored with the replies. Typed criteria replace the rubric. each: "
                    "one call per reply (in parallel); table: one call sees all.",
                    style="dim",
                )
            )
            with Grid():
                yield Label("judge")
                yield Select(
                    [(Text(clean(name)), name) for name in self._models],
                    value=self._model_name,
                    allow_blank=False,
                    id="judge-model",
                )
                yield Label("rubric")
                yield Select(
                    [(Text(clean(name)), name) for name in self._rubrics],
                    value=self._rubrics[0],
                    allow_blank=False,
                    id="judge-rubric",
                )
                yield Label("criteria")
                yield Input(placeholder="optional: your own rubric text", id="judge-criteria")
                yield Label("mode")
                yield Select(
                    [(mode, mode) for mode in JUDGE_MODES],
                    value="each",
                    allow_blank=False,
                    id="judge-mode",
                )
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Judge", id="judge", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#judge-model", Select).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#judge")
    def _submit(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.action_cancel()

    def action_submit(self) -> None:
        """Dismisses with the choice."""
        model = self.query_one("#judge-model", Select).value
        rubric = self.query_one("#judge-rubric", Select).value
        mode = self.query_one("#judge-mode", Select).value
        criteria = self.query_one("#judge-criteria", Input).value.strip()
        self.dismiss(
            JudgeChoice(
                model_name=model if isinstance(model, str) else self._model_name,
                rubric_name=rubric if isinstance(rubric, str) else "",
                criteria=criteria,
                mode="table" if mode == "table" else "each",
            )
        )

    def action_cancel(self) -> None:
        """Closes without judging."""
        self.dismiss(None)


def rationale_text(judgements: Sequence[Judgement]) -> Text:
    """Every judgement of a reply, newest first, as inert text."""
    text = Text()
    for index, judgement in enumerate(reversed(judgements)):
        if index:
            text.append("\n\n")
        text.append(f"★ {judgement.score:.1f}", style="bold")
        text.append(f"  {clean(judgement.judge_model)}")
        if judgement.heuristic:
            text.append(f" {HEURISTIC_NOTE}", style="italic")
        when = judgement.create_time.strftime("%Y-%m-%d %H:%M") if judgement.create_time else ""
        text.append(
            f"\nrubric {clean(judgement.rubric_label)} · {judgement.mode} mode · {when}",
            style="dim",
        )
        text.append("\n" + clean(judgement.rationale or "(no rationale)"))
    return text


class RationaleScreen(ModalScreen[None]):
    """A reply's judgements in full (`W` in Compare); Esc closes."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="RationaleScreen")
        + """
    RationaleScreen VerticalScroll {
        height: auto;
        max-height: 30;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,W", "close", "Close"),
    ]

    def __init__(self, title: str, judgements: Sequence[Judgement]) -> None:
        super().__init__()
        self._title = title
        self._judgements = list(judgements)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self._title, style="bold"))
            with VerticalScroll():
                yield Static(rationale_text(self._judgements), id="rationale")
            with Horizontal():
                yield Button("Close", id="close", variant="primary")

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.action_close()

    def action_close(self) -> None:
        """Closes the view."""
        self.dismiss(None)
