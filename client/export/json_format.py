"""The export file's format: its name and version, and how Grove writes JSON (`dumps`).

Apart from `document` (which turns a loaded SDK `Conversation` into a document, and so
loads the SDK's pydantic models and the conversation client) so that what only reads a file
or writes a small reply in JSON needs none of them: `grove import FILE` checks the format
name and version and prints `--json` with `dumps` (issue 13: start-up of a command).
`document` re-exports every public name here.

Floats that travel as float32 on the wire (temperature, top-p, logprobs) are written as the
shortest decimal that reads back as the same float32 (0.7 rather than 0.699999988079071):
no information is lost and an export → import → export round trip is byte-stable.
"""

from __future__ import annotations

import datetime
import json
import math
import re
import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grove_explorer.protos import sampler_public_pb2

FORMAT_NAME = "grove.conversation"
"""Value of the document's `format` key, so a reader can tell our files from others."""
FORMAT_VERSION = 1
"""Bumped whenever a reader of the previous version would misread a new document."""

Document = dict[str, Any]
"""An export document (see the module docstring and README for its fields)."""


def shortest_float32(value: float) -> float:
    """The shortest decimal that reads back as the same float32 as `value`.

    The wire carries temperature, top-p and logprobs as float32; Python widens them to
    doubles with noisy digits (0.699999988079071). Writing the shortest equivalent keeps
    files readable and still exact at the precision the server stores.
    """
    if type(value) is not float:
        return _shortest_float32(value)
    key = value.hex()  # tells -0.0 from 0.0, which compare equal
    known = _SHORTEST.get(key)
    if known is not None:
        return known
    shortest = _shortest_float32(value)
    if len(_SHORTEST) >= _SHORTEST_LIMIT:
        _SHORTEST.clear()
    _SHORTEST[key] = shortest
    return shortest


_SHORTEST: dict[str, float] = {}
"""`shortest_float32` of values seen (sampling parameters repeat on every reply)."""
_SHORTEST_LIMIT = 4096


def _shortest_float32(value: float) -> float:
    if not math.isfinite(value):
        return value
    try:
        packed = struct.pack("<f", value)
    except OverflowError:
        return value
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack("<f", candidate) == packed:
            return candidate
    return value


def utc_iso(value: datetime.datetime | None) -> str | None:
    """UTC ISO 8601 with a `Z`, the least ambiguous form for scripts."""
    if value is None:
        return None
    if value.tzinfo is not datetime.UTC:  # the client's times are UTC already
        value = value.astimezone(datetime.UTC)
    return value.isoformat().replace("+00:00", "Z")


class TokenLines:
    """A reply's tokens, each written (`token_lines`), which `dumps` lays out as a list."""

    __slots__ = ("lines",)

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines


