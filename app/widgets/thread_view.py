"""The messages on the current path of a conversation, with a live streaming reply.

Attributes down, messages up: the screen calls `show_path`, `begin_stream`,
`append_tokens`, `end_stream` and the cursor methods; the view posts `MessageFocused` and
`LinkRequested`. It never talks to the network.

Design, driven by measurements with Textual 8.2 (Textual lays out every widget on the
screen again when one changes height, as the live reply does as it grows):

* Finished messages are `MessageView`s, one static Rich renderable each, built once. With
  50 earlier messages as `Markdown` widgets an append cost ~620 ms; as single renderables
  ~7 ms.
* The reply being streamed is one line-based widget (`LiveReply`): its finished blocks
  are rendered once into lines, only its open (last) block is parsed and rendered again
  as text arrives, only changed lines are repainted, and a layout is asked for only
  when its number of lines changed. An append costs the same at the end of an 8 KB
  reply as at its start. When the stream ends the reply is swapped for a
  `MessageView`, which draws the same lines.
* At most a window of messages is mounted: the last `WINDOW` when a path is shown, never
  more than `MAX_MOUNTED`, so an append costs the same on a 5,000-message path as on a
  short one, and long paths open quickly. "▲ k earlier messages" at the top (click, or
  scroll to the top) and "▼ k later messages" at the bottom move the window; moving the
  message cursor outside it moves it too. Only the window's "branch k/n" are looked up,
  and views no longer needed (below a switched sibling) show the new messages in place:
  a sibling switch on a 5,000-deep path costs what it costs on a short one.
* Auto-scroll (`FollowingScroll`): the view follows new text only while it is at the
  bottom.

Finished messages are `AnnotatedMessageView`s: a `MessageView` that adds the user's
bookmark, rating, tags and note to its header (an annotation changes the node, so the path
shown changes from there and the views are redrawn in place).

Every message text goes through `clean()` and is never parsed as markup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.events import Click
from textual.message import Message
from textual.widget import Widget

from grove_explorer.app.widgets.annotated_message import AnnotatedMessageView
from grove_explorer.app.widgets.live_reply import LiveReply, LiveState, WorkerDone, finished_length
from grove_explorer.app.widgets.message_view import MessageView
from grove_explorer.app.widgets.more_messages import MoreMessages
from grove_explorer.app.widgets.thread_first_screen import FirstScreen
from grove_explorer.app.widgets.thread_window import (
    MAX_MOUNTED,
    WINDOW,
    Siblings,
    common_prefix,
    live_cut,
    next_window,
    refocus,
    window_around,
    window_to_end,
)

if TYPE_CHECKING:
    from grove_explorer.client.forest import Forest, ResponseNode  # (models' ResponseNode)

__all__ = ["WINDOW", "LiveReply", "MoreMessages", "ThreadView", "finished_length"]


class ThreadView(FirstScreen, can_focus=True):
    """The current path of a conversation, a message cursor, and a live reply."""

    DEFAULT_CSS = """
    ThreadView {
        height: 1fr;
        padding: 0 1;
        scrollbar-gutter: stable;
    }
    ThreadView > MoreMessages.-earlier {
        display: none;
    }
    ThreadView.-has-earlier > MoreMessages.-earlier {
        display: block;
    }
    """

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Previous message", key_display="↑/k"),
        Binding("down,j", "cursor(1)", "Next message", key_display="↓/j"),
        Binding("home,g", "first", "First message", key_display="g"),
        Binding("end,G", "last", "Last message", key_display="G"),
    ]

    class MessageFocused(Message):
        """The message cursor moved to `response_id`."""

        def __init__(self, response_id: str) -> None:
            super().__init__()
            self.response_id = response_id

    class LinkRequested(Message):
        """A link in a finished message was clicked; the screen decides whether to open it."""

        def __init__(self, href: str) -> None:
            super().__init__()
            self.href = href

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._path: list[ResponseNode] = []
        # "Branch k/n" per path message, looked up in `_forest` when first needed: a
        # 5,000-message path only ever mounts a window of it.
        self._siblings: Siblings = []
        self._forest: Forest | None = None
        # Mounted views show self._path[self._lo : self._lo + len(self._views)].
        self._lo = 0
        self._views: list[MessageView] = []
        self._focus: int | None = None
        self._live: LiveState | None = None
        self._earlier = MoreMessages(earlier=True)
        self._later: MoreMessages | None = None
        self._ready = False
        self._deferred: Forest | None = None

    def compose(self) -> ComposeResult:
        """Only the "earlier" line: it is the fixed point new views are mounted after."""
        yield self._earlier

    def on_mount(self) -> None:
        """Shows a path given before the view was mounted."""
        self._ready = True
        if self._deferred is not None:
            forest, self._deferred = self._deferred, None
            self.show_path(forest)
        elif self._live is not None:
            self._sync_edges()

    # -- reading state ---------------------------------------------------------------------

    @property
    def path(self) -> list[ResponseNode]:
        """The messages shown (the live reply excluded), root first."""
        return list(self._path)

    @property
    def window(self) -> tuple[int, int]:
        """The range of path indices currently mounted, as (start, stop)."""
        return self._lo, self._lo + len(self._views)

    @property
    def focused_index(self) -> int | None:
        """The path index under the message cursor, or None when there is no cursor."""
        return self._focus

    @property
    def focused_response_id(self) -> str | None:
        """The response under the message cursor, or None."""
        if self._focus is None:
            return None
        return self._path[self._focus].response_id

    @property
    def live_reply(self) -> LiveReply | None:
        """The mounted live reply widget, if a reply is streaming and visible."""
        return None if self._live is None else self._live.widget

    @property
    def is_streaming(self) -> bool:
        """True between `begin_stream` and `end_stream`."""
        return self._live is not None

    @property
    def live_response_id(self) -> str | None:
        """The id of the reply being streamed (the placeholder's), or None."""
        return None if self._live is None else self._live.node.response_id

    @property
    def live_text(self) -> str:
        """The (cleaned) text streamed so far for the live reply."""
        return "" if self._live is None else "".join(self._live.parts)

    @property
    def _mountable(self) -> bool:
        """Mounted and in the DOM (teardown detaches a screen first: mounting raised MountError)."""
        return self._ready and self.is_attached

    # -- showing a path --------------------------------------------------------------------

    def show_path(self, forest: Forest) -> AwaitComplete:
        """Shows `forest.current_path`, reusing views of messages that did not change.

        Views are kept for the leading messages that are identical (same node, same
        "branch k/n"), so switching a sibling near the bottom re-renders only what follows
        it. If the path ends with the reply being streamed, that reply stays live.

        Returns an optionally awaitable object that completes when the DOM is updated.
        """
        if not self._mountable:
            self._deferred = forest
            return AwaitComplete.nothing()
        path = forest.current_path
        live = self._live
        if live is not None and path and path[-1].response_id == live.node.response_id:
            path = path[:-1]
        self._forest = forest
        same = common_prefix(self._path, path)
        old_lo, old_hi = self.window
        siblings: Siblings = [None] * len(path)
        # A mounted message is drawn identically if its "branch k/n" is unchanged too.
        for index in range(old_lo, min(old_hi, same)):
            siblings[index] = forest.sibling_index(path[index].response_id)
            if siblings[index] != self._siblings[index]:
                same = index
                break
        lo, hi = next_window(
            (old_lo, old_hi), len(self._path), len(path), same, has_views=bool(self._views)
        )
        old_focus_id = self.focused_response_id
        lo = self._first_screen_start(path, lo, hi, fresh=not (self._views and old_lo < same))
        waits, kept = self._apply(path, siblings, lo, hi, same)
        if self._focus is not None:
            self._focus = refocus(path, self._focus, old_focus_id, kept=kept > 0)
            self._sync_focus_classes()
        if not kept:
            # Another thread altogether: start at its end, following new text (unless the
            # user scrolls before the next refresh: `_stick_to_end` checks again).
            self._follow = True
            self.call_after_refresh(self._stick_to_end)
        waits += self._rest_of_window(path, kept)  # see `FirstScreen`
        self._announce_focus(old_focus_id)
        return AwaitComplete(*waits)

    def clear_thread(self) -> AwaitComplete:
        """Shows nothing: no messages, no live reply, no cursor (a conversation closed)."""
        self._deferred = None
        self._forest = None
        live, self._live = self._live, None
        self._focus = None
        self._follow = True
        if not self._mountable:
            self._path, self._siblings = [], []
            return AwaitComplete.nothing()
        waits, _ = self._apply([], [], 0, 0, 0)
        if live is not None and live.widget is not None:
            waits.append(self._retire(live.widget))
        return AwaitComplete(*waits)

    def _apply(
        self,
        path: list[ResponseNode],
        siblings: Siblings,
        lo: int,
        hi: int,
        same: int,
    ) -> tuple[list[Awaitable[object]], int]:
        """Mounts views for path[lo:hi], reusing those of the first `same` messages.

        Returns the awaitables of the DOM changes and how many views were kept.

        DOM order is: "earlier" line, views, then the "later" line or the live reply (never
        both). Views that are no longer needed show other messages of the window where
        they stand; new views are mounted after the "earlier" line or after a view that
        stays, never relative to a view being removed.
        """
        old_lo = self._lo
        old_hi = old_lo + len(self._views)
        keep_lo, keep_hi = max(old_lo, lo), min(old_hi, hi, same)
        views = self._views
        if keep_lo < keep_hi:
            kept = views[keep_lo - old_lo : keep_hi - old_lo]
            # Views no longer needed where they are, by DOM position: above the kept ones
            # (just after the "earlier" line) and below them.
            spare_top, spare_bottom = views[: keep_lo - old_lo], views[keep_hi - old_lo :]
        else:
            keep_lo = keep_hi = lo
            kept, spare_top, spare_bottom = [], [], list(views)

        def new_view(index: int) -> MessageView:
            return AnnotatedMessageView(path[index], self._sibling(path, siblings, index))

        def reuse(view: MessageView, index: int) -> MessageView:
            view.show(path[index], self._sibling(path, siblings, index))
            return view

        # Spare views show other messages in place (cheaper than removing and mounting
        # widgets); the rest are removed, and missing ones mounted beside the reused ones.
        # Either may shrink the content: no anchor then (adding views only grows it).
        if spare_top or spare_bottom:
            self._drop_anchor()
        waits: list[Awaitable[object]] = []
        with self.app.batch_update():
            wanted = keep_lo - lo
            reused = spare_top[max(0, len(spare_top) - wanted) :]
            doomed = spare_top[: len(spare_top) - len(reused)]
            fresh = [new_view(i) for i in range(lo, keep_lo - len(reused))]
            top = fresh + [reuse(v, keep_lo - len(reused) + k) for k, v in enumerate(reused)]
            if fresh:
                waits.append(self.mount_all(fresh, after=self._earlier))
            wanted = hi - keep_hi
            reused = spare_bottom[:wanted]
            doomed += spare_bottom[wanted:]
            bottom = [reuse(v, keep_hi + k) for k, v in enumerate(reused)]
            fresh = [new_view(i) for i in range(keep_hi + len(reused), hi)]
            if fresh:
                after = bottom[-1] if bottom else kept[-1] if kept else self._earlier
                waits.append(self.mount_all(fresh, after=after))
            bottom += fresh
            if doomed:
                waits.append(self.remove_children(doomed))
            self._path, self._siblings = path, siblings
            self._lo, self._views = lo, top + kept + bottom
            waits.extend(self._sync_edges())
            self._sync_focus_classes()
        return waits, len(kept)

    def _sibling(self, path: list[ResponseNode], siblings: Siblings, index: int) -> tuple[int, int]:
        """The "branch k/n" of `path[index]`, looked up in the forest shown if not known yet.

        Looked up when a message is mounted, so it reflects the forest as it is then (it
        is changed in place); a response no longer in the forest counts as an only child.
        """
        known = siblings[index]
        if known is None:
            forest, response_id = self._forest, path[index].response_id
            if forest is not None and response_id in forest.responses:
                known = forest.sibling_index(response_id)
            else:
                known = (1, 1)
            siblings[index] = known
        return known

    def _sync_edges(self) -> list[Awaitable[object]]:
        """Updates the "earlier"/"later" lines and mounts or unmounts the live reply."""
        waits: list[Awaitable[object]] = []
        lo, hi = self.window
        self._earlier.set_count(lo)
        self.set_class(lo > 0, "-has-earlier")
        later = len(self._path) - hi
        if later > 0:
            if self._later is None:
                self._later = MoreMessages(earlier=False)
                waits.append(self.mount(self._later))
            self._later.set_count(later)
        elif self._later is not None:
            waits.append(self._later.remove())
            self._later = None
        live = self._live
        if live is not None:
            last_id = self._path[-1].response_id if self._path else None
            visible = later == 0 and last_id == live.after_id
            if visible and live.widget is None:
                live.widget = LiveReply(live.node, live.sibling, "".join(live.parts))
                waits.append(self.mount(live.widget))
            elif not visible and live.widget is not None:
                waits.append(self._retire(live.widget))
                live.widget = None
        return waits

    def _retire(self, widget: LiveReply) -> Awaitable[object]:
        """Hides a live widget now; stops its stream and removes it in the background."""
        self._drop_anchor()
        widget.display = False

        async def stop_and_remove() -> None:
            await widget.finish()
            await widget.remove()

        return WorkerDone(self.run_worker(stop_and_remove(), group="thread-view"))

    # -- streaming -------------------------------------------------------------------------

    def begin_stream(self, node: ResponseNode, sibling: tuple[int, int]) -> AwaitComplete:
        """Mounts the live reply `node` (a placeholder) at the end of the path.

        The path is cut back to the reply's parent when the parent is on it (regenerating
        an earlier reply shows the new one in its place), and the window moves to the end.
        Fragments can be appended at once; they are buffered until the widget is mounted.
        Returns an optionally awaitable object that completes when the widget is mounted.
        """
        if not self._mountable:
            # Shown once the view is mounted and shows a path ending at the parent.
            self._live = LiveState(node=node, sibling=sibling, after_id=node.parent_id)
            return AwaitComplete.nothing()
        waits: list[Awaitable[object]] = []
        if self._live is not None and self._live.widget is not None:
            waits.append(self._retire(self._live.widget))
        self._live = None
        cut = live_cut(self._path, node)
        path, siblings = self._path[:cut], self._siblings[:cut]
        after_id = path[-1].response_id if path else None
        self._live = LiveState(node=node, sibling=sibling, after_id=after_id)
        old_focus_id = self.focused_response_id
        if self._focus is not None and self._focus >= len(path):
            self._focus = len(path) - 1 if path else None
        lo, hi = window_to_end(self._lo, len(path))
        waits.extend(self._apply(path, siblings, lo, hi, len(path))[0])
        self._announce_focus(old_focus_id)
        return AwaitComplete(*waits)

    def append_tokens(self, text: str) -> None:
        """Appends a fragment of the streaming reply. Synchronous: do not await it.

        Called per wire message, so it does O(len(text)) work whatever the thread's length:
        clean the fragment, remember it, and queue it on the live widget, which draws
        everything queued in one update on the next turn of the message loop (fragments
        arriving faster than they can be drawn cost one update). Fragments arriving
        while the live widget is not mounted (the window was moved up, or another path
        is shown) are only remembered. Ignored when no reply is streaming.
        """
        live = self._live
        if live is None:
            return
        fragment = live.cleaner.feed(text)
        if not fragment:
            return
        live.parts.append(fragment)
        if live.widget is not None:
            live.widget.write(fragment)

    def end_stream(
        self, node: ResponseNode, sibling: tuple[int, int] | None = None
    ) -> AwaitComplete:
        """Replaces the live reply by the finished message `node` (rendered once).

        `node` is the stored response (its id may differ from the placeholder's). It is
        appended to the path when the path still ends at its parent; a later `show_path`
        with the updated forest then reuses every view. `sibling` defaults to the one
        given to `begin_stream`. Returns an optionally awaitable object that completes
        when the live widget is gone and its stream stopped.
        """
        live, self._live = self._live, None
        if not self._mountable:
            return AwaitComplete.nothing()  # shown by the next show_path once mounted
        waits: list[Awaitable[object]] = []
        if sibling is None:
            sibling = live.sibling if live is not None else (1, 1)
        last_id = self._path[-1].response_id if self._path else None
        if node.parent_id == last_id and node.response_id != last_id:
            lo, hi = self.window
            at_end = hi == len(self._path)
            path = [*self._path, node]
            siblings = [*self._siblings, sibling]
            if at_end:
                hi += 1
                if hi - lo > MAX_MOUNTED:
                    lo = hi - MAX_MOUNTED
            if live is not None and live.widget is not None:
                live.widget.hand_over(node, sibling)
            with self.app.batch_update():
                waits.extend(self._apply(path, siblings, lo, hi, len(self._path))[0])
                if live is not None and live.widget is not None:
                    waits.append(self._retire(live.widget))
        elif live is not None and live.widget is not None:
            waits.append(self._retire(live.widget))
        return AwaitComplete(*waits)

    def drop_stream(self, response_id: str) -> AwaitComplete:
        """Removes the live reply `response_id`: its stream failed and nothing was stored.

        Without this the reply would stay on screen as if still streaming, waiting for
        text that never comes. Ignored when another reply (or none) is live.
        """
        live = self._live
        if live is None or live.node.response_id != response_id:
            return AwaitComplete.nothing()
        self._live = None
        if live.widget is None or not self._mountable:
            return AwaitComplete.nothing()
        return AwaitComplete(self._retire(live.widget))

    # -- the message cursor ----------------------------------------------------------------

    def focus_message(self, response_id: str) -> bool:
        """Puts the cursor on `response_id`; False when it is not on the path shown."""
        for index, node in enumerate(self._path):
            if node.response_id == response_id:
                self._set_focus(index)
                return True
        return False

    def move_focus(self, delta: int) -> None:
        """Moves the cursor `delta` messages (clamped); without a cursor, starts at the last."""
        if not self._path:
            return
        if self._focus is None:
            target = len(self._path) - 1
        else:
            target = max(0, min(len(self._path) - 1, self._focus + delta))
        self._set_focus(target)

    def action_cursor(self, delta: int) -> None:
        """Key binding: previous/next message."""
        self.move_focus(delta)

    def action_first(self) -> None:
        """Key binding: first message of the path."""
        if self._path:
            self._set_focus(0)

    def action_last(self) -> None:
        """Key binding: last message of the path (the window moves back to the end)."""
        if self._path:
            self._set_focus(len(self._path) - 1)
            self._follow = True
            self.scroll_end(animate=False)

    def _set_focus(self, index: int) -> None:
        """Moves the cursor, mounting what is needed, and scrolls the message into view."""
        old_focus_id = self.focused_response_id
        self._focus = index
        lo, hi = self.window
        if not lo <= index < hi:
            total = len(self._path)
            new_lo, new_hi = window_around(index, (lo, hi), total)
            self._apply(self._path, self._siblings, new_lo, new_hi, total)
        else:
            self._sync_focus_classes()
        view = self._views[index - self._lo]
        self.call_after_refresh(self.scroll_to_widget, view, animate=False)
        self._announce_focus(old_focus_id)

    def _sync_focus_classes(self) -> None:
        """Marks the focused view (and only it) with the `-focused` class."""
        for offset, view in enumerate(self._views):
            view.set_class(self._lo + offset == self._focus, "-focused")

    def _announce_focus(self, old_focus_id: str | None) -> None:
        """Posts `MessageFocused` when the cursor is on a different response than before."""
        focus_id = self.focused_response_id
        if focus_id is not None and focus_id != old_focus_id:
            self.post_message(self.MessageFocused(focus_id))

    def on_click(self, event: Click) -> None:
        """Clicking a finished message puts the cursor on it."""
        widget = event.widget
        while widget is not None and widget is not self:
            if isinstance(widget, MessageView) and widget in self._views:
                self._set_focus(self._lo + self._views.index(widget))
                return
            parent = widget.parent
            widget = parent if isinstance(parent, Widget) else None

    # -- loading more ----------------------------------------------------------------------

    def load_earlier(self, count: int = WINDOW) -> AwaitComplete:
        """Mounts the previous `count` messages, keeping what is on screen in place."""
        lo, hi = self.window
        if lo == 0:
            return AwaitComplete.nothing()
        new_lo = max(0, lo - count)
        new_hi = min(hi, new_lo + MAX_MOUNTED)
        first = self._views[0] if self._views else None
        offset = first.virtual_region.y - self.scroll_y if first is not None else 0.0
        waits, _ = self._apply(self._path, self._siblings, new_lo, new_hi, len(self._path))

        def keep_in_place() -> None:
            if first is not None and first.is_attached:
                self.scroll_to(y=first.virtual_region.y - offset, animate=False)

        async def settle() -> None:
            await asyncio.gather(*waits)
            self.call_after_refresh(keep_in_place)

        return AwaitComplete(settle())

    def load_later(self) -> AwaitComplete:
        """Mounts the next `WINDOW` messages (and the live reply once at the end)."""
        lo, hi = self.window
        total = len(self._path)
        if hi == total:
            return AwaitComplete.nothing()
        new_hi = min(total, hi + WINDOW)
        new_lo = max(lo, new_hi - MAX_MOUNTED)
        waits, _ = self._apply(self._path, self._siblings, new_lo, new_hi, total)
        return AwaitComplete(*waits)

    @on(MessageView.LinkClicked)
    def _on_link_clicked(self, event: MessageView.LinkClicked) -> None:
        event.stop()
        self.post_message(self.LinkRequested(event.href))

    @on(MoreMessages.Pressed)
    def _on_more_pressed(self, event: MoreMessages.Pressed) -> None:
        event.stop()
        if event.earlier:
            self.load_earlier()
        else:
            self.load_later()

    def reached_top(self) -> None:
        """At the very top of the mounted window: load the earlier messages."""
        if self._lo > 0:
            self.call_later(self.load_earlier)
