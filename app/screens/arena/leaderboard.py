"""The arena leaderboard screen (`L` in the arena, or "Arena leaderboard" in Ctrl+P).

The user's votes (of one conversation, or all) ranked by `client/arena_ratings.py`:
rating, 95 % bootstrap interval, votes, wins / ties / losses / both bad. `m` switches
between Bradley-Terry and Elo; `c` between this conversation's votes and all of them.
Setup names are the user's text through the server: cleaned, drawn as inert Text.
"""

from __future__ import annotations

import math
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from grove_explorer.app.safe_text import clean
from grove_explorer.app.workers import run_service_call
from grove_explorer.client.arena import Vote
from grove_explorer.client.arena_ratings import Leaderboard, Method, leaderboard
from grove_explorer.client.service import ConversationService

COLUMNS = ("rank", "setup", "rating", "95% CI", "votes", "W", "T", "L", "both bad")


def _number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def board_rows(board: Leaderboard) -> list[tuple[str | Text, ...]]:
    """The table's rows: the setup name as inert text, numbers as plain strings."""
    return [
        (
            str(s.rank),
            Text(clean(s.key)),
            _number(s.rating),
            f"{_number(s.ci_low)}..{_number(s.ci_high)}",
            str(s.votes),
            str(s.wins),
            str(s.ties),
            str(s.losses),
            str(s.both_bad),
        )
        for s in board.standings
    ]


class LeaderboardScreen(Screen[None]):
    """The ranked setups of the user's arena votes."""

    DEFAULT_CSS = """
    LeaderboardScreen #leaderboard-title { padding: 0 1; background: $panel; }
    LeaderboardScreen #leaderboard-note { padding: 0 1; color: $text-muted; }
    LeaderboardScreen DataTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="leaderboard_close"),
        Binding("m", "method", "BT / Elo", id="leaderboard_method"),
        Binding("c", "scope", "This / all", id="leaderboard_scope"),
    ]

    def __init__(self, service: ConversationService, conversation_id: str = "") -> None:
        super().__init__()
        self._service = service
        self._conversation_id = conversation_id
        self._all = not conversation_id
        self._method: Method = "bt"
        self._votes: list[Vote] = []

    def compose(self) -> ComposeResult:
        yield Static(id="leaderboard-title")
        yield DataTable(id="leaderboard", cursor_type="row", zebra_stripes=True)
        yield Static(id="leaderboard-note")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.focus()
        self._load()

    def _load(self) -> None:
        scope = "" if self._all else self._conversation_id

        async def votes() -> list[Vote]:
            client = await self._service.connected()
            return await client.grok.list_votes(scope)

        run_service_call(self, votes(), done=self._show, name="arena votes")

    def _show(self, votes: list[Vote]) -> None:
        self._votes = votes
        self._draw()

    def _draw(self) -> None:
        board = leaderboard(self._votes, self._method)
        table = self.query_one(DataTable)
        table.clear()
        for row in board_rows(board):
            table.add_row(*row)
        method = "Bradley-Terry" if self._method == "bt" else "Elo"
        scope = "all conversations" if self._all else "this conversation"
        self.query_one("#leaderboard-title", Static).update(
            Text(f"Arena leaderboard · {method} · {scope}", style="bold")
        )
        note = (
            f"{board.votes} votes; 95% intervals from {board.bootstrap_rounds} bootstrap "
            "resamples; both bad counts as a tie for the ratings."
            if board.votes
            else "No arena votes here yet: press A on a message in the explorer."
        )
        self.query_one("#leaderboard-note", Static).update(Text(note))

    def action_method(self) -> None:
        """Switches between Bradley-Terry and Elo."""
        self._method = "elo" if self._method == "bt" else "bt"
        self._draw()

    def action_scope(self) -> None:
        """Switches between this conversation's votes and every vote."""
        if not self._conversation_id:
            self.notify("No conversation is open: showing every vote.", severity="warning")
            return
        self._all = not self._all
        self._load()

    def action_close(self) -> None:
        """Back to where the leaderboard was opened."""
        self.dismiss(None)
