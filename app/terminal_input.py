r"""Terminal input where a bracketed paste is always one `Paste` event, whatever it holds.

Textual's parser (8.x, `textual._xterm_parser`) reads a bracketed paste character by
character, but when the pasted text holds an ESC it starts matching an escape sequence
and, failing, re-issues the bytes as key presses: pasting `\x1b[31mRED\x1b[0m` (output
copied from a terminal) types `^[31mRED…` into the composer, splits the paste, and a
newline inside it becomes Enter, which sends the message. `PasteSafeParser` cuts every
`ESC[200~ … ESC[201~` region out of the input before Textual's parser sees it and emits
the region's text as one `events.Paste`; everything outside a paste goes to Textual's
parser unchanged. `PasteSafeDriver` is Textual's Linux/macOS driver reading with it.

A paste marker split between two reads is handled: a read ending in part of the start
marker is held (briefly: `tick` releases it once the escape delay passes, so Alt+[ still
arrives); a read ending in a lone ESC goes to Textual's parser at once (so the Escape
key is not delayed) and, if the next read continues it into a start marker, Textual's
parser is walked through an empty paste whose empty event is dropped.
"""

from __future__ import annotations

import os
import selectors
import time
from codecs import getincrementaldecoder
from collections.abc import Iterable

from textual import constants, events
from textual._loop import loop_last
from textual._parser import ParseError
from textual._xterm_parser import BRACKETED_PASTE_END, BRACKETED_PASTE_START, XTermParser
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

START = BRACKETED_PASTE_START
END = BRACKETED_PASTE_END


def _partial_suffix(text: str, marker: str) -> int:
    """The length of the longest end of `text` that begins `marker` (shorter than it)."""
    for size in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-size:]):
            return size
    return 0


class PasteSafeParser(XTermParser):
    """Textual's parser with bracketed pastes taken out first (see the module docstring)."""

    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        self._paste: list[str] | None = None  # collecting a paste's text
        self._held = ""  # the end of a read that may be part of a marker
        self._held_at = 0.0
        self._escape_sent = False  # the last read ended with a lone ESC given to Textual

    def feed(self, data: str) -> Iterable[Message]:
        if not data:  # end of input
            if self._paste is not None:
                yield events.Paste(("".join(self._paste) + self._held).replace("\x00", ""))
            elif self._held:
                yield from super().feed(self._held)
            self._paste, self._held = None, ""
            yield from super().feed("")
            return
        text, self._held = self._held + data, ""
        if self._escape_sent and self._paste is None and ("\x1b" + text).startswith(START):
            if self._timeout_time is not None:
                # Textual's parser still holds the ESC that began this start marker: let
                # it enter and leave a paste (its empty Paste is dropped).
                for event in super().feed(START[1:] + END):
                    if not (isinstance(event, events.Paste) and not event.text):
                        yield event
            text = text[len(START) - 1 :]
            self._paste = []
        self._escape_sent = False
        position = 0
        while position < len(text):
            if self._paste is not None:
                end = text.find(END, position)
                if end < 0:
                    keep = _partial_suffix(text, END)
                    self._paste.append(text[position : len(text) - keep])
                    self._held = text[len(text) - keep :]
                    return
                self._paste.append(text[position:end])
                yield events.Paste("".join(self._paste).replace("\x00", ""))
                self._paste = None
                position = end + len(END)
                continue
            start = text.find(START, position)
            if start < 0:
                keep = _partial_suffix(text, START)
                if keep == 1:  # a lone ESC: most likely the Escape key, never delay it
                    keep = 0
                    self._escape_sent = True
                rest = text[position : len(text) - keep]
                if rest:
                    yield from super().feed(rest)
                if keep:
                    self._held, self._held_at = text[len(text) - keep :], time.monotonic()
                return
            if start > position:
                yield from super().feed(text[position:start])
            self._paste = []
            position = start + len(START)

    def tick(self) -> Iterable[Message]:
        if (
            self._held
            and self._paste is None
            and time.monotonic() - self._held_at >= constants.ESCAPE_DELAY
        ):
            held, self._held = self._held, ""
            yield from super().feed(held)
        yield from super().tick()


class PasteSafeDriver(LinuxDriver):
    """Textual's POSIX driver reading its input with `PasteSafeParser`.

    `run_input_thread` is Textual's own loop (8.x) with the parser swapped: the driver
    offers no other way to choose it.
    """

    def run_input_thread(self) -> None:
        """Waits for input and dispatches events."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        fileno = self.fileno
        parser = PasteSafeParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def process(
            selector_events: list[tuple[selectors.SelectorKey, int]], final: bool = False
        ) -> None:
            for last, (_key, mask) in loop_last(selector_events):
                if mask & selectors.EVENT_READ:
                    data = decode(os.read(fileno, 1024 * 4), final=final and last)
                    if not data:
                        break
                    for event in parser.feed(data):
                        self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(0.1))
            selector.unregister(self.fileno)
            process(selector.select(0.1), final=True)
        finally:
            selector.close()
            try:
                for _event in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
