"""The explorer's remembered layout: a small JSON file in the platform state dir.

Why a state file and not `config.toml`: the config is the user's, hand-written and
commented; rewriting it on every `<`/`>` would lose their comments and ordering. The
state file (`layout.json` in `platformdirs.user_state_dir("grove")`, or `$GROVE_STATE_DIR`)
is the app's own and safe to overwrite. A missing or unreadable file means defaults;
a failed write is logged and otherwise ignored (the layout is a convenience).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)

FILE_NAME = "layout.json"


def default_state_dir() -> Path:
    """Where Grove keeps its state (`$GROVE_STATE_DIR` overrides the platform dir)."""
    override = os.environ.get("GROVE_STATE_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_state_dir("grove", appauthor=False))


@dataclass(slots=True)
class LayoutState:
    """Pane widths the user chose, in columns (clamped to the terminal when applied)."""

    forest_width: int = 38
    """The forest pane beside the conversations sidebar."""
    forest_width_without_sidebar: int = 52
    """The forest pane while the sidebar is hidden (wider: the sidebar's room is free)."""


def load_layout(state_dir: Path | None) -> LayoutState:
    """The remembered layout (defaults when there is none or it cannot be read)."""
    if state_dir is None:
        return LayoutState()
    path = state_dir / FILE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return LayoutState()
    except (OSError, ValueError):
        log.warning("Ignoring unreadable layout state %s", path, exc_info=True)
        return LayoutState()
    state = LayoutState()
    if isinstance(data, dict):
        for field in fields(LayoutState):
            value = data.get(field.name)
            if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1000:
                setattr(state, field.name, value)
    return state


def save_layout(state_dir: Path | None, state: LayoutState) -> None:
    """Writes the layout atomically (a temporary file renamed over the old one)."""
    if state_dir is None:
        return
    path = state_dir / FILE_NAME
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(asdict(state), indent=1) + "\n", encoding="utf-8")
        temporary.replace(path)
    except OSError:
        log.warning("Could not save the layout to %s", path, exc_info=True)