_UNSAFE_IN_JSON = re.compile(r"[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def dumps(value: Any, *, indent: int | None = 2) -> str:
    r"""JSON with readable Unicode but no raw control or bidi characters.

    `ensure_ascii=False` keeps text legible; the few characters that could still act on a
    terminal (DEL, C1 controls, line/paragraph separators, bidi overrides) can only occur
    inside strings, where a `\uXXXX` escape denotes the same text — so the output is safe
    to print and still exact. With an indent, each item of a `tokens` list stays on one
    line: a reply has hundreds of tokens, and eight lines apiece would bury the messages.
    """
    text = _compact(value) if indent is None else _pretty(value, indent, 0)
    if text.isascii() and "\x7f" not in text:  # two scans in C, far quicker than the regex
        return text
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_ENCODER = json.JSONEncoder(ensure_ascii=False)
"""What `json.dumps(value, ensure_ascii=False)` uses, made once (not once per value)."""
_encode_string = json.encoder.encode_basestring
"""What that encoder does with a `str` (the C function when available)."""


def _compact(value: Any) -> str:
    """`json.dumps(value, ensure_ascii=False)`; scalars written here as the encoder does.

    `JSONEncoder.encode` builds its C encoder on every call, several times the cost of
    writing a number or a constant: an export document holds some twenty per response.
    """
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return _json_float(value)
    return _ENCODER.encode(value)


_TOKEN_KEYS = ("text", "logprob", "top")


def _json_float(value: float) -> str:
    """A float as `json.dumps` writes it (NaN and infinities as JavaScript names them)."""
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


_FLOAT32_TEXT: dict[float, str] = {}
"""`_json_float(shortest_float32(value))` of logprobs seen (a few hundred distinct a reply)."""


def _float32_text(value: float) -> str:
    """A float32 from the wire as `token_to_dict` and `dumps` write it, memoised.

    Keyed by the float itself, so the zeros (equal, yet written 0.0 and -0.0) and NaN
    (equal to nothing) are written without the memo.
    """
    text = _FLOAT32_TEXT.get(value) if value else None
    if text is None:
        text = _json_float(shortest_float32(value))
        if value:
            if len(_FLOAT32_TEXT) >= _SHORTEST_LIMIT:
                _FLOAT32_TEXT.clear()
            _FLOAT32_TEXT[value] = text
    return text


def token_lines(tokens: Iterable[sampler_public_pb2.Token]) -> list[str]:
    """Each wire token's one-line entry, as `_compact_token(token_to_dict(…))` writes it."""
    encode, known, number = _encode_string, _FLOAT32_TEXT.get, _float32_text
    lines = []
    for token in tokens:
        final = token.final_logit
        if token.logprob_unknown:
            logprob = "null"
        else:
            value = final.logprob
            logprob = known(value) or number(value)
        pairs = ", ".join(
            [
                f"[{encode(a.string_token)}, {known(a.logprob) or number(a.logprob)}]"
                for a in token.top_logits
            ]
        )
        lines.append(
            f'{{"text": {encode(final.string_token)}, "logprob": {logprob}, "top": [{pairs}]}}'
        )
    return lines


def _compact_token(item: Any) -> str | None:
    """`_compact(item)` for a token as `token_to_dict` makes it; None for anything else.

    An export holds a dict like this for every sampled token; writing it directly costs
    a fraction of a trip through `JSONEncoder` (which builds its C encoder on every call).
    """
    if type(item) is not dict or tuple(item) != _TOKEN_KEYS:
        return None
    text, logprob, top = item["text"], item["logprob"], item["top"]
    if type(text) is not str or type(top) is not list:
        return None
    if logprob is None:
        written = "null"
    elif type(logprob) is float:
        written = _json_float(logprob)
    else:
        return None
    pairs = []
    for pair in top:
        if (
            type(pair) is not list
            or len(pair) != 2
            or type(pair[0]) is not str
            or type(pair[1]) is not float
        ):
            return None
        pairs.append(f"[{_encode_string(pair[0])}, {_json_float(pair[1])}]")
    return f'{{"text": {_encode_string(text)}, "logprob": {written}, "top": [{", ".join(pairs)}]}}'


def _pretty(value: Any, indent: int, level: int) -> str:
    """`json.dumps(indent=…)` layout, except that `tokens` lists hold one-line items.

    Written into one list of pieces joined once: a deep export is one linear pass.
    """
    out: list[str] = []
    _write_pretty(value, indent, level, False, out)
    return "".join(out)


_KEY_TEXTS: dict[str, dict[str, str]] = {}
"""Per indentation (`pad`): each key's text, with the padding before it and ": " after."""

_NESTED = (dict, list, TokenLines)
"""What `_write_pretty` lays out over several lines; anything else is written compactly."""


def _write_pretty(value: Any, indent: int, level: int, compact_items: bool, out: list[str]) -> None:
    """Appends the pretty JSON of `value` to `out` (`compact_items`: a `tokens` list)."""
    if type(value) is TokenLines:
        if not value.lines:
            out.append("[]")
            return
        pad = ",\n" + " " * (indent * (level + 1))
        out.append("[\n" + pad[2:])
        out.append(pad.join(value.lines))
        out.append("\n" + " " * (indent * level) + "]")
    elif isinstance(value, dict) and value:
        pad = ",\n" + " " * (indent * (level + 1))
        keys = _KEY_TEXTS.get(pad)
        if keys is None:
            keys = _KEY_TEXTS[pad] = {}
        first = len(out)
        for key, item in value.items():
            # `pad`, the key and ": " in one piece, made once per key and indentation.
            start = keys.get(key) if type(key) is str else None
            if start is None:
                start = pad + _compact(str(key)) + ": "
                if type(key) is str and len(keys) < _SHORTEST_LIMIT:
                    keys[key] = start
            out.append(start)
            if type(item) is str:
                out.append(_encode_string(item))
            elif isinstance(item, _NESTED):
                _write_pretty(item, indent, level + 1, key == "tokens", out)
            else:  # a scalar: written here, without a call to come back here
                out.append(_compact(item))
        out[first] = "{" + out[first][1:]  # the first item: no comma before it
        out.append("\n" + " " * (indent * level) + "}")
    elif isinstance(value, list) and value:
        pad = ",\n" + " " * (indent * (level + 1))
        separator = "[\n" + pad[2:]
        for item in value:
            out.append(separator)
            if compact_items:
                out.append(_compact_token(item) or _compact(item))
            else:
                _write_pretty(item, indent, level + 1, False, out)
            separator = pad
        out.append("\n" + " " * (indent * level) + "]")
    else:
        out.append(_compact(value))
