"""A bracketed paste is one `Paste` event holding exactly the pasted text.

Textual's own parser turns a paste containing escape sequences partly into key presses
(a newline inside becomes Enter). These tests feed raw terminal input to the parser the
app's driver uses, in one read and split at every position.
"""

from __future__ import annotations

import sys

import pytest
from textual import events
from textual.message import Message

if sys.platform == "win32":
    pytest.skip("the POSIX driver's parser", allow_module_level=True)

from textual._xterm_parser import XTermParser

from grove_explorer.app.grove_app import GroveApp
from grove_explorer.app.terminal_input import END, START, PasteSafeDriver, PasteSafeParser

PASTED = "ls\n\x1b[31mRED\x1b[0m done\r\n\x1b]0;title\x07 \x1b[201 almost\x1b"
INPUT = "a" + START + PASTED + END + "b\r"


def _summary(messages: list[Message]) -> list[str]:
    out = []
    for message in messages:
        if isinstance(message, events.Paste):
            out.append(f"paste:{message.text}")
        elif isinstance(message, events.Key):
            out.append(message.key)
    return out


def _feed(*reads: str) -> list[str]:
    parser = PasteSafeParser()
    messages: list[Message] = []
    for data in reads:
        messages += parser.feed(data)
    return _summary(messages)


EXPECTED = ["a", f"paste:{PASTED}", "b", "enter"]


def test_a_paste_with_escape_sequences_is_one_event() -> None:
    assert _feed(INPUT) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(INPUT)))
def test_a_paste_split_between_reads_is_one_event(cut: int) -> None:
    assert _feed(INPUT[:cut], INPUT[cut:]) == EXPECTED, cut


def test_textual_alone_still_splits_the_paste() -> None:
    """Why the app has its own parser; when this fails, Textual fixed it: drop ours."""
    parser = XTermParser()
    assert _summary(list(parser.feed(INPUT))) != EXPECTED


def test_the_app_reads_the_terminal_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    assert GroveApp().driver_class is PasteSafeDriver


def test_keys_outside_a_paste_are_unchanged() -> None:
    assert _feed("x\x1b[Ay\r") == ["x", "up", "y", "enter"]
