"""`clean()` drops whole control sequences; editors hide them; streams keep split ones whole."""

from __future__ import annotations

import pytest

from grove_explorer.app.safe_text import (
    HIDDEN,
    StreamCleaner,
    clean,
    count_sequences,
    hide_controls,
)
from grove_explorer.app.widgets.message_view import shaded_tokens
from grove_explorer.client.models import TokenInfo

CASES = [
    ("\x1b[31mRED\x1b[0m", "RED"),  # SGR (CSI)
    ("a\x1b[2Jb\x1b[?1049hc", "abc"),  # clear screen, private mode
    ("a\x1b]0;title\x07b", "ab"),  # OSC ended by BEL
    ("a\x1b]52;c;ZXZpbA==\x1b\\b", "ab"),  # OSC 52 clipboard ended by ST
    ("a\x1bPq#0;2;0;0;0\x1b\\b", "ab"),  # DCS (sixel)
    ("a\x1b_Gf=24;AAAA\x1b\\b", "ab"),  # APC (kitty graphics)
    ("\x1b(Bx\x1b7y\x1b8\x1bc", "xy"),  # two-byte escapes
    ("\x9b31mz\x9d0;t\x9cw", "zw"),  # C1 CSI and OSC
    ("a\x1b]unterminated", "aunterminated"),  # only the introducer goes
    ("line\r\nnext\rx\x07\x00", "line\nnextx"),
    ("\u202eevil\u2066", "evil"),
]


@pytest.mark.parametrize(("raw", "shown"), CASES)
def test_clean_drops_whole_sequences(raw: str, shown: str) -> None:
    assert clean(raw) == shown


@pytest.mark.parametrize(("raw", "shown"), CASES)
def test_editors_hide_the_same_characters_keeping_length(raw: str, shown: str) -> None:
    hidden = hide_controls(raw)
    assert len(hidden) == len(raw), "the editor's cursor indexes the stored text"
    assert hidden.replace(HIDDEN, "") == shown
    assert not any(ch in hidden for ch in "\x1b\x07\x9b\x9d\u202e")


def test_count_sequences() -> None:
    assert count_sequences("\x1b[31mRED\x1b[0m") == 2
    assert count_sequences("plain\r\ntext\twith tab") == 0
    assert count_sequences("bell\x07") == 1


def test_a_sequence_split_between_fragments_goes_whole() -> None:
    text = "[b]x[/b] \x1b[38;5;196mred\x1b[0m \x1b]0;title\x07 \x1b]52;c;ZXZpbA==\x1b\\ end\x1b"
    for size in range(1, 9):
        cleaner = StreamCleaner()
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        drawn = "".join(cleaner.feed(piece) for piece in pieces) + cleaner.flush()
        assert drawn == clean(text) == "[b]x[/b] red   end", size


def test_token_shading_drops_a_sequence_split_over_tokens() -> None:
    tokens = [TokenInfo(text, -0.5) for text in ("a", "\x1b[3", "1m", "b\x1b]0;", "t\x07", "c")]
    shaded = shaded_tokens(tokens)
    assert shaded.text.plain == "abc"
    assert len(shaded.starts) == len(tokens) + 1, "every token keeps its (maybe empty) place"
