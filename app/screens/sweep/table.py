"""The results of a sweep: one row per cell, sortable, Enter opens its samples in Compare.

Enter opens Compare on the cell's samples alone: the node's other siblings start hidden,
counted in Compare's status line under the cell's name, and X there shows them. Model
names and errors come from the server: they are `clean()`ed and drawn as inert `Text`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from grove_explorer.app.safe_text import clean
from grove_explorer.client.service import ConversationService
from grove_explorer.client.sweeps import DEFAULT_PROMPT_WORD, CellRow, SweepResult, cell_rows


def cell_label(row: CellRow) -> str:
    """A cell's settings in one line, e.g. "grok-4 · T 0.2 · top-p 0.9 · prompt terse"."""
    parts = [
        clean(row.key.model),
        f"T {_setting(row.key.temperature)}",
        f"top-p {_setting(row.key.top_p)}",
    ]
    if row.key.system_prompt is not None:
        parts.append(f"prompt {_prompt(row.key.system_prompt)}")
    return " · ".join(parts)


def _setting(value: float | None) -> str:
    return "default" if value is None else f"{value:g}"


def _figure(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _prompt(value: str | None) -> str:
    return "-" if value is None else clean(value) or DEFAULT_PROMPT_WORD


def _low(value: float | None) -> float:
    """Sort key: unknown figures last whichever way."""
    return float("-inf") if value is None else value


COLUMNS: tuple[tuple[str, Callable[[CellRow], object], Callable[[CellRow], str]], ...] = (
    ("model", lambda r: r.key.model, lambda r: clean(r.key.model)),
    ("T", lambda r: _low(r.key.temperature), lambda r: _setting(r.key.temperature)),
    ("top-p", lambda r: _low(r.key.top_p), lambda r: _setting(r.key.top_p)),
    ("prompt", lambda r: r.key.system_prompt or "", lambda r: _prompt(r.key.system_prompt)),
    ("n", lambda r: r.n, lambda r: str(r.n)),
    ("failed", lambda r: r.failed, lambda r: str(r.failed)),
    ("tokens", lambda r: _low(r.mean_tokens), lambda r: _figure(r.mean_tokens, 1)),
    ("logprob", lambda r: _low(r.mean_logprob), lambda r: _figure(r.mean_logprob, 3)),
    ("words", lambda r: _low(r.mean_words), lambda r: _figure(r.mean_words, 1)),
    ("TTFT s", lambda r: _low(r.mean_ttft), lambda r: _figure(r.mean_ttft, 2)),
    ("latency s", lambda r: _low(r.mean_latency), lambda r: _figure(r.mean_latency, 2)),
    ("score", lambda r: _low(r.mean_score), lambda r: _figure(r.mean_score, 1)),
)


FIRST_FIGURE = 4
"""Columns from here on are figures (n onwards): right-aligned."""


class SweepTableScreen(Screen[None]):
    """One row per cell of a finished sweep."""

    DEFAULT_CSS = """
    SweepTableScreen DataTable {
        height: 1fr;
    }
    SweepTableScreen #sweep-summary {
        height: auto;
        padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="sweep_table_close"),
        Binding("enter", "open_cell", "Compare cell", id="sweep_table_open", priority=True),
        Binding("s", "sort_next", "Sort", id="sweep_table_sort", tooltip="Sort by the next column"),
        Binding("S", "sort_reverse", "Reverse", id="sweep_table_reverse"),
    ]

    def __init__(
        self, service: ConversationService, conversation_id: str, result: SweepResult
    ) -> None:
        """Shows `result`, a sweep of the conversation."""
        super().__init__()
        self.service = service
        self.conversation_id = conversation_id
        self.result = result
        self.rows = cell_rows(result.outcomes)
        self.sort_column = -1  # the plan's order
        self.descending = False

    def compose(self) -> ComposeResult:
        yield Static(self._summary(), id="sweep-summary")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="sweep-table")
        yield Footer()

    def _summary(self) -> Text:
        result = self.result
        made = len(result.outcomes) - result.skipped - result.failed
        text = Text(
            f"{len(self.rows)} cells: {made} samples made, {result.skipped} skipped (done "
            f"before), {result.failed} failed. ",
            style="bold",
        )
        if self.sort_column >= 0:
            order = "descending" if self.descending else "ascending"
            text.append(f"Sorted by {COLUMNS[self.sort_column][0]}, {order}. ")
        text.append(
            "Enter opens Compare on the cell's samples (X there shows the node's other siblings).",
            style="dim",
        )
        for row in self.rows:
            if row.errors:
                text.append(f"\n{clean(row.key.model)}: {clean(row.errors[0])}", style="red")
        if result.judge_error:
            text.append(f"\njudging failed: {clean(result.judge_error)}", style="red")
        return text

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name, _, _ in COLUMNS:
            table.add_column(name, key=name)
        self._fill()
        table.focus()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for index, row in enumerate(self.rows):
            cells = [
                Text(show(row), justify="right" if number >= FIRST_FIGURE else "left")
                for number, (_, _, show) in enumerate(COLUMNS)
            ]
            table.add_row(*cells, key=str(index))
        self.query_one("#sweep-summary", Static).update(self._summary())

    def _sort(self) -> None:
        key = COLUMNS[self.sort_column][1]
        self.rows.sort(key=key, reverse=self.descending)  # type: ignore[arg-type]
        self._fill()

    def sort_by(self, column: str, *, descending: bool = False) -> None:
        """Sorts by the column named `column` (as its header reads)."""
        self.sort_column = [name for name, _, _ in COLUMNS].index(column)
        self.descending = descending
        self._sort()

    def action_sort_next(self) -> None:
        """Sorts by the next column (ascending)."""
        self.sort_column = (self.sort_column + 1) % len(COLUMNS)
        self.descending = False
        self._sort()

    def action_sort_reverse(self) -> None:
        """Reverses the order (sorting by the first column if none was chosen)."""
        self.sort_column = max(self.sort_column, 0)
        self.descending = not self.descending
        self._sort()

    def current_row(self) -> CellRow | None:
        """The cell under the cursor."""
        table = self.query_one(DataTable)
        if not self.rows:
            return None
        return self.rows[min(table.cursor_row, len(self.rows) - 1)]

    def action_open_cell(self) -> None:
        """Opens Compare on the cell's samples (the node's other siblings start hidden)."""
        row = self.current_row()
        if row is None or not row.response_ids:
            self.notify("This cell has no samples (all failed).", severity="warning")
            return
        from grove_explorer.app.screens.compare import CompareScreen

        self.app.push_screen(
            CompareScreen(
                self.service,
                self.conversation_id,
                row.response_ids[0],
                only=row.response_ids,
                only_label=f"cell {cell_label(row)}",
            )
        )

    def action_close(self) -> None:
        """Back to the explorer."""
        self.app.pop_screen()
