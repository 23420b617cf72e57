"""The reply being streamed in the thread view, and how much of its Markdown is finished.

`LiveReply` is the only Textual `Markdown` widget of the thread, and only for the last
blocks of the reply (see its docstring); `LiveState` is what the thread view remembers of
a streaming reply whether or not its widget is mounted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Markdown, Static
from textual.worker import Worker

from grove_explorer.app.safe_text import StreamCleaner
from grove_explorer.app.widgets.message_view import (
    RenderedOnce,
    header_text,
    markdown_renderable,
)
from grove_explorer.client.models import ResponseNode


def finished_length(source: str, least: int = 2) -> int:
    """How many leading characters of `source` lie before its last top-level block.

    That prefix is finished: Textual's `Markdown.append` itself re-parses only from the
    start of the last top-level block, taking every block before it as final, and so
    does this split (CommonMark decides block structure line by line; what text still to
    come can change is the open, last, block). Found with the parser Textual's
    `Markdown` uses, which counts lines by newline characters only. Returns 0 when
    `source` has fewer than `least` (at least two) blocks.
    """
    starts = [
        token.map[0]
        for token in _block_parser().parse(source)
        if token.level == 0 and token.nesting >= 0 and token.map is not None
    ]
    if len(starts) < max(least, 2):
        return 0
    offset = 0
    for _ in range(starts[-1]):
        offset = source.index("\n", offset) + 1
    return offset


@lru_cache(maxsize=1)
def _block_parser() -> MarkdownIt:
    """The "gfm-like" parser, built once (construction costs about as much as a parse)."""
    return MarkdownIt("gfm-like")


class LiveReply(Vertical):
    """The reply being streamed: a header, its finished blocks, and a live Markdown tail.

    Only the last top-level blocks of the reply (the last one is the one more text can
    still change) are a Textual `Markdown`. The widgets of a `Markdown` are laid out and
    styled again as it grows, and its blocks add up (an 8 KB reply grew to 53 blocks, 335
    widgets), so the cost of an append grew with the reply; building a block's widgets
    (a dozen for a short list) is also the main cost of an append. So the text is split
    *before* it reaches the `Markdown`: when a batch of text brings the live text to
    `FREEZE_AT` blocks, the blocks before the last (`finished_length`) go into a `Static`
    holding one static `rich.markdown.Markdown` (as a finished message is drawn), and a
    new `Markdown` gets the last block only. A block completed within one batch is never
    built as widgets, and an append costs the same at the end of a long reply as at its
    start.

    `write` is synchronous and O(1): it queues the fragment and wakes a feeder worker,
    which hands everything queued so far to the Markdown in one piece (text arriving
    while it renders is batched the same way), so a burst of hundreds of fragments costs a
    few list appends. Fragments written before the widget is mounted wait in the queue.
    """

    FREEZE_AT = 3
    """Blocks in the live text at which all but the last are frozen into a `Static`.

    Each freeze builds a new `Markdown` (~5 ms), so freezing at every new block costs
    more than leaving one finished block in the live `Markdown` for a while; measured at
    2,000 tokens/s, 3 did best (2 and 4 fell further behind the stream).
    """

    DEFAULT_CSS = """
    LiveReply {
        height: auto;
        padding: 0 1;
        margin: 0 0 1 0;
        border-left: tall $secondary;
    }
    LiveReply > .header {
        height: auto;
    }
    LiveReply > .finished {
        height: auto;
        margin: 0 0 1 0;
    }
    LiveReply > Markdown {
        margin: 0;
        padding: 0;
        background: transparent;
    }
    LiveReply > Markdown > MarkdownParagraph:last-child {
        margin: 0;
    }
    """

    def __init__(self, node: ResponseNode, sibling: tuple[int, int], initial: str) -> None:
        """`initial` is (cleaned) text streamed before this widget existed."""
        super().__init__(classes="-model -streaming")
        self.node = node
        self.sibling = sibling
        self.markdown = Markdown("", open_links=False)
        """The live Markdown: the last blocks of the text given so far."""
        cut = finished_length(initial)
        # Text shown by the `finished` Statics, and the text given to `self.markdown`.
        self._finished: list[str] = [initial[:cut]] if cut else []
        self._tail = ""
        self._pending: list[str] = [initial[cut:]] if initial[cut:] else []
        self._wake = asyncio.Event()
        if self._pending:
            self._wake.set()
        self._finishing = False
        self._feeder: Worker[None] | None = None

    @property
    def source(self) -> str:
        """The (cleaned) text handed to the display so far: finished blocks and the tail."""
        return "".join(self._finished) + self._tail

    def compose(self) -> ComposeResult:
        """A header line like a finished message's, finished text, then the live tail."""
        yield Static(
            header_text(self.node, self.sibling, streaming=True), markup=False, classes="header"
        )
        for text in self._finished:
            yield self._finished_view(text)
        yield self.markdown

    def on_mount(self) -> None:
        """Starts feeding the Markdown (children, hence the Markdown, are mounted by now).

        A worker of this widget, so Textual cancels it if the widget goes away.
        """
        if not self._finishing:
            self._feeder = self.run_worker(self._feed(), group="live-reply")

    def write(self, fragment: str) -> None:
        """Queues cleaned text for the Markdown. Synchronous and cheap."""
        if self._finishing or not fragment:
            return
        self._pending.append(fragment)
        self._wake.set()

    async def _feed(self) -> None:
        """Hands queued text to the display until `finish` is called."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            text = "".join(self._pending)
            self._pending.clear()
            if text:
                await self._show(text)
            if self._finishing and not self._pending:
                break

    async def _show(self, text: str) -> None:
        """Appends `text` to the live Markdown, or freezes what it finished.

        The tail is parsed only when `text` may start a block: blocks start at the
        beginning of a line, so `text` must hold a line break or continue a line that is
        blank so far. At `FREEZE_AT` blocks, a `finished` Static and a new `Markdown`
        holding the last block replace the old `Markdown` in one frame: repaints wait
        until the new one is built.
        """
        line_so_far = self._tail[self._tail.rfind("\n") + 1 :]
        tail = self._tail + text
        may_start = "\n" in text or not line_so_far.strip()
        cut = finished_length(tail, self.FREEZE_AT) if may_start and "\n" in tail else 0
        if not cut:
            self._tail = tail
            await self.markdown.append(text)
            return
        finished, rest = tail[:cut], tail[cut:]
        old, new = self.markdown, Markdown("", open_links=False)
        self._finished.append(finished)
        self.markdown, self._tail = new, rest
        with self.app.batch_update():
            await self.mount_all([self._finished_view(finished), new], before=old)
            if rest:
                await new.append(rest)
            await old.remove()

    @staticmethod
    def _finished_view(text: str) -> RenderedOnce:
        """Finished blocks as one static renderable (`text` was cleaned when appended)."""
        return RenderedOnce(markdown_renderable(text), classes="finished")

    async def finish(self) -> None:
        """Stops feeding, after everything written so far has been rendered."""
        self._finishing = True
        self._wake.set()
        if self._feeder is not None:
            await self._feeder.wait()


class WorkerDone:
    """Awaits a worker lazily: no coroutine exists (to warn "never awaited") until awaited."""

    def __init__(self, worker: Worker[None]) -> None:
        self._worker = worker

    def __await__(self) -> Generator[Any, None, None]:
        return self._worker.wait().__await__()


@dataclass
class LiveState:
    """A reply being streamed, whether or not its widget is currently mounted."""

    node: ResponseNode
    sibling: tuple[int, int]
    # The id of the message the reply follows (None: the path is empty).
    after_id: str | None
    # Every cleaned fragment so far, to rebuild the widget if it is mounted again.
    parts: list[str] = field(default_factory=list)
    widget: LiveReply | None = None
    # Keeps a control sequence split between two fragments whole (then drops it).
    cleaner: StreamCleaner = field(default_factory=StreamCleaner)
