"""Reading an export document: Markdown, Graphviz DOT and preference pairs.

These read an export document (a freshly built one or a file read back), never the
network, which keeps them testable and lets them work on files. The tree structure comes
from the client's one tree model, `client.forest.Forest`, built over the document's
responses (`DocumentTree`).
"""

from __future__ import annotations

import functools
import re
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from grove_explorer.client.export.document import dumps
from grove_explorer.client.finish import reply_marker
from grove_explorer.client.forest import Forest
from grove_explorer.client.models import NODE_DEFAULTS, ConversationSummary, ResponseNode

_STRUCTURE_FIELDS = ("response_id", "parent_id", "sender", "message")

# -- reading a document ----------------------------------------------------------------------


@dataclass
class DocumentTree:
    """An export document's responses seen through the client's one tree model.

    The structure (children in order, paths, sibling positions) is a `client.forest.Forest`
    over the document's ids; the fields are read from the document's entries themselves,
    so a file read back needs no conversion.
    """

    document: Mapping[str, Any]
    forest: Forest
    by_id: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    _positions: dict[str, tuple[int, int]] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> DocumentTree:
        """Indexes a document (its responses in creation order), in one pass over them."""
        summary = ConversationSummary.model_construct(
            conversation_id=str(document.get("conversation_id") or ""),
            title=str(document.get("title") or ""),
            starred=bool(document.get("starred")),
        )
        by_id: dict[str, Mapping[str, Any]] = {}

        def nodes() -> Iterator[ResponseNode]:
            # Only the structure is read from the nodes: the fields stay in the document.
            for response in document.get("responses", []):
                response_id = response["response_id"]
                by_id[response_id] = response
                fields = NODE_DEFAULTS.copy()
                fields["response_id"] = response_id
                fields["parent_id"] = response.get("parent_response_id") or None
                fields["sender"] = response.get("sender", "")
                fields["message"] = ""
                yield ResponseNode.trusted(fields, set(_STRUCTURE_FIELDS))

        forest = Forest.build(summary, nodes(), None)
        return cls(document, forest, by_id)

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
        return [self.by_id[node.response_id] for node in self.forest.path_to(leaf_id)]

    def children(self, parent_id: str | None) -> list[Mapping[str, Any]]:
        """The responses under `parent_id` (None: the roots), oldest first."""
        return [self.by_id[rid] for rid in self.forest.children_of(parent_id)]

    def branch_points(self) -> Iterator[tuple[str | None, list[Mapping[str, Any]]]]:
        """Every parent (None for the roots) with its children, oldest first."""
        for parent_id, ids in self.forest.children.items():
            yield parent_id, [self.by_id[rid] for rid in ids]

    def position(self, response: Mapping[str, Any]) -> tuple[int, int]:
        """(k, n): this response is the k-th of n siblings (1-based).

        The forest's `sibling_index`, read from one table of every response's position
        made on the first call: the formats ask for each response's.
        """
        if self._positions is None:
            self._positions = {
                response_id: (index, len(ids))
                for ids in self.forest.children.values()
                for index, response_id in enumerate(ids, 1)
            }
        found = self._positions.get(response["response_id"])
        if found is None:  # not in its parent's list: let the forest say so
            return self.forest.sibling_index(response["response_id"])
        return found


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
    ending = reply_marker(bool(response.get("partial")), str(response.get("finish_reason") or ""))
    if ending:
        marks.append(ending)
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
    forest = DocumentTree.of(document)
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
    stack = list(reversed(forest.children(None)))
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
        stack.extend(reversed(forest.children(response["response_id"])))
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


_PLAIN_LINE = re.compile(r"[^\s-]+(?: [^\s-]+)*")
"""Words (no hyphens, no whitespace of any kind inside) separated by single spaces."""


@functools.cache
def _wrapper(width: int, lines: int) -> textwrap.TextWrapper:
    """A wrapper that stops after `lines + 2` lines; the first `lines + 1` are exact.

    (`max_lines` only changes the last line it writes, where a placeholder would go.)
    """
    return textwrap.TextWrapper(width, tabsize=4, max_lines=lines + 2, placeholder="")


