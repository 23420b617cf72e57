"""Makes untrusted message text inert before it reaches the terminal.

Model output (and anything stored on a server) is displayed literally: never parsed as
Rich/Textual markup, and stripped of control characters at render time so no escape
sequence (CSI clear screen, OSC title or clipboard writes, C1 controls) reaches the
terminal. Stored text stays exactly as sent; only what is drawn is cleaned.
"""

from __future__ import annotations

import re

from rich.text import Text

# C0 controls except tab (\x09) and newline (\x0a), DEL, and the C1 range. ESC (\x1b) is
# in C0, so every escape sequence loses its introducer; the printable remainder of such a
# sequence is shown as text, which is what "displayed literally" means.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional overrides can make displayed text lie about its order ("Trojan source").
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Returns `text` without control characters (keeps newline and tab).

    Carriage returns are dropped too (a lone CR would move the cursor to the line start),
    after turning CRLF into LF so Windows line endings keep their line breaks.
    """
    text = text.replace("\r\n", "\n")
    text = _CONTROL.sub("", text)
    return _BIDI.sub("", text)


def inert(text: str, style: str = "") -> Text:
    """A Rich `Text` of the cleaned string: never parsed as markup."""
    return Text(clean(text), style=style)


def first_line(text: str, limit: int) -> str:
    """The first non-empty line of cleaned text, cut to `limit` characters with an ellipsis."""
    cleaned = clean(text).strip()
    line = cleaned.split("\n", 1)[0].strip() if cleaned else ""
    if len(line) > limit:
        line = line[: max(limit - 1, 0)].rstrip() + "…"
    return line
