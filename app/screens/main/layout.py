"""The explorer's layout: which panes show and how wide the forest pane is.

The forest pane's width is the user's: `<` and `>` (or dragging the divider right of it)
change it, and it is remembered across runs in the state file (`app.layout_state`),
separately for the layout with the sidebar and without it (the pane widens into the room
a hidden sidebar frees). Widths are clamped when applied, never when remembered: the
thread keeps at least `MIN_THREAD` columns, so a small terminal narrows the forest (or
hides it) instead of squeezing the thread, and the thread keeps the larger share of the
width beside the sidebar.

Below `NARROW_WIDTH` columns the sidebar is hidden; Ctrl+B toggles it in either mode
(remembered per mode for the run), and in a terminal too small for both, the forest pane
makes way for the sidebar.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from textual import on

from grove_explorer.app.layout_state import LayoutState, load_layout, save_layout
from grove_explorer.app.screens.main.core import ExplorerCore
from grove_explorer.app.widgets.conversation_list import ConversationList
from grove_explorer.app.widgets.pane_divider import PaneDivider

NARROW_WIDTH = 110
"""Below this many columns the sidebar starts hidden."""
SIDEBAR_WIDTH = 30
MIN_THREAD = 48
"""Columns the thread keeps whatever the forest pane's width."""
THREAD_SHARE = 0.6
"""Share of the width beside the sidebar the thread keeps: what you read comes first."""
MIN_FOREST = 20
MAX_FOREST = 120
WIDTH_STEP = 4


class PaneLayout(ExplorerCore):
    """Sidebar and forest visibility, the forest pane's width, and remembering it."""

    _layout_state: LayoutState
    # Whether the sidebar shows, per mode (narrow terminal or not), as Ctrl+B left it.
    _sidebar_choice: dict[bool, bool]
    _forest_wanted: bool

    def _init_layout(self) -> None:
        config = getattr(self.app, "config", None)
        self._layout_state = load_layout(getattr(config, "state_dir", None))
        self._sidebar_choice = {False: True, True: False}
        self._forest_wanted = True

    @property
    def narrow(self) -> bool:
        """Whether the terminal is too narrow for the sidebar by default."""
        return self.size.width < NARROW_WIDTH

    @property
    def sidebar_shown(self) -> bool:
        """Whether the conversations sidebar is shown."""
        return self._sidebar_choice[self.narrow]

    @property
    def forest_width(self) -> int:
        """The remembered forest width for the current layout (before clamping)."""
        state = self._layout_state
        return state.forest_width if self.sidebar_shown else state.forest_width_without_sidebar

    def _forest_room(self) -> int:
        """The widest the forest pane may be now.

        The thread keeps `MIN_THREAD` columns and `THREAD_SHARE` of the width beside the
        sidebar, so on a 100-column terminal the forest does not outgrow the thread.
        """
        beside = self.size.width - (SIDEBAR_WIDTH if self.sidebar_shown else 0)
        thread = max(MIN_THREAD, round(beside * THREAD_SHARE))
        return min(beside - thread - 1, MAX_FOREST)

    def _apply_layout(self) -> None:
        """Shows, hides and sizes the panes for the terminal's width."""
        if not hasattr(self, "_layout_state"):
            self._init_layout()
        self.set_class(self.narrow, "-narrow")
        sidebar = self.query_one(ConversationList)
        sidebar.display = self.sidebar_shown
        room = self._forest_room()
        forest = self.forest_pane
        divider = self.query_one(PaneDivider)
        shown = self._forest_wanted and room >= MIN_FOREST
        forest.display = divider.display = shown
        if shown:
            width = max(MIN_FOREST, min(self.forest_width, room))
            if forest.styles.width is None or forest.styles.width.value != width:
                forest.styles.width = width

    def _set_forest_width(self, width: int) -> None:
        """Remembers `width` for the current layout (clamped to what fits) and applies it."""
        width = max(MIN_FOREST, min(width, max(self._forest_room(), MIN_FOREST)))
        if self.sidebar_shown:
            self._layout_state.forest_width = width
        else:
            self._layout_state.forest_width_without_sidebar = width
        self._forest_wanted = True
        self._apply_layout()

    def _save_layout(self) -> None:
        """Writes the remembered widths in a thread (the event loop does no file I/O)."""
        config = getattr(self.app, "config", None)
        state_dir = getattr(config, "state_dir", None)
        if state_dir is None:
            return
        state = replace(self._layout_state)
        self.run_worker(
            partial(save_layout, state_dir, state),
            thread=True,
            group="layout-save",
            exit_on_error=False,
        )

    def on_resize(self, event: Any) -> None:
        self._apply_layout()

    def action_forest_width(self, delta: int) -> None:
        """Widens (delta > 0) or narrows the forest pane and remembers the width."""
        current = self.forest_pane.outer_size.width if self.forest_pane.display else 0
        self._set_forest_width((current or self.forest_width) + delta * WIDTH_STEP)
        self._save_layout()

    def action_toggle_sidebar(self) -> None:
        """Shows or hides the conversations sidebar (the forest pane takes its room)."""
        narrow = self.narrow
        self._sidebar_choice[narrow] = not self._sidebar_choice[narrow]
        self._apply_layout()

    def action_toggle_forest(self) -> None:
        """Shows or hides the forest pane."""
        self._forest_wanted = not self.forest_pane.display
        self._apply_layout()

    @on(PaneDivider.Dragged)
    def _divider_dragged(self, message: PaneDivider.Dragged) -> None:
        message.stop()
        self._set_forest_width(message.x - self.forest_pane.region.x)

    @on(PaneDivider.Released)
    def _divider_released(self, message: PaneDivider.Released) -> None:
        message.stop()
        self._save_layout()
