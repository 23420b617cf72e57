"""The export document: a loaded conversation as a lossless, JSON-ready dict.

`export_json(conversation, tokens_by_id)` turns a loaded SDK `Conversation` (plus the
tokens of its model replies, see `collect_tokens`) into the *export document*: every field
the API exposes, tokens with their logprobs and alternatives included, so
`import_request(document)` rebuilds the same forest on any server. `dumps` writes it.

Floats that travel as float32 on the wire (temperature, top-p, logprobs) are written as the
shortest decimal that reads back as the same float32 (0.7 rather than 0.699999988079071):
no information is lost and an export → import → export round trip is byte-stable.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import math
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from grove_explorer.client.conversation import Conversation
from grove_explorer.client.judgements import Judgement
from grove_explorer.client.models import ResponseNode, TokenInfo
from grove_explorer.client.response import Response
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


def _iso(value: datetime.datetime | None) -> str | None:
    """UTC ISO 8601 with a `Z`, the least ambiguous form for scripts."""
    if value is None:
        return None
    if value.tzinfo is not datetime.UTC:  # the client's times are UTC already
        value = value.astimezone(datetime.UTC)
    return value.isoformat().replace("+00:00", "Z")


def token_to_dict(token: TokenInfo) -> dict[str, Any]:
    """One sampled token: `text`, `logprob` (None when unknown) and `top` [[text, logprob]]."""
    return {
        "text": token.text,
        "logprob": None if token.logprob is None else shortest_float32(token.logprob),
        "top": [[text, shortest_float32(logprob)] for text, logprob in token.top],
    }


def response_to_dict(
    response: Response | ResponseNode, tokens: Sequence[TokenInfo] | None = None
) -> dict[str, Any]:
    """Every field of one response, named as in `protos/chat.proto`.

    `tokens` is None when they were not fetched (always for human messages); a model reply
    whose tokens were fetched gets a list, empty for manual replies.
    """
    node = response.node if isinstance(response, Response) else response
    params = node.sampling
    annotation = node.annotation
    data: dict[str, Any] = {
        "response_id": node.response_id,
        "parent_response_id": node.parent_id,
        "sender": node.sender,
        "message": node.message,
        "create_time": _iso(node.create_time),
        "manual": node.manual,
        "partial": node.partial,
        "shared": node.shared,
        "query": node.query,
        "query_type": node.query_type,
        "model_name": node.model_name,
        "sampling_params": None
        if params is None
        else {
            "temperature": None
            if params.temperature is None
            else shortest_float32(params.temperature),
            "top_p": None if params.top_p is None else shortest_float32(params.top_p),
            "max_tokens": params.max_tokens,
            "seed": params.seed,
        },
        "token_count": node.token_count,
        "time_to_first_token_seconds": node.time_to_first_token,
        "total_time_seconds": node.total_time,
        "prefix_length": node.prefix_length,
        "start_time": _iso(node.start_time),
        "finish_reason": node.finish_reason,
        "annotation": None
        if annotation.empty
        else {
            "bookmarked": annotation.bookmarked,
            "tags": list(annotation.tags),
            "rating": annotation.rating,
            "note": annotation.note,
        },
        "tokens": None if tokens is None else [token_to_dict(t) for t in tokens],
    }
    if node.judgements:  # only then: documents of unjudged replies are unchanged
        data["judgements"] = [judgement_to_dict(j) for j in node.judgements]
    usage = node.reported_usage
    if usage is not None:  # only then: documents of replies without one are unchanged
        data["reported_usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
        }
    if node.merged_from:  # a fused reply only: other documents are unchanged
        data["merged_from"] = list(node.merged_from)
        data["merge_mode"] = node.merge_mode
        data["merge_instruction"] = node.merge_instruction
    if node.replay_of:  # a replayed turn only: other documents are unchanged
        data["replay_of"] = node.replay_of
    if node.system_prompt_name is not None:  # only where recorded (golden files have none)
        data["system_prompt_name"] = node.system_prompt_name
    return data


def judgement_to_dict(judgement: Judgement) -> dict[str, Any]:
    """Every field of one judgement, named as in `protos/chat.proto` (`Judgement`)."""
    params = judgement.sampling
    return {
        "judgement_id": judgement.judgement_id,
        "score": judgement.score,
        "rationale": judgement.rationale,
        "judge_model": judgement.judge_model,
        "rubric_name": judgement.rubric_name,
        "rubric": judgement.rubric,
        "sampling_params": None
        if params is None
        else {
            "temperature": None
            if params.temperature is None
            else shortest_float32(params.temperature),
            "top_p": None if params.top_p is None else shortest_float32(params.top_p),
            "max_tokens": params.max_tokens,
            "seed": params.seed,
        },
        "mode": judgement.mode,
        "create_time": _iso(judgement.create_time),
        "batch_id": judgement.batch_id,
        "heuristic": judgement.heuristic,
    }


def conversation_metadata(conversation: Conversation) -> dict[str, Any]:
    """Id, title, star, times and response count of a loaded conversation."""
    return {
        "conversation_id": conversation.conversation_id,
        "title": conversation.title,
        "starred": conversation.starred,
        "create_time": _iso(conversation.create_time),
        "update_time": _iso(conversation.update_time),
        "response_count": len(conversation.responses),
    }


def export_json(
    conversation: Conversation, tokens_by_id: Mapping[str, Sequence[TokenInfo]]
) -> Document:
    """The lossless export document of a loaded conversation.

    Responses are in creation order (parents always before their children), which is
    also the order `import_request` needs. Model replies missing from `tokens_by_id` get
    `tokens: null` (not fetched), which an import treats like an empty list.
    """
    document: Document = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
    document.update(conversation_metadata(conversation))
    document["responses"] = [
        response_to_dict(r, tokens_by_id.get(r.response_id) if r.sender == "model" else None)
        for r in conversation.responses
    ]
    return document


async def collect_tokens(conversation: Conversation) -> dict[str, list[TokenInfo]]:
    """Fetches the tokens of every model reply (a thousand replies per call).

    A manual reply has no tokens (the server stores none for one, and an import refuses
    them), so it gets [] without being asked for.
    """
    replies = [r for r in conversation.responses if r.sender == "model"]
    fetched = await Response.tokens_of([r for r in replies if not r.manual])
    return {r.response_id: fetched.get(r.response_id, []) for r in replies}


TOKEN_REPLIES_PER_CALL = 250
"""Replies whose tokens `json_text` asks for per call (~6,000 tokens of 25-token replies)."""


async def json_text(conversation: Conversation) -> str:
    """`dumps(export_json(conversation, await collect_tokens(conversation)))`, faster.

    The same text, but each token is written straight from its wire message: building a
    `TokenInfo` and then a dict for each of a 5,000-reply path's 65,000 tokens, only to
    write them once, cost most of its export (bench.store --part exporting). And the
    tokens are asked for a few hundred replies at a time, the next call under way while
    the last batch is written (in a thread, so the event loop sends the call meanwhile):
    the server reads and converts the next batch while this process writes the last,
    instead of each waiting for the other.
    """
    replies = [r for r in conversation.responses if r.sender == "model"]
    sampled = [r for r in replies if not r.manual]
    batches = [
        sampled[start : start + TOKEN_REPLIES_PER_CALL]
        for start in range(0, len(sampled), TOKEN_REPLIES_PER_CALL)
    ]
    lines: dict[str, list[str]] = {r.response_id: [] for r in replies}
    pending = asyncio.ensure_future(Response.wire_tokens_of(batches[0])) if batches else None
    try:
        document = export_json(conversation, {})  # while the first batch is read
        for index in range(len(batches)):
            assert pending is not None
            found = await pending
            pending = None
            if index + 1 < len(batches):
                pending = asyncio.ensure_future(Response.wire_tokens_of(batches[index + 1]))
            # In a thread, so that the loop sends the next call (and reads its reply) now.
            lines.update(await asyncio.to_thread(_replies_token_lines, found))
    finally:
        if pending is not None and not pending.cancel() and not pending.cancelled():
            pending.exception()  # it had finished: a failure of its own is not news now
    for entry in document["responses"]:
        written = lines.get(entry["response_id"])
        if written is not None:
            entry["tokens"] = _TokenLines(written)
    return dumps(document)


def _replies_token_lines(
    found: Mapping[str, Iterable[sampler_public_pb2.Token]],
) -> dict[str, list[str]]:
    return {response_id: _token_lines(tokens) for response_id, tokens in found.items()}


class _TokenLines:
    """A reply's tokens, each written (`_token_lines`), which `dumps` lays out as a list."""

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


def _token_lines(tokens: Iterable[sampler_public_pb2.Token]) -> list[str]:
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

_NESTED = (dict, list, _TokenLines)
"""What `_write_pretty` lays out over several lines; anything else is written compactly."""


def _write_pretty(value: Any, indent: int, level: int, compact_items: bool, out: list[str]) -> None:
    """Appends the pretty JSON of `value` to `out` (`compact_items`: a `tokens` list)."""
    if type(value) is _TokenLines:
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
