"""Annotating messages: bookmarks, ratings, notes and tags.

Changes go to the server one at a time (`_annotate_lock`), each reading the annotation as
the previous one left it; the service publishes the updated node and the views follow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from grove_explorer.app.annotation_marks import format_tags, parse_tags
from grove_explorer.app.screens.main.core import ExplorerCore
from grove_explorer.app.widgets.forest_tree import PENDING_PREFIX
from grove_explorer.app.workers import run_service_call

if TYPE_CHECKING:
    from grove_explorer.client.models import ResponseNode
    from grove_explorer.client.research import Annotation


class Annotating(ExplorerCore):
    """Bookmark, rate, note and tag the message under the cursor."""

    def _marking_target(self) -> ResponseNode | None:
        """What annotation keys act on.

        In the forest, the last response of the node under the cursor; elsewhere the
        focused message (else the leaf).
        """
        forest = self.forest
        if forest is None:
            return None
        if self.forest_pane.has_focus:
            item = self.forest_pane.cursor_item
            if item is not None:
                return forest.responses.get(item.last_id)
        return self._target()

    def _stored_target(self, verb: str) -> ResponseNode | None:
        """The marking target if it is stored on the server (else says why not)."""
        target = self._marking_target()
        if target is None or self.conversation_id is None:
            self.notify(f"Nothing to {verb} yet.", severity="warning", timeout=3)
            return None
        if target.streaming or target.response_id.startswith(PENDING_PREFIX):
            self.notify(
                f"Wait for the reply to be stored before you {verb} it.",
                severity="warning",
                timeout=3,
            )
            return None
        return target

    def _annotate(
        self,
        response_id: str,
        change: Callable[[Annotation], dict[str, Any]],
        said: Callable[[ResponseNode], str] | None = None,
    ) -> None:
        """Changes the annotation of `response_id` on the server, one change at a time.

        `change` gets the annotation as stored when its turn comes and returns the fields
        to set; the service publishes the updated node and the views follow it.
        """
        cid = self.conversation_id
        if cid is None:
            return

        async def annotate() -> ResponseNode | None:
            async with self._annotate_lock:
                try:
                    node = self.service.forest(cid).responses[response_id]
                except KeyError:
                    return None
                fields = change(node.annotation)
                if not fields:
                    return None
                return await self.service.annotate(cid, response_id, **fields)

        def done(node: ResponseNode | None) -> None:
            if node is not None and said is not None:
                self.notify(said(node), timeout=2)

        run_service_call(self, annotate(), done=done)

    def action_bookmark(self) -> None:
        """Bookmarks the message, or removes its bookmark."""
        target = self._stored_target("bookmark")
        if target is not None:
            self._annotate(
                target.response_id,
                lambda a: {"bookmarked": not a.bookmarked},
                lambda n: "Bookmarked." if n.bookmarked else "Bookmark removed.",
            )

    def action_rate(self, value: int) -> None:
        """Rates the message +1 or -1; the same rating again clears it."""
        target = self._stored_target("rate")
        if target is not None:
            self._annotate(
                target.response_id,
                lambda a: {"rating": 0 if a.rating == value else value},
                lambda n: {1: "Rated +1.", -1: "Rated -1."}.get(
                    n.annotation.rating, "Rating cleared."
                ),
            )

    def action_note(self) -> None:
        """Edits the note on the message (an empty note removes it)."""
        target = self._stored_target("annotate")
        if target is None:
            return
        current = target.annotation.note

        def written(note: str | None) -> None:
            if note is not None and note != current:
                self._annotate(
                    target.response_id,
                    lambda _: {"note": note},
                    lambda n: "Note saved." if n.annotation.note else "Note removed.",
                )

        who = "your message" if target.is_human else "the reply"
        from grove_explorer.app.screens.dialogs import NoteScreen  # imported when first used

        self.app.push_screen(NoteScreen(f"Note on {who}", current), written)

    def action_tags(self) -> None:
        """Edits the message's tags: one line, separated by spaces or commas."""
        target = self._stored_target("tag")
        if target is None:
            return
        current = target.annotation.tags

        def typed(line: str | None) -> None:
            if line is None:
                return
            tags = parse_tags(line)
            if tags != current:
                self._annotate(
                    target.response_id,
                    lambda _: {"tags": tags},
                    lambda n: (
                        f"Tags: {format_tags(n.annotation.tags)}."
                        if n.annotation.tags
                        else "Tags removed."
                    ),
                )

        from grove_explorer.app.screens.dialogs import PromptScreen

        self.app.push_screen(
            PromptScreen(
                "Tags (separated by spaces or commas; empty removes them)",
                format_tags(current),
                placeholder="idea todo later",
            ),
            typed,
        )
