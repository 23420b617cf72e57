"""The help screen: every binding of the explorer, grouped by where it applies.

Below the keys, a legend says what the markers in the forest and the thread mean.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Static

from grove_explorer.app.annotation_marks import LEGEND as ANNOTATION_LEGEND
from grove_explorer.app.widgets.forest_tree import LEGEND as FOREST_LEGEND

# Generic movement inherited from Textual's widgets: listed once as a sentence instead.
_GENERIC_PREFIXES = ("scroll_", "page_", "cursor_")
COMPOSER_ROWS = (
    ("Composer", "enter", "Send the message (in the edit and note editors: save)"),
    ("Composer", "ctrl+j shift+enter", "Insert a newline (in every multi-line editor)"),
    ("Composer", "tab", "Leave the composer (Esc too, when nothing is streaming)"),
)
SEARCH_ROWS = (
    ("Search", "enter", "In the box: search now; on a hit: jump to it (selected as the leaf)"),
    ("Search", "down", "From the box to the hits"),
    ("Search", "ctrl+n", "Load more hits (reaching the last hit does too)"),
    ("Search", "escape", "Close without jumping"),
)


WHERE: dict[str, str] = {
    "GroveApp": "Anywhere",
    "MainScreen": "Explorer",
    "ThreadView": "Thread",
    "ForestTree": "Forest pane",
    "ConversationOptions": "Conversations",
    "ConversationList": "Conversations",
    "Composer": "Composer",
}
"""Where a binding applies, in the words the panes' titles use (not class names)."""


def where_name(node: DOMNode) -> str:
    """The user's word for where `node`'s bindings apply."""
    name = type(node).__name__
    if name in WHERE:
        return WHERE[name]
    for base in type(node).__mro__:
        if base.__name__ in WHERE:
            return WHERE[base.__name__]
    return name


def _described(node: DOMNode) -> dict[str, tuple[list[str], str]]:
    """Action → (displayed keys, description) for `node`'s described bindings."""
    by_action: dict[str, tuple[list[str], str]] = {}
    # Textual applies the keymap to a copy of the bindings when it looks keys up; do the
    # same, so the help lists the keys that work.
    bindings_map = node._bindings.copy()
    keymap = getattr(node.app, "_keymap", None)
    if keymap:
        bindings_map.apply_keymap(keymap)
    thread = type(node).__name__ == "ThreadView"
    for key, bindings in bindings_map.key_to_bindings.items():
        for binding in bindings:
            if not binding.description:
                continue
            if not thread and binding.action.startswith(_GENERIC_PREFIXES):
                continue
            # The tooltip, where there is one, says more than the footer's word.
            description = binding.tooltip or binding.description
            keys, _ = by_action.setdefault(binding.action, ([], description))
            display = node.app.get_key_display(Binding(key, binding.action))
            if display not in keys:
                keys.append(display)
    return by_action


def binding_rows(nodes: Iterable[DOMNode]) -> list[tuple[str, str, str]]:
    """(where, keys, description) for every described binding of `nodes`, keymap applied.

    `where` is the pane's name as the user sees it ("Thread", "Forest pane"). A binding's
    tooltip (e.g. "Choose model / system prompt") is preferred over its short footer
    description ("Model").

    Generic scrolling and cursor bindings that Textual widgets inherit are left out, except
    on the thread, where moving along the path is the point.
    """
    rows: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for node in nodes:
        where = where_name(node)
        for action, (keys, description) in _described(node).items():
            if (where, action) in seen:
                continue
            seen.add((where, action))
            rows.append((where, " ".join(keys), description))
    return rows


def keys_by_id(nodes: Iterable[DOMNode]) -> dict[str, str]:
    """Binding id → the keys bound to it as displayed (keymap applied, first node wins)."""
    found: dict[str, list[str]] = {}
    for node in nodes:
        bindings_map = node._bindings.copy()
        keymap = getattr(node.app, "_keymap", None)
        if keymap:
            bindings_map.apply_keymap(keymap)
        ids: dict[str, list[str]] = {}
        for key, bindings in bindings_map.key_to_bindings.items():
            for binding in bindings:
                if binding.id and binding.id not in found:
                    display = node.app.get_key_display(Binding(key, binding.action))
                    shown = ids.setdefault(binding.id, [])
                    if display not in shown:
                        shown.append(display)
        found.update(ids)
    return {binding_id: " ".join(keys) for binding_id, keys in found.items()}


class HelpScreen(ModalScreen[None]):
    """Lists all bindings; Esc, q, ? or F1 closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        background: $background 60%;
    }
    HelpScreen > VerticalScroll {
        width: 90;
        max-width: 95%;
        height: 90%;
        border: thick $primary 70%;
        background: $surface;
        padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss(None)", "Close")]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self._rows = rows

    def compose(self) -> ComposeResult:
        table = Table(title="Grove keys", expand=True, show_edge=False, pad_edge=False)
        table.add_column("Where", style="dim", no_wrap=True)
        table.add_column("Keys", style="bold cyan", no_wrap=True)
        table.add_column("Action")
        for where, keys, description in [*self._rows, *COMPOSER_ROWS, *SEARCH_ROWS]:
            table.add_row(Text(where), Text(keys), Text(description))
        legend = Table(title="Markers", expand=True, show_edge=False, pad_edge=False)
        legend.add_column("Mark", style="bold", no_wrap=True)
        legend.add_column("Meaning")
        for mark, meaning in [*FOREST_LEGEND.items(), *ANNOTATION_LEGEND.items()]:
            legend.add_row(Text(mark), Text(meaning))
        with VerticalScroll():
            yield Static(table)
            yield Static(legend)
            yield Static(
                Text(
                    "Keys can be rebound in config.toml under [keymap], by binding id.",
                    style="dim italic",
                )
            )
