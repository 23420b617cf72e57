"""The welcome panel: what the thread pane shows while no conversation is open.

A new user's first screen should say what to do next, with the keys that work (the
screen passes them in with the keymap applied, so a rebound key shows as rebound).
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

ESSENTIALS: tuple[tuple[str, str], ...] = (
    ("new_conversation", "new conversation"),
    ("focus_composer", "write a message (Enter sends)"),
    ("resample", "another reply to the focused message"),
    ("prev_sibling", "previous branch"),
    ("next_sibling", "next branch"),
    ("compare", "compare a branch point's replies"),
    ("search", "search every conversation"),
    ("forest_wider", "wider forest pane (or drag its edge)"),
    ("forest_narrower", "narrower forest pane"),
    ("toggle_sidebar", "show / hide the conversations"),
    ("help", "every key, and what the markers mean"),
)
"""Binding actions (by id) the panel lists, with what they do in a few words."""


class Welcome(Static):
    """Essential keys and how to start, for a screen with no conversation open."""

    DEFAULT_CSS = """
    Welcome {
        height: auto;
        padding: 1 2;
        color: $text;
    }
    """

    rows: list[tuple[str, str]] = []
    """(keys, what they do) as shown."""
    intro = Text()

    def show_keys(self, keys: dict[str, str]) -> None:
        """Shows the panel with `keys` (binding id → keys as displayed)."""
        self.rows = [
            (keys[binding_id], what) for binding_id, what in ESSENTIALS if keys.get(binding_id)
        ]
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for shown, what in self.rows:
            table.add_row(Text(shown), Text(what))
        intro = self.intro = Text.assemble(
            ("Welcome to Grove", "bold"),
            " — branching conversations with language models.\n\n",
            "Type a message in the box below and press Enter to start, or open a "
            "conversation from the list.\n",
        )
        self.update(Group(intro, table))