def _wrapped(line: str, width: int, lines: int) -> list[str]:
    """The first `lines + 1` lines of `textwrap.wrap(line, width, tabsize=4)` (or all).

    `TextWrapper` walks the line chunk by chunk in Python (a few microseconds per word).
    A plain line (`_PLAIN_LINE`) wraps the same way by cutting at the last space that
    leaves at most `width` characters, found with `str.rfind`: its chunks are its words
    and single spaces, a line never starts or ends with a space, and nothing is rewritten
    first. A word longer than `width` (which the wrapper breaks) or any other line goes
    through the wrapper, which stops soon after the lines needed.
    """
    if _PLAIN_LINE.fullmatch(line):
        out: list[str] = []
        start = 0
        while len(line) - start > width and len(out) <= lines:
            cut = line.rfind(" ", start, start + width + 1)
            if cut < 0:
                break  # a word longer than the width
            out.append(line[start:cut])
            start = cut + 1
        else:
            if len(out) <= lines:
                out.append(line[start:])
            return out
    return _wrapper(width, lines).wrap(line)[: lines + 1]


def _excerpt(text: str, width: int = 40, lines: int = 3) -> str:
    """The start of a message wrapped at words to a few short lines (blank lines dropped).

    Only the first `lines + 1` wrapped lines matter (one more tells whether it was cut), so
    the message is wrapped until there are that many.
    """
    wrapped: list[str] = []
    for line in text.split("\n"):
        wrapped += _wrapped(line, width, lines)
        if len(wrapped) > lines:
            break
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
    forest = DocumentTree.of(document)
    on_path = {r["response_id"] for r in forest.path(leaf_id)}
    title = document.get("title") or "Untitled conversation"
    # Ids come back in edges (a parent once per child) and attribute lists repeat: each is
    # quoted once.
    quoted: dict[str, str] = {}

    def quote(value: str) -> str:
        text = quoted.get(value)
        if text is None:
            text = quoted[value] = dot_string(value)
        return text

    attribute_lists: dict[tuple[tuple[str, str], ...], str] = {}
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
        ending = reply_marker(
            bool(response.get("partial")), str(response.get("finish_reason") or "")
        )
        if ending:
            head.append(ending)
        label = " · ".join(head) + "\n" + _excerpt(response["message"])
        key = tuple(attrs.items())
        rest = attribute_lists.get(key)
        if rest is None:
            rest = attribute_lists[key] = "".join(f", {k}={dot_string(v)}" for k, v in key)
        out.append(f"  {quote(rid)} [label={dot_string(label)}{rest}];")
    for response in forest.responses:
        parent = response.get("parent_response_id")
        if parent:
            rid = response["response_id"]
            bold = " [style=bold, penwidth=2.5]" if rid in on_path and parent in on_path else ""
            out.append(f"  {quote(parent)} -> {quote(rid)}{bold};")
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
    forest = DocumentTree.of(document)
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

    for parent, children in forest.branch_points():
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


def why_no_pairs(document: Mapping[str, Any], *, leaf_id: str | None = None) -> str:
    """Why `preference_pairs` finds nothing in `document`, as a sentence ("" if it finds some).

    An empty file with no word would leave a user wondering whether the export failed; this
    names the missing ingredient: sibling replies, marks on them, or a pair of marks.
    """
    if preference_pairs(document, leaf_id=leaf_id):
        return ""
    forest = DocumentTree.of(document)
    groups = [
        replies
        for parent, children in forest.branch_points()
        if parent is not None
        and len(replies := [c for c in children if c["sender"] == "model"]) > 1
    ]
    if not groups:
        return (
            "no preference pairs: no prompt has two or more model replies to compare "
            "(resample a reply to make siblings)."
        )

    def marked(response: Mapping[str, Any]) -> bool:
        annotation = response.get("annotation") or {}
        return bool(annotation.get("rating") or annotation.get("bookmarked"))

    if not any(marked(r) for replies in groups for r in replies):
        count = len(groups)
        prompts = "1 prompt has" if count == 1 else f"{count} prompts have"
        return (
            f"no preference pairs: {prompts} sibling replies, but none of them is rated or "
            "bookmarked (rate the better reply +1 and a worse one -1)."
        )
    return (
        "no preference pairs: a pair needs a reply rated +1 and a sibling rated -1, or a "
        "reply rated +1 or bookmarked on the current path beside an unmarked sibling; the "
        "marked replies here have no such sibling."
    )


def to_jsonl(records: Iterable[Any]) -> str:
    """One compact JSON document per line (safe to print, see `dumps`)."""
    return "".join(dumps(record, indent=None) + "\n" for record in records)
