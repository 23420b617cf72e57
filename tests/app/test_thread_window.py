"""The thread view's window and cursor arithmetic, apart from the widget."""

from __future__ import annotations

from grove_explorer.app.widgets.thread_window import (
    MAX_MOUNTED,
    WINDOW,
    common_prefix,
    live_cut,
    next_window,
    refocus,
    window_around,
    window_to_end,
)
from grove_explorer.client.models import ResponseNode


def node(response_id: str, parent_id: str | None = None) -> ResponseNode:
    return ResponseNode(response_id=response_id, parent_id=parent_id, sender="model", message="")


PATH = [node("a"), node("b", "a"), node("c", "b"), node("d", "c")]


def test_common_prefix_stops_at_the_first_different_message() -> None:
    assert common_prefix(PATH, [*PATH[:2], node("x", "b")]) == 2
    assert common_prefix(PATH, PATH[:3]) == 3
    assert common_prefix([], PATH) == 0


def test_a_surviving_window_keeps_its_top_and_follows_the_end_it_reached() -> None:
    assert next_window((10, 100), 100, 120, same=50, has_views=True) == (10, 120)
    # It did not reach the end: its bottom stays.
    assert next_window((10, 80), 100, 120, same=50, has_views=True) == (10, 80)
    # Grown past the cap: the last WINDOW messages.
    assert next_window((0, 100), 100, 400, same=50, has_views=True) == (400 - WINDOW, 400)


def test_another_path_shows_its_last_window() -> None:
    assert next_window((10, 100), 100, 500, same=5, has_views=True) == (500 - WINDOW, 500)
    assert next_window((0, 0), 0, 7, same=0, has_views=False) == (0, 7)


def test_the_cursor_stays_on_its_message_or_at_its_depth() -> None:
    assert refocus(PATH, 2, "c", kept=True) == 2
    assert refocus(PATH[1:], 2, "c", kept=True) == 1  # the same message, moved up
    swapped = [*PATH[:2], node("x", "b")]
    assert refocus(swapped, 3, "d", kept=True) == 2  # a sibling replaced it: same depth
    assert refocus(swapped, 3, "d", kept=False) is None


def test_a_live_reply_cuts_the_path_at_itself_or_below_its_parent() -> None:
    assert live_cut(PATH, node("c", "b")) == 2
    assert live_cut(PATH, node("new", "b")) == 2
    assert live_cut(PATH, node("new", "elsewhere")) == 4


def test_a_window_to_the_end_keeps_its_top_within_the_cap() -> None:
    assert window_to_end(0, 30) == (0, 30)
    assert window_to_end(100, 200) == (100, 200)
    assert window_to_end(0, MAX_MOUNTED + 1) == (MAX_MOUNTED + 1 - WINDOW, MAX_MOUNTED + 1)
    assert window_to_end(150, 160) == (100, 160)


def test_the_cursor_moving_out_of_the_window_mounts_beside_it_or_around_it() -> None:
    total = 1000
    window = (400, 400 + WINDOW)
    # One step above or below: a WINDOW more on that side, within the cap.
    assert window_around(399, window, total) == (400 - WINDOW, 400 + WINDOW)
    assert window_around(400 + WINDOW, window, total) == (400, 400 + 2 * WINDOW)
    wide = (400, 400 + MAX_MOUNTED)
    assert window_around(400 + MAX_MOUNTED, wide, total) == (
        400 + WINDOW,
        400 + MAX_MOUNTED + WINDOW,
    )
    # A jump near the end mounts the last WINDOW; elsewhere a WINDOW centred on it.
    assert window_around(total - 1, window, total) == (total - WINDOW, total)
    assert window_around(100, window, total) == (100 - WINDOW // 2, 100 + WINDOW // 2)
    assert window_around(3, (500, 560), total) == (0, WINDOW)
    for index in (0, 3, 100, 399, 460, 999):
        lo, hi = window_around(index, window, total)
        assert lo <= index < hi and hi - lo <= MAX_MOUNTED
