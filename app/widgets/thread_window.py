"""Which messages of a path the thread view mounts, and where its cursor lands.

Pure arithmetic over indices, apart from the widget: the thread view mounts a window of
the path (a 5,000-message path never mounts more than `MAX_MOUNTED` views), keeps the views
of the leading messages that did not change, and keeps the cursor on the same message, or
at the same depth when a sibling replaced it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grove_explorer.client.models import ResponseNode

WINDOW = 60
"""Messages mounted when a path is shown, and added per "earlier"/"later" step."""

MAX_MOUNTED = 3 * WINDOW
"""Upper bound on mounted messages: loading more drops messages at the other end."""

Siblings = list[tuple[int, int] | None]
"""Each path message's "branch k/n", None where not looked up yet."""


def common_prefix(old: Sequence[ResponseNode], new: Sequence[ResponseNode]) -> int:
    """How many leading messages are the same response on both paths."""
    limit = min(len(old), len(new))
    index = 0
    while index < limit:
        a, b = old[index], new[index]
        if not (a is b or a == b):
            break
        index += 1
    return index


def next_window(
    old: tuple[int, int], old_length: int, length: int, same: int, *, has_views: bool
) -> tuple[int, int]:
    """The window [lo, hi) of a new path of `length` messages, after the window `old`.

    `same` leading messages are unchanged. If the top of the mounted window survives it is
    kept, and the window extends to the end if it reached the end before (else its bottom
    stays where it was); otherwise the window is the last `WINDOW` messages.
    """
    old_lo, old_hi = old
    if has_views and old_lo < same:
        lo = old_lo
        hi = length if old_hi == old_length else min(old_hi, length)
        if hi - lo > MAX_MOUNTED:
            lo = max(0, hi - WINDOW)
        return lo, hi
    return max(0, length - WINDOW), length


def refocus(
    path: Sequence[ResponseNode], focus: int, focused_id: str | None, *, kept: bool
) -> int | None:
    """Where the cursor goes on a new path: on the same message, wherever it now is.

    When a sibling replaced the focused message (views were kept, the message is gone) the
    cursor stays at that depth; with no such message it is gone (None).
    """
    if focus < len(path) and path[focus].response_id == focused_id:
        return focus
    found = next((i for i, node in enumerate(path) if node.response_id == focused_id), None)
    if found is None and kept and path:
        return min(focus, len(path) - 1)
    return found


def live_cut(path: Sequence[ResponseNode], node: ResponseNode) -> int:
    """How many path messages stay above a reply that starts streaming.

    The path is cut at the reply itself when it is on the path, else just below its parent;
    a reply elsewhere leaves the whole path.
    """
    ids = [n.response_id for n in path]
    if node.response_id in ids:
        return ids.index(node.response_id)
    if node.parent_id in ids:
        return ids.index(node.parent_id) + 1
    return len(path)


def window_to_end(lo: int, length: int) -> tuple[int, int]:
    """A window that reaches the end of a path of `length` messages, from `lo` if it can.

    It keeps `lo` while that mounts at most `MAX_MOUNTED` and at least `WINDOW` messages.
    """
    if length - lo > MAX_MOUNTED:
        lo = max(0, length - WINDOW)
    return min(lo, max(0, length - WINDOW)), length


def window_around(index: int, window: tuple[int, int], length: int) -> tuple[int, int]:
    """The window the cursor's move to `index` (outside `window`) mounts.

    A step just above or below the window adds a `WINDOW` on that side (dropping the other
    end beyond `MAX_MOUNTED`); a jump to the last `WINDOW` messages mounts them; any other
    jump mounts a `WINDOW` centred on the message.
    """
    lo, hi = window
    if lo - WINDOW <= index < lo:
        new_lo = max(0, lo - WINDOW)
        return new_lo, min(hi, new_lo + MAX_MOUNTED)
    if hi <= index < hi + WINDOW:
        new_hi = min(length, hi + WINDOW)
        return max(lo, new_hi - MAX_MOUNTED), new_hi
    if index >= length - WINDOW:
        return max(0, length - WINDOW), length
    new_lo = max(0, index - WINDOW // 2)
    return new_lo, min(length, new_lo + WINDOW)
