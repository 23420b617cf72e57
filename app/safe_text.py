r"""Makes untrusted message text inert before it reaches the terminal.

Model output (and anything stored on a server) is displayed literally: never parsed as
Rich/Textual markup, and stripped of control characters at render time so no escape
sequence (CSI clear screen, OSC title or clipboard writes, C1 controls) reaches the
terminal. Stored text stays exactly as sent; only what is drawn is cleaned.

Whole control sequences are removed, not only their ESC byte: `\x1b[31mRED\x1b[0m` is
drawn as `RED`, never as `[31mRED[0m`. That is what a terminal would have shown (minus
the effect), so pasted or generated terminal output reads as text. CSI (ESC [ or 0x9B,
up to its final byte), OSC (ESC ] or 0x9D, up to BEL or ST), DCS/SOS/PM/APC (ESC P/X/^/_
or 0x90/0x98/0x9E/0x9F, up to ST) and two-byte escapes (ESC 7, ESC ( B, ESC c) go whole.
A string sequence without its terminator loses only its introducer, so the rest of the
message stays visible. Editors, which must keep every stored character, hide the same
characters instead (`hide_controls`, same length, zero-width placeholders).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# C0 controls except tab (\x09) and newline (\x0a), DEL, and the C1 range. ESC (\x1b) is
# in C0, so every escape sequence loses its introducer; the printable remainder of such a
# sequence is shown as text, which is what "displayed literally" means.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Whole sequences first: CSI (params 0x30-0x3F, intermediates 0x20-0x2F, final 0x40-0x7E),
# terminated string sequences (OSC ends with BEL or ST; DCS, SOS, PM, APC with ST), then
# other escapes (intermediates and a final 0x30-0x7E). The string bodies exclude ESC and
# ST so a scan stops at the next escape: linear time however hostile the text.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]"
)
# Bidirectional overrides can make displayed text lie about its order ("Trojan source").
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Returns `text` without control characters (keeps newline and tab).

    Carriage returns are dropped too (a lone CR would move the cursor to the line start),
    after turning CRLF into LF so Windows line endings keep their line breaks.
    """
    text = text.replace("\r\n", "\n")
    text = _SEQUENCE.sub("", text)
    text = _CONTROL.sub("", text)
    return _BIDI.sub("", text)


HIDDEN = "\u200b"
"""What `hide_controls` puts in place of each hidden character: zero width, drawn as nothing."""


def hide_controls(text: str) -> str:
    """`text` with what `clean()` removes replaced one for one by `HIDDEN` (same length).

    For editors: their cursor and wrapping index the stored text, so the drawn line must
    keep its length; the hidden characters take no cell and reach the terminal as nothing.
    """
    if not _ANY_CONTROL.search(text):
        return text

    def hide(match: re.Match[str]) -> str:
        return HIDDEN * len(match.group())

    return _BIDI.sub(hide, _CONTROL.sub(hide, _SEQUENCE.sub(hide, text)))


def count_sequences(text: str) -> int:
    """How many control sequences and other control characters `clean()` removes from `text`.

    Line endings do not count (a CR before LF is a Windows line break, not a control).
    """
    rest = _SEQUENCE.sub("", text.replace("\r\n", "\n"))
    return len(_SEQUENCE.findall(text)) + len(_CONTROL.findall(rest))


# What an unfinished control sequence at the end of a fragment looks like.
_PARTIAL = re.compile(
    r"\x1b"
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*\x1b?"
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*\x1b?"
    r"|\x1b[\x20-\x2f]+"
)
_INTRODUCER = re.compile(r"[\x1b\x9b\x9d\x90\x98\x9e\x9f]")
# A longer unfinished sequence is not held back: it is drawn cleaned (introducer dropped).
_HOLD_LIMIT = 1024


class StreamCleaner:
    r"""Cleans streamed fragments so a control sequence split between two goes whole.

    `clean()` per fragment would see `\x1b[3` and `1m` apart and draw `31m`; this holds
    an unfinished sequence at a fragment's end back until the next fragment (or `flush`).
    """

    def __init__(self) -> None:
        self._held = ""

    def feed(self, fragment: str) -> str:
        """The cleaned text that can be drawn now."""
        text = self._held + fragment
        self._held = ""
        window = max(len(text) - _HOLD_LIMIT, 0)
        for match in _INTRODUCER.finditer(text, window):
            if _PARTIAL.fullmatch(text, match.start()):
                text, self._held = text[: match.start()], text[match.start() :]
                break
        return clean(text)

    def flush(self) -> str:
        """What is still held (the stream ended), cleaned."""
        text, self._held = self._held, ""
        return clean(text)


_ANY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def inert(text: str, style: str = "") -> Text:
    """A Rich `Text` of the cleaned string: never parsed as markup."""
    # Rich here, not at the top: the command line cleans text with this module and
    # draws nothing (issue 13: start-up).
    from rich.text import Text

    return Text(clean(text), style=style)


def first_line(text: str, limit: int) -> str:
    """The first non-empty line of cleaned text, cut to `limit` characters with an ellipsis."""
    cleaned = clean(text).strip()
    line = cleaned.split("\n", 1)[0].strip() if cleaned else ""
    if len(line) > limit:
        line = line[: max(limit - 1, 0)].rstrip() + "…"
    return line
