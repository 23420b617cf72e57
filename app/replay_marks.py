"""How a replayed turn is marked wherever the app lists or heads responses.

A response made by replaying a path under another setup (`replay_of`, client/replaying.py)
carries `↻`: in the forest pane's markers and in its thread header ("↻ replay of
a1b2c3d4", the original's short id, which `grove show --leaf` takes). Proto- and
pydantic-free, so the forest pane (imported before the first frame) can use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grove_explorer.app.safe_text import clean

if TYPE_CHECKING:
    from grove_explorer.client.models import ResponseNode

REPLAY_MARK = "↻"
_SHORT = 8


def replay_label(node: ResponseNode) -> str:
    """`↻ replay of a1b2c3d4`: the original's short id."""
    return f"{REPLAY_MARK} replay of {clean(node.replay_of[:_SHORT])}"
