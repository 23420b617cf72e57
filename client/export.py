"""Conversation forests as files: lossless JSON, Markdown, preference pairs and Graphviz.

Everything here is a pure function of data, so scripts, the `grove` command and tests share
one definition of each format:

- `export_json(conversation, tokens_by_id)` turns a loaded SDK `Conversation` (plus the
  tokens of its model replies, see `collect_tokens`) into the *export document*, a plain
  dict that `json.dumps` writes. It is lossless: every field the API exposes, tokens with
  their logprobs and alternatives included, so `import_request(document)` rebuilds the same
  forest on any server (with new ids and times).
- `to_markdown`, `to_dot` and `preference_pairs` read an export document (a freshly built
  one or a file read back), never the network, which keeps them testable and lets them
  work on files.

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
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from grove_explorer.protos import chat_pb2, sampler_public_pb2

if TYPE_CHECKING:
    from grove_explorer.client.grok import Conversation, Response
    from grove_explorer.client.streams import TokenInfo

FORMAT_NAME = "grove.conversation"
"""Value of the document's `format` key, so a reader can tell our files from others."""
FORMAT_VERSION = 1
"""Bumped whenever a reader of the previous version would misread a new document."""

Document = dict[str, Any]
"""An export document (see the module docstring and README for its fields)."""


# -- export ---------------------------------------------------------------------------------


def shortest_float32(value: float) -> float:
    """The shortest decimal that reads back as the same float32 as `value`.

    The wire carries temperature, top-p and logprobs as float32; Python widens them to
    doubles with noisy digits (0.699999988079071). Writing the shortest equivalent keeps
    files readable and still exact at the precision the server stores.
    """
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
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def token_to_dict(token: TokenInfo) -> dict[str, Any]:
    """One sampled token: `text`, `logprob` (None when unknown) and `top` [[text, logprob]]."""
    return {
        "text": token.text,
        "logprob": None if token.logprob is None else shortest_float32(token.logprob),
        "top": [[text, shortest_float32(logprob)] for text, logprob in token.top],
    }


