"""The replay view: the original path and its replay, turn by turn, side by side.

Each row is one turn: the original on the left, the response replaying it on the right;
a re-sampled model turn shows its word diff against the original (green: words the
original lacks there, yellow: words standing where the original says something else).
Up / down (j / k) move between turns, Enter continues the conversation from the
replayed leaf, Esc goes back. Every text comes from a model or a person and is shown
as plain, cleaned text (never markup).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from grove_explorer.app.diffing import word_diff
from grove_explorer.app.replay_marks import REPLAY_MARK
from grove_explorer.app.safe_text import clean
from grove_explorer.app.widgets.sample_column import diff_text
from grove_explorer.client.ids import short_id

if TYPE_CHECKING:
    from grove_explorer.client.models import ResponseNode
    from grove_explorer.client.replaying import ReplayResult


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """One turn of the view: the original and its replay (either may be None)."""

    original: ResponseNode | None
    replayed: ResponseNode | None


def replay_rows(responses: dict[str, ResponseNode], result: ReplayResult) -> list[ReplayRow]:
    """The rows of a replay in path order; a reply that replays nothing has no original."""
    rows = [
        ReplayRow(responses.get(turn.original_id), responses.get(turn.replayed_id))
        for turn in result.turns
    ]
    rows.extend(ReplayRow(None, responses.get(extra)) for extra in result.extra_ids)
    return rows


def _side(node: ResponseNode | None, reference: ResponseNode | None) -> Text:
    """One side of a row: who wrote it and its text (a replayed reply diffed)."""
    if node is None:
        return Text("(nothing)", style="dim italic")
    who = "human" if node.sender == "human" else clean(node.model_name) or "model"
    head = Text(f"{who} · {short_id(node.response_id)}\n", style="bold")
    if node.sender == "model" and reference is not None and reference.sender == "model":
        body = diff_text(
            node.message, word_diff(clean(reference.message), clean(node.message)), 0, marker=False
        )
    else:
        body = Text(clean(node.message))
    return head + body


class ReplayScreen(Screen[str | None]):
    """The two paths turn by turn; dismisses with the replayed leaf (Enter) or None (Esc)."""

    DEFAULT_CSS = """
    ReplayScreen #replay-title {
        height: auto;
        padding: 0 1;
        background: $panel;
    }
    ReplayScreen .replay-row {
        height: auto;
        border-bottom: hkey $panel-lighten-2;
    }
    ReplayScreen .replay-row.-current {
        background: $boost;
        border-left: thick $accent;
    }
    ReplayScreen .replay-side {
        width: 1fr;
        padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "move(1)", "Next turn", id="replay_next"),
        Binding("up,k", "move(-1)", "Prev turn", id="replay_prev"),
        Binding("enter", "continue_replay", "Continue here", id="replay_continue"),
        Binding("escape", "close", "Back", id="replay_close"),
    ]

    def __init__(self, responses: dict[str, ResponseNode], result: ReplayResult) -> None:
        super().__init__()
        self.result = result
        self.rows = replay_rows(responses, result)
        self.current = 0

    def _title(self) -> Text:
        result = self.result
        prompt = result.system_prompt_name
        setup = clean(result.model_name) or "the default model"
        if prompt is not None:
            setup += f", system prompt {clean(prompt) or '(default)'}"
        total = len(self.rows)
        where = f"turn {self.current + 1} of {total}" if total else "nothing was replayed"
        title = Text(f"{REPLAY_MARK} Replay under {setup}", style="bold")
        title.append(f" · {where} · original left, replay right", style="dim")
        return title

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="replay-title")
        with VerticalScroll(id="replay-rows"):
            for index, row in enumerate(self.rows):
                with Horizontal(classes="replay-row", id=f"replay-row-{index}"):
                    yield Static(_side(row.original, None), classes="replay-side")
                    yield Static(_side(row.replayed, row.original), classes="replay-side")
        yield Footer()

    def on_mount(self) -> None:
        self._show_current()

    def _show_current(self) -> None:
        for index in range(len(self.rows)):
            row = self.query_one(f"#replay-row-{index}")
            row.set_class(index == self.current, "-current")
            if index == self.current:
                row.scroll_visible(animate=False)
        self.query_one("#replay-title", Static).update(self._title())

    def action_move(self, step: int) -> None:
        """Moves to the next / previous turn."""
        if self.rows:
            self.current = max(0, min(len(self.rows) - 1, self.current + step))
            self._show_current()

    def action_continue_replay(self) -> None:
        """Goes back to the explorer on the replayed leaf, to continue from there."""
        self.dismiss(self.result.leaf_id)

    def action_close(self) -> None:
        """Goes back to the explorer where it was."""
        self.dismiss(None)