def response_to_dict(
    response: Response, tokens: Sequence[TokenInfo] | None = None
) -> dict[str, Any]:
    """Every field of one response, named as in `protos/chat.proto`.

    `tokens` is None when they were not fetched (always for human messages); a model reply
    whose tokens were fetched gets a list, empty for manual replies.
    """
    params = response.sampling_params
    annotation = response.annotation
    return {
        "response_id": response.response_id,
        "parent_response_id": response.parent_response_id,
        "sender": response.sender,
        "message": response.message,
        "create_time": _iso(response.create_time),
        "manual": response.manual,
        "partial": response.partial,
        "shared": response.shared,
        "query": response.query,
        "query_type": response.query_type,
        "model_name": response.model_name,
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
        "token_count": response.token_count,
        "time_to_first_token_seconds": response.time_to_first_token,
        "total_time_seconds": response.total_time,
        "prefix_length": response.prefix_length,
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


def conversation_metadata(conversation: Conversation) -> dict[str, Any]:
    """Id, title, star, times and response count of a loaded conversation."""
    # The SDK keeps the wire message; update_time has no public property on Conversation,
    # and this module belongs to the SDK, so it reads the message directly.
    wire = conversation._get_conversation_or_raise()
    update_time = (
        wire.update_time.ToDatetime(tzinfo=datetime.UTC) if wire.HasField("update_time") else None
    )
    return {
        "conversation_id": conversation.conversation_id,
        "title": conversation.title,
        "starred": conversation.starred,
        "create_time": _iso(conversation.create_time),
        "update_time": _iso(update_time),
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


async def collect_tokens(
    conversation: Conversation, concurrency: int = 8
) -> dict[str, list[TokenInfo]]:
    """Fetches the tokens of every model reply, a few requests at a time.

    Bounded concurrency keeps a large forest's export fast without opening hundreds of
    calls at once.
    """
    gate = asyncio.Semaphore(concurrency)

    async def one(response: Response) -> tuple[str, list[TokenInfo]]:
        async with gate:
            return response.response_id, await response.tokens()

    pairs = await asyncio.gather(*(one(r) for r in conversation.responses if r.sender == "model"))
    return dict(pairs)


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
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _pretty(value: Any, indent: int, level: int, compact_items: bool = False) -> str:
    """`json.dumps(indent=…)` layout, except that `compact_items` lists hold one-line items."""
    pad = " " * (indent * (level + 1))
    end = " " * (indent * level)
    if isinstance(value, dict) and value:
        items = [
            f"{pad}{_compact(str(key))}: {_pretty(item, indent, level + 1, key == 'tokens')}"
            for key, item in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(value, list) and value:
        if compact_items:
            items = [pad + _compact(item) for item in value]
        else:
            items = [pad + _pretty(item, indent, level + 1) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + end + "]"
    return _compact(value)


# -- reading a document ----------------------------------------------------------------------


@dataclass
class Forest:
    """An export document's responses as a tree: children, paths and sibling positions."""

    document: Mapping[str, Any]
    by_id: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    children: dict[str | None, list[Mapping[str, Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> Forest:
        """Indexes a document (its responses in creation order)."""
        forest = cls(document)
        for response in document.get("responses", []):
            forest.by_id[response["response_id"]] = response
            forest.children.setdefault(response.get("parent_response_id"), []).append(response)
        return forest

    @property
    def responses(self) -> list[Mapping[str, Any]]:
        """All responses in creation order."""
        return list(self.by_id.values())

    def default_leaf(self) -> str | None:
        """The newest response, which is where the seed's `load()` puts the leaf."""
        responses = self.document.get("responses", [])
        return responses[-1]["response_id"] if responses else None

    def path(self, leaf_id: str | None = None) -> list[Mapping[str, Any]]:
        """Root → leaf (default: the newest response). ValueError for an unknown leaf."""
        leaf_id = leaf_id if leaf_id is not None else self.default_leaf()
        if leaf_id is None:
            return []
        if leaf_id not in self.by_id:
            raise ValueError(f"There is no response {leaf_id!r} in this conversation.")
        path: list[Mapping[str, Any]] = []
        node: Mapping[str, Any] | None = self.by_id[leaf_id]
        while node is not None and node not in path:  # a hand-made cycle ends the walk
            path.append(node)
            parent = node.get("parent_response_id")
            node = self.by_id.get(parent) if parent else None
        return path[::-1]

    def siblings(self, response: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The responses sharing this one's parent (roots: all roots), oldest first."""
        return self.children.get(response.get("parent_response_id"), [])

    def position(self, response: Mapping[str, Any]) -> tuple[int, int]:
        """(k, n): this response is the k-th of n siblings (1-based)."""
        siblings = self.siblings(response)
        ids = [s["response_id"] for s in siblings]
        return ids.index(response["response_id"]) + 1, len(siblings)


def _format_number(value: float | int | None) -> str:
    if value is None:
        return "?"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def sampling_summary(params: Mapping[str, Any] | None) -> str:
    """`temperature 0.7, top-p 0.95, max tokens 256, seed 42` (only the fields present)."""
    if not params:
        return ""
    parts = []
    if params.get("temperature") is not None:
        parts.append(f"temperature {_format_number(params['temperature'])}")
    if params.get("top_p") is not None:
        parts.append(f"top-p {_format_number(params['top_p'])}")
    if params.get("max_tokens") is not None:
        parts.append(f"max tokens {params['max_tokens']}")
    if params.get("seed") is not None:
        parts.append(f"seed {params['seed']}")
    return ", ".join(parts)


def _sender_label(response: Mapping[str, Any]) -> str:
    if response["sender"] == "human":
        return "Human"
    return "Model (manual)" if response.get("manual") else "Model"


def _marks(response: Mapping[str, Any]) -> list[str]:
    """Short words for a response's flags and annotation, for headings and labels."""
    marks = []
    if response.get("partial"):
        marks.append("partial")
    if response.get("shared"):
        marks.append("shared")
    if response.get("prefix_length"):
        marks.append(f"first {response['prefix_length']} characters given")
    annotation = response.get("annotation") or {}
    if annotation.get("bookmarked"):
        marks.append("bookmarked")
    rating = annotation.get("rating") or 0
    if rating:
        marks.append(f"rated {rating:+d}")
    if annotation.get("tags"):
        marks.append("tags: " + ", ".join(annotation["tags"]))
    return marks


# -- Markdown --------------------------------------------------------------------------------


def _markdown_body(response: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    if response.get("query"):
        kind = response.get("query_type") or "query"
        lines += [f"*{kind} query:* {response['query']}", ""]
    lines.append(response["message"])
    note = (response.get("annotation") or {}).get("note")
    if note:
        lines += ["", *("> " + line if line else ">" for line in f"Note: {note}".split("\n"))]
    return lines


def to_markdown(
    document: Mapping[str, Any], *, leaf_id: str | None = None, all_branches: bool = False
) -> str:
    """Markdown of one path (default: to the newest response) or of the whole forest.

    The path form reads like a chat transcript: a heading per message with its sender,
    model, sampling parameters and "branch k/n" where siblings exist. The forest form
    (`all_branches`) lists every response depth first, numbered [1], [2], … with "reply to
    [m]" and its branch position, marking the responses on the current path, so the whole
    tree survives in a linear document. Message text is written exactly as stored.
    """
    forest = Forest.of(document)
    path = forest.path(leaf_id)
    # A heading is one line: a title with line breaks would spill into the body.
    title = " ".join(str(document.get("title") or "").split()) or "Untitled conversation"
    lines = [f"# {title}", ""]
    count = len(forest.by_id)
    scope = (
        "every branch, depth first; ► marks the current path"
        if all_branches
        else f"the path to {'the newest response' if leaf_id is None else 'the chosen leaf'}"
        f" ({len(path)} of {count} responses)"
    )
    meta = [f"Conversation `{document.get('conversation_id', '')}`"]
    if document.get("create_time"):
        meta.append(f"created {document['create_time']}")
    if document.get("starred"):
        meta.append("starred")
    meta.append(scope)
    lines += [" · ".join(meta), ""]

    if not all_branches:
        for response in path:
            parts = [_sender_label(response)]
            if response.get("model_name"):
                parts.append(response["model_name"])
            sampling = sampling_summary(response.get("sampling_params"))
            if sampling:
                parts.append(sampling)
            k, n = forest.position(response)
            if n > 1:
                parts.append(f"branch {k}/{n}")
            parts += _marks(response)
            lines += [f"## {' · '.join(parts)}", "", *_markdown_body(response), ""]
        return "\n".join(lines).rstrip("\n") + "\n"

    on_path = {r["response_id"] for r in path}
    numbers: dict[str, int] = {}
    stack = list(reversed(forest.children.get(None, [])))
    while stack:
        response = stack.pop()
        numbers[response["response_id"]] = len(numbers) + 1
        k, n = forest.position(response)
        parts = [f"[{numbers[response['response_id']]}] {_sender_label(response)}"]
        parent = response.get("parent_response_id")
        if parent:
            parts.append(f"reply to [{numbers[parent]}]")
            if n > 1:
                parts.append(f"branch {k}/{n}")
        else:
            parts.append(f"root {k}/{n}")
        if response.get("model_name"):
            parts.append(response["model_name"])
        sampling = sampling_summary(response.get("sampling_params"))
        if sampling:
            parts.append(sampling)
        parts += _marks(response)
        marker = "► " if response["response_id"] in on_path else ""
        lines += [f"## {marker}{' · '.join(parts)}", "", *_markdown_body(response), ""]
        stack.extend(reversed(forest.children.get(response["response_id"], [])))
    return "\n".join(lines).rstrip("\n") + "\n"


# -- Graphviz --------------------------------------------------------------------------------

_DOT_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def dot_string(text: str) -> str:
    r"""A DOT double-quoted string whose content shows `text` literally.

    Backslashes are doubled first (in labels `\n`, `\l`, `\N`, `\G` … are escapes),
    then quotes are escaped and each line break becomes the centred-line escape `\n`;
    control characters are dropped, as they mean nothing in a drawing.
    """
    text = text.replace("\r\n", "\n").replace("\t", "    ")
    text = _DOT_CONTROL.sub("", text)
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _excerpt(text: str, width: int = 40, lines: int = 3) -> str:
    """The start of a message wrapped at words to a few short lines (blank lines dropped)."""
    wrapped = [part for line in text.split("\n") for part in textwrap.wrap(line, width, tabsize=4)]
    if len(wrapped) <= lines:
        return "\n".join(wrapped)
    kept = wrapped[:lines]
    kept[-1] = kept[-1][: width - 1].rstrip() + "…"
    return "\n".join(kept)


_HUMAN_STYLE = {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbeafe"}
_MODEL_STYLE = {"shape": "box", "style": "filled", "fillcolor": "#dcfce7"}
_MANUAL_STYLE = {"shape": "box", "style": "filled", "fillcolor": "#fef9c3"}


def to_dot(document: Mapping[str, Any], *, leaf_id: str | None = None) -> str:
    """Graphviz DOT of the forest, for `dot -Tsvg`.

    Humans are rounded blue boxes, model replies green boxes, manual replies yellow;
    partial replies are dashed, bookmarked ones get a double border and ★, and the current
    path (default: to the newest response) is drawn bold, nodes and edges.
    """
    forest = Forest.of(document)
    on_path = {r["response_id"] for r in forest.path(leaf_id)}
    title = document.get("title") or "Untitled conversation"
    out = [
        "digraph grove {",
        f"  graph [label={dot_string(title)}, labelloc=t, rankdir=TB];",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [color="#64748b"];',
    ]
    for response in forest.responses:
        rid = response["response_id"]
        if response["sender"] == "human":
            attrs = dict(_HUMAN_STYLE)
        elif response.get("manual"):
            attrs = dict(_MANUAL_STYLE)
        else:
            attrs = dict(_MODEL_STYLE)
        styles = attrs["style"].split(",")
        if response.get("partial"):
            styles.append("dashed")
        if rid in on_path:
            styles.append("bold")
            attrs["penwidth"] = "2.5"
        attrs["style"] = ",".join(styles)
        annotation = response.get("annotation") or {}
        head = [_sender_label(response)]
        if response.get("model_name"):
            head.append(response["model_name"])
        k, n = forest.position(response)
        if n > 1:
            head.append(f"{k}/{n}")
        if annotation.get("bookmarked"):
            head.insert(0, "★")
            attrs["peripheries"] = "2"
        if annotation.get("rating"):
            head.append(f"{annotation['rating']:+d}")
        if response.get("partial"):
            head.append("partial")
        label = " · ".join(head) + "\n" + _excerpt(response["message"])
        rendered = ", ".join(
            f"{key}={dot_string(value)}" for key, value in [("label", label), *attrs.items()]
        )
        out.append(f"  {dot_string(rid)} [{rendered}];")
    for response in forest.responses:
        parent = response.get("parent_response_id")
        if parent:
            rid = response["response_id"]
            bold = " [style=bold, penwidth=2.5]" if rid in on_path and parent in on_path else ""
            out.append(f"  {dot_string(parent)} -> {dot_string(rid)}{bold};")
    out.append("}")
    return "\n".join(out) + "\n"


# -- preference pairs ------------------------------------------------------------------------


def _as_message(response: Mapping[str, Any]) -> dict[str, str]:
    role = "user" if response["sender"] == "human" else "assistant"
    return {"role": role, "content": response["message"]}


def preference_pairs(
    document: Mapping[str, Any], *, leaf_id: str | None = None
) -> list[dict[str, Any]]:
    """Preference pairs (`prompt`, `chosen`, `rejected`) from sibling model replies.

    Two sources, both among model replies that share a parent (the prompt):

    - `rating`: every reply rated +1 against every sibling rated -1.
    - `picked`: the reply on the current path (default: to the newest response) when it is
      rated +1 or bookmarked, against each sibling that is neither rated +1 nor
      bookmarked — the reply the user went on with is preferred over the ones left aside.
      A pair the ratings already give is not repeated.

    The prompt is the conversation from its root to the parent, as chat messages
    (`{"role": "user"|"assistant", "content": …}`); `chosen` and `rejected` are one
    assistant message each — the "conversational" preference format of TRL's DPO trainer.
    `metadata` names the conversation, the parent, both replies and their models.
    """
    forest = Forest.of(document)
    current = {r["response_id"] for r in forest.path(leaf_id)}
    pairs: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()

    def add(chosen: Mapping[str, Any], rejected: Mapping[str, Any], source: str) -> None:
        key = (chosen["response_id"], rejected["response_id"])
        if key in seen:
            return
        seen.add(key)
        parent = chosen["parent_response_id"]
        pairs.append(
            {
                "prompt": [_as_message(r) for r in forest.path(parent)],
                "chosen": [_as_message(chosen)],
                "rejected": [_as_message(rejected)],
                "metadata": {
                    "source": source,
                    "conversation_id": document.get("conversation_id", ""),
                    "parent_response_id": parent,
                    "chosen_response_id": chosen["response_id"],
                    "rejected_response_id": rejected["response_id"],
                    "chosen_model": chosen.get("model_name", ""),
                    "rejected_model": rejected.get("model_name", ""),
                },
            }
        )

    def rating(response: Mapping[str, Any]) -> int:
        return int((response.get("annotation") or {}).get("rating") or 0)

    def bookmarked(response: Mapping[str, Any]) -> bool:
        return bool((response.get("annotation") or {}).get("bookmarked"))

    for parent, children in forest.children.items():
        if parent is None:
            continue  # a root reply has no prompt to prefer it for
        replies = [c for c in children if c["sender"] == "model"]
        for good in (r for r in replies if rating(r) > 0):
            for bad in (r for r in replies if rating(r) < 0):
                add(good, bad, "rating")
        picked = [
            r
            for r in replies
            if r["response_id"] in current and (rating(r) > 0 or bookmarked(r)) and rating(r) >= 0
        ]
        for good in picked:
            for other in replies:
                if other is good or rating(other) > 0 or bookmarked(other):
                    continue
                add(good, other, "picked")
    return pairs


def to_jsonl(records: Iterable[Any]) -> str:
    """One compact JSON document per line (safe to print, see `dumps`)."""
    return "".join(dumps(record, indent=None) + "\n" for record in records)


# -- import ----------------------------------------------------------------------------------


class _Checker:
    """Reads a document field by field, raising ValueError sentences that name the path."""

    def __init__(self, value: Any, path: str) -> None:
        self.value = value
        self.path = path

    def fail(self, problem: str) -> ValueError:
        return ValueError(f"{self.path}: {problem}")

    def child(self, key: str | int, required: bool = True, default: Any = None) -> _Checker:
        path = f"{self.path}[{key}]" if isinstance(key, int) else f"{self.path}.{key}"
        if isinstance(key, str):
            if not isinstance(self.value, dict):
                raise self.fail("must be an object.")
            if key not in self.value:
                if required:
                    raise ValueError(f"{path}: is missing.")
                return _Checker(default, path)
        return _Checker(self.value[key], path)

    def string(self, *, allow_none: bool = False) -> str | None:
        if self.value is None and allow_none:
            return None
        if not isinstance(self.value, str):
            raise self.fail("must be a string.")
        return self.value

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.fail("must be true or false.")
        return self.value

    def integer(self, low: int | None = None, high: int | None = None) -> int:
        if not isinstance(self.value, int) or isinstance(self.value, bool):
            raise self.fail("must be an integer.")
        if (low is not None and self.value < low) or (high is not None and self.value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.fail(f"must be {bounds}, not {self.value}.")
        return self.value

    def number(self, *, allow_none: bool = False) -> float | None:
        if self.value is None and allow_none:
            return None
        if not isinstance(self.value, int | float) or isinstance(self.value, bool):
            raise self.fail("must be a number.")
        return float(self.value)

    def items(self, *, allow_none: bool = False) -> list[_Checker]:
        if self.value is None and allow_none:
            return []
        if not isinstance(self.value, list):
            raise self.fail("must be a list.")
        return [self.child(i) for i in range(len(self.value))]


_MAX_UINT64 = 2**64 - 1
_MAX_INT32 = 2**31 - 1


def _sampling(check: _Checker) -> sampler_public_pb2.SamplingParams | None:
    if check.value is None:
        return None
    params = sampler_public_pb2.SamplingParams()
    temperature = check.child("temperature", False).number(allow_none=True)
    if temperature is not None:
        params.temperature = temperature
    top_p = check.child("top_p", False).number(allow_none=True)
    if top_p is not None:
        params.top_p = top_p
    max_tokens = check.child("max_tokens", False)
    if max_tokens.value is not None:
        params.max_tokens = max_tokens.integer(0, _MAX_INT32)
    seed = check.child("seed", False)
    if seed.value is not None:
        params.seed = seed.integer(0, _MAX_UINT64)
    return params


def _annotation(check: _Checker) -> chat_pb2.Annotation | None:
    if check.value is None:
        return None
    return chat_pb2.Annotation(
        bookmarked=check.child("bookmarked", False, False).boolean(),
        tags=[t.string() or "" for t in check.child("tags", False, []).items()],
        rating=check.child("rating", False, 0).integer(-1, 1),
        note=check.child("note", False, "").string() or "",
    )


def _token(check: _Checker) -> sampler_public_pb2.Token:
    logprob = check.child("logprob").number(allow_none=True)
    top = []
    for pair in check.child("top", False, []).items():
        if not isinstance(pair.value, list) or len(pair.value) != 2:
            raise pair.fail("must be a [text, logprob] pair.")
        top.append(
            sampler_public_pb2.Logit(
                string_token=pair.child(0).string() or "", logprob=pair.child(1).number() or 0.0
            )
        )
    return sampler_public_pb2.Token(
        final_logit=sampler_public_pb2.Logit(
            string_token=check.child("text").string() or "",
            logprob=0.0 if logprob is None else logprob,
        ),
        top_logits=top,
        logprob_unknown=logprob is None,
    )


def import_request(data: Any) -> chat_pb2.ImportConversationRequest:
    """Validates an export document and builds the request that recreates its forest.

    Checks what a server cannot know about a file — the format and version, field types,
    ids unique and parents before children, tokens only on model replies — and raises a
    ValueError whose sentence starts with the JSON path of the first problem
    (`$.responses[3].sender: must be "human" or "model".`). Ids, `conversation_id` and
    times are not sent: the server assigns new ones. Limits the server enforces (message
    size, title length, sampling ranges) are left to it, so they stay in one place.
    """
    root = _Checker(data, "$")
    if not isinstance(data, dict):
        raise root.fail("must be a JSON object (an export of `grove export --format json`).")
    name = root.child("format", False).value
    if name != FORMAT_NAME:
        raise ValueError(
            f"$.format: must be {FORMAT_NAME!r} (a `grove export --format json` file), "
            f"not {name!r}."
        )
    version = root.child("version").value
    if version != FORMAT_VERSION:
        raise ValueError(
            f"$.version: this Grove reads version {FORMAT_VERSION} files, not {version!r}."
        )
    request = chat_pb2.ImportConversationRequest(
        title=root.child("title", False, "").string() or "",
        starred=root.child("starred", False, False).boolean(),
    )
    seen: set[str] = set()
    for check in root.child("responses").items():
        rid = check.child("response_id").string() or ""
        if not rid:
            raise check.child("response_id").fail("must not be empty.")
        if rid in seen:
            raise check.child("response_id").fail(f"{rid!r} appears twice.")
        parent_check = check.child("parent_response_id")
        parent = parent_check.string(allow_none=True) or ""
        if parent and parent not in seen:
            raise parent_check.fail(
                f"names {parent!r}, which does not come before it (parents must come first)."
            )
        sender = check.child("sender").string()
        if sender not in ("human", "model"):
            raise check.child("sender").fail(f'must be "human" or "model", not {sender!r}.')
        message = check.child("message").string() or ""
        prefix_length = check.child("prefix_length", False, 0).integer(0, len(message))
        wire = chat_pb2.Response(
            response_id=rid,
            parent_response_id=parent,
            sender=sender,
            message=message,
            manual=check.child("manual", False, False).boolean(),
            partial=check.child("partial", False, False).boolean(),
            shared=check.child("shared", False, False).boolean(),
            query=check.child("query", False, "").string() or "",
            query_type=check.child("query_type", False, "").string() or "",
            model_name=check.child("model_name", False, "").string() or "",
            token_count=check.child("token_count", False, 0).integer(0, _MAX_INT32),
            time_to_first_token_seconds=check.child(
                "time_to_first_token_seconds", False, 0.0
            ).number()
            or 0.0,
            total_time_seconds=check.child("total_time_seconds", False, 0.0).number() or 0.0,
            prefix_length=prefix_length,
        )
        sampling = _sampling(check.child("sampling_params", False))
        if sampling is not None:
            wire.sampling_params.CopyFrom(sampling)
        annotation = _annotation(check.child("annotation", False))
        if annotation is not None:
            wire.annotation.CopyFrom(annotation)
        tokens_check = check.child("tokens", False)
        tokens = [_token(t) for t in tokens_check.items(allow_none=True)]
        if tokens and sender != "model":
            raise tokens_check.fail("only model replies carry tokens.")
        if tokens:
            request.tokens[rid].tokens.extend(tokens)
        request.responses.append(wire)
        seen.add(rid)
    return request
