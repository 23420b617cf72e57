"""Markdown and Graphviz DOT of a conversation forest, read from the forest's nodes.

Both formats are written from `ResponseNode`s in a `client.forest.Forest` (`_Source`):
`conversation_markdown` / `conversation_dot` take a loaded SDK `Conversation` and read
its own forest (`grove export` of 10,000 siblings built an export document and a second
forest on the way, most of its cost); `to_markdown` / `to_dot` take an export document (a
file read back) and read the same nodes built from its entries. One writer per format, so
the two sources give the same text (golden files pin it, tests/client/export_golden/).
"""

from __future__ import annotations

import functools
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grove_explorer.client.conversation import Conversation
from grove_explorer.client.export.json_format import shortest_float32
from grove_explorer.client.export.json_format import utc_iso as iso_time
from grove_explorer.client.finish import reply_marker
from grove_explorer.client.forest import Forest
from grove_explorer.client.ids import short_id
from grove_explorer.client.judgements import MERGE_MARK
from grove_explorer.client.models import (
    NODE_DEFAULTS,
    ConversationSummary,
    ResponseNode,
    SamplingInfo,
)
from grove_explorer.client.research import Annotation

_NO_ANNOTATION = Annotation()


def _as_read(value: Any) -> Any:
    """A sampling number from a document: written as read."""
    return value


def _wire_float(value: Any) -> Any:
    """A sampling float from the wire (a float32 widened) as an export document writes it."""
    return None if value is None else shortest_float32(value)


@dataclass
class _Source:
    """What Markdown and DOT read: the forest's nodes and a few fields of the conversation.

    `nodes` are the responses in creation order (an export document's order); `number`
    gives a sampling float as written (as read from a document; the shortest float32
    decimal for a node from the wire, as the document would hold it).
    """

    title: Any
    conversation_id: Any
    create_time: Any
    starred: Any
    forest: Forest
    nodes: list[ResponseNode]
    number: Callable[[Any], Any]
    # The owner's user id: marks another user set say whose they are ("" when not told).
    owner: str = ""
    _positions: dict[str, tuple[int, int]] | None = field(default=None, repr=False)

    @classmethod
    def of_conversation(cls, conversation: Conversation) -> _Source:
        """A loaded conversation's own forest (rebuilt only if it holds a streaming reply)."""
        nodes = [response.node for response in conversation.responses]
        forest = conversation.forest
        if len(nodes) != len(forest.responses):  # placeholders: the stored responses only
            forest = Forest.build(forest.conversation, nodes, None)
        return cls(
            conversation.title,
            conversation.conversation_id,
            iso_time(conversation.create_time),
            conversation.starred,
            forest,
            nodes,
            _wire_float,
            conversation.forest.conversation.owner_user_id,
        )

    @classmethod
    def of_document(cls, document: Mapping[str, Any]) -> _Source:
        """An export document's entries as nodes (their values as read, unconverted)."""
        summary = ConversationSummary.model_construct(
            conversation_id=str(document.get("conversation_id") or ""),
            title=str(document.get("title") or ""),
            starred=bool(document.get("starred")),
        )
        nodes = (_node_of_entry(entry) for entry in document.get("responses", []))
        forest = Forest.build(summary, nodes, None)
        return cls(
            document.get("title"),
            document.get("conversation_id", ""),
            document.get("create_time"),
            document.get("starred"),
            forest,
            list(forest.responses.values()),  # a repeated id: its first place, last entry
            _as_read,
            str(document.get("owner_user_id") or ""),
        )

    def path(self, leaf_id: str | None) -> list[ResponseNode]:
        """Root → leaf (default: the newest response). ValueError for an unknown leaf."""
        if leaf_id is None:
            if not self.nodes:
                return []
            leaf_id = self.nodes[-1].response_id
        if leaf_id not in self.forest.responses:
            raise ValueError(f"There is no response {leaf_id!r} in this conversation.")
        return list(self.forest.path_to(leaf_id))

    def children(self, parent_id: str | None) -> list[ResponseNode]:
        """The nodes under `parent_id` (None: the roots), oldest first."""
        responses = self.forest.responses
        return [responses[rid] for rid in self.forest.children_of(parent_id)]

    def position(self, node: ResponseNode) -> tuple[int, int]:
        """(k, n): this response is the k-th of n siblings (1-based), from one table."""
        if self._positions is None:
            self._positions = {
                response_id: (index, len(ids))
                for ids in self.forest.children.values()
                for index, response_id in enumerate(ids, 1)
            }
        found = self._positions.get(node.response_id)
        if found is None:  # not in its parent's list: let the forest say so
            return self.forest.sibling_index(node.response_id)
        return found


_READ_AS_IS = (
    *("sender", "message", "manual", "partial", "shared", "query", "query_type"),
    *("model_name", "prefix_length", "finish_reason"),
)
"""The fields the formats read that a document names as a node does (its values kept)."""


def _node_of_entry(entry: Mapping[str, Any]) -> ResponseNode:
    """A document entry as a node, each value as read (a file's types are not checked)."""
    fields = NODE_DEFAULTS.copy()
    get = entry.get
    fields["response_id"] = entry["response_id"]
    fields["parent_id"] = get("parent_response_id") or None
    for name in _READ_AS_IS:
        if name in entry:
            fields[name] = entry[name]
    params = get("sampling_params")
    fields["sampling"] = (
        SamplingInfo.model_construct(
            temperature=params.get("temperature"),
            top_p=params.get("top_p"),
            max_tokens=params.get("max_tokens"),
            seed=params.get("seed"),
        )
        if params
        else None
    )
    merged = get("merged_from")
    if merged:
        fields["merged_from"] = tuple(merged)
        fields["merge_mode"] = get("merge_mode") or ""
        fields["merge_instruction"] = get("merge_instruction") or ""
    if get("replay_of"):
        fields["replay_of"] = get("replay_of")
    if get("system_prompt_name") is not None:
        fields["system_prompt_name"] = get("system_prompt_name")
    if get("author_user_id"):
        fields["author"] = str(get("author_user_id"))
    marks = get("annotation")
    fields["annotation"] = (
        Annotation.model_construct(
            bookmarked=marks.get("bookmarked"),
            tags=marks.get("tags"),
            rating=marks.get("rating"),
            note=marks.get("note"),
            set_by=str(marks.get("set_by_user_id") or ""),
        )
        if marks
        else _NO_ANNOTATION
    )
    return ResponseNode.trusted(fields)


def _format_number(value: float | int | None) -> str:
    if value is None:
        return "?"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sampling_words(temperature: Any, top_p: Any, max_tokens: Any, seed: Any) -> str:
    parts = []
    if temperature is not None:
        parts.append(f"temperature {_format_number(temperature)}")
    if top_p is not None:
        parts.append(f"top-p {_format_number(top_p)}")
    if max_tokens is not None:
        parts.append(f"max tokens {max_tokens}")
    if seed is not None:
        parts.append(f"seed {seed}")
    return ", ".join(parts)


def sampling_summary(params: Mapping[str, Any] | None) -> str:
    """`temperature 0.7, top-p 0.95, max tokens 256, seed 42` (only the fields present)."""
    if not params:
        return ""
    return _sampling_words(
        params.get("temperature"), params.get("top_p"), params.get("max_tokens"), params.get("seed")
    )


def _node_sampling(node: ResponseNode, number: Callable[[Any], Any]) -> str:
    params = node.sampling
    if params is None:
        return ""
    return _sampling_words(
        number(params.temperature), number(params.top_p), params.max_tokens, params.seed
    )


def _sender_label(node: ResponseNode) -> str:
    """`Human`, `Model`, `Model (manual)`; `…, by bob` for a writer's response (shared)."""
    if node.sender == "human":
        label = "Human"
    elif node.manual:
        label = "Model (manual)"
    else:
        label = "Model"
    return f"{label}, by {node.author}" if node.author else label


def _marks(node: ResponseNode, owner: str = "") -> list[str]:
    """Short words for a response's flags and annotation, for headings and labels.

    Marks another user than the owner set end with whose they are (`marks by bob`).
    """
    marks = []
    ending = reply_marker(bool(node.partial), str(node.finish_reason or ""))
    if ending:
        marks.append(ending)
    if node.shared:
        marks.append("shared")
    if node.prefix_length:
        marks.append(f"first {node.prefix_length} characters given")
    annotation = node.annotation
    if annotation.bookmarked:
        marks.append("bookmarked")
    rating = annotation.rating or 0
    if rating:
        marks.append(f"rated {rating:+d}")
    if annotation.tags:
        marks.append("tags: " + ", ".join(annotation.tags))
    if node.merged_from:
        marks.append(fused_words(node))
    if node.replay_of:
        marks.append(replay_words(node))
    set_by = annotation.set_by
    if set_by and set_by != owner and not annotation.empty:
        marks.append(f"marks by {set_by}")
    return marks


def fused_words(node: ResponseNode) -> str:
    """`⊕ fused (checklist) from a1b2c3d4, 5e6f7a8b`: a fused reply and its sources' short ids."""
    sources = ", ".join(short_id(source) for source in node.merged_from)
    mode = f" ({node.merge_mode})" if node.merge_mode else ""
    return f"{MERGE_MARK} fused{mode} from {sources}"


def replay_words(node: ResponseNode) -> str:
    """`↻ replay of a1b2c3d4`: a replayed turn and its original's short id."""
    return f"↻ replay of {short_id(node.replay_of)}"


# -- Markdown --------------------------------------------------------------------------------


def _markdown_body(node: ResponseNode) -> list[str]:
    lines: list[str] = []
    if node.query:
        kind = node.query_type or "query"
        lines += [f"*{kind} query:* {node.query}", ""]
    lines.append(node.message)
    note = node.annotation.note
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
    return _markdown(_Source.of_document(document), leaf_id, all_branches)


def conversation_markdown(
    conversation: Conversation, *, leaf_id: str | None = None, all_branches: bool = False
) -> str:
    """`to_markdown(export_json(conversation, {}), …)`, read from the conversation's forest."""
    return _markdown(_Source.of_conversation(conversation), leaf_id, all_branches)


def _markdown(source: _Source, leaf_id: str | None, all_branches: bool) -> str:
    path = source.path(leaf_id)
    # A heading is one line: a title with line breaks would spill into the body.
    title = " ".join(str(source.title or "").split()) or "Untitled conversation"
    lines = [f"# {title}", ""]
    count = len(source.nodes)
    scope = (
        "every branch, depth first; ► marks the current path"
        if all_branches
        else f"the path to {'the newest response' if leaf_id is None else 'the chosen leaf'}"
        f" ({len(path)} of {count} responses)"
    )
    meta = [f"Conversation `{source.conversation_id}`"]
    if source.create_time:
        meta.append(f"created {source.create_time}")
    if source.starred:
        meta.append("starred")
    meta.append(scope)
    lines += [" · ".join(meta), ""]
    number = source.number

    if not all_branches:
        for node in path:
            parts = [_sender_label(node)]
            if node.model_name:
                parts.append(node.model_name)
            sampling = _node_sampling(node, number)
            if sampling:
                parts.append(sampling)
            k, n = source.position(node)
            if n > 1:
                parts.append(f"branch {k}/{n}")
            parts += _marks(node, source.owner)
            lines += [f"## {' · '.join(parts)}", "", *_markdown_body(node), ""]
        return "\n".join(lines).rstrip("\n") + "\n"

    on_path = {node.response_id for node in path}
    numbers: dict[str, int] = {}
    stack = list(reversed(source.children(None)))
    while stack:
        node = stack.pop()
        rid = node.response_id
        numbers[rid] = len(numbers) + 1
        k, n = source.position(node)
        parts = [f"[{numbers[rid]}] {_sender_label(node)}"]
        parent = node.parent_id
        if parent:
            parts.append(f"reply to [{numbers[parent]}]")
            if n > 1:
                parts.append(f"branch {k}/{n}")
        else:
            parts.append(f"root {k}/{n}")
        if node.model_name:
            parts.append(node.model_name)
        sampling = _node_sampling(node, number)
        if sampling:
            parts.append(sampling)
        parts += _marks(node, source.owner)
        marker = "► " if rid in on_path else ""
        lines += [f"## {marker}{' · '.join(parts)}", "", *_markdown_body(node), ""]
        stack.extend(reversed(source.children(rid)))
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
_FUSED_EDGE = ' [style=dotted, arrowhead=empty, color="#7c3aed"]'
"""A source → fused reply edge: not a parent link, so drawn apart from those."""
_MODEL_STYLE = {"shape": "box", "style": "filled", "fillcolor": "#dcfce7"}
_MANUAL_STYLE = {"shape": "box", "style": "filled", "fillcolor": "#fef9c3"}


def to_dot(document: Mapping[str, Any], *, leaf_id: str | None = None) -> str:
    """Graphviz DOT of the forest, for `dot -Tsvg`.

    Humans are rounded blue boxes, model replies green boxes, manual replies yellow;
    partial replies are dashed, bookmarked ones get a double border and ★, and the current
    path (default: to the newest response) is drawn bold, nodes and edges.
    """
    return _dot(_Source.of_document(document), leaf_id)


def conversation_dot(conversation: Conversation, *, leaf_id: str | None = None) -> str:
    """`to_dot(export_json(conversation, {}), …)`, read from the conversation's forest."""
    return _dot(_Source.of_conversation(conversation), leaf_id)


def _dot(source: _Source, leaf_id: str | None) -> str:
    on_path = {node.response_id for node in source.path(leaf_id)}
    title = source.title or "Untitled conversation"
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
    for node in source.nodes:
        rid = node.response_id
        if node.sender == "human":
            attrs = dict(_HUMAN_STYLE)
        elif node.manual:
            attrs = dict(_MANUAL_STYLE)
        else:
            attrs = dict(_MODEL_STYLE)
        styles = attrs["style"].split(",")
        if node.partial:
            styles.append("dashed")
        if rid in on_path:
            styles.append("bold")
            attrs["penwidth"] = "2.5"
        attrs["style"] = ",".join(styles)
        annotation = node.annotation
        head = [_sender_label(node)]
        if node.model_name:
            head.append(node.model_name)
        k, n = source.position(node)
        if n > 1:
            head.append(f"{k}/{n}")
        if annotation.bookmarked:
            head.insert(0, "★")
            attrs["peripheries"] = "2"
        if annotation.rating:
            head.append(f"{annotation.rating:+d}")
        ending = reply_marker(bool(node.partial), str(node.finish_reason or ""))
        if ending:
            head.append(ending)
        if node.merged_from:
            head.append(fused_words(node))
        if node.replay_of:
            head.append(replay_words(node))
        label = " · ".join(head) + "\n" + _excerpt(node.message)
        key = tuple(attrs.items())
        rest = attribute_lists.get(key)
        if rest is None:
            rest = attribute_lists[key] = "".join(f", {k}={dot_string(v)}" for k, v in key)
        out.append(f"  {quote(rid)} [label={dot_string(label)}{rest}];")
    known: set[str] | None = None  # every node's id, once a fused reply needs it
    for node in source.nodes:
        parent = node.parent_id
        if parent:
            rid = node.response_id
            bold = " [style=bold, penwidth=2.5]" if rid in on_path and parent in on_path else ""
            out.append(f"  {quote(parent)} -> {quote(rid)}{bold};")
        if node.merged_from:  # a fused reply, drawn from its sources (dotted)
            if known is None:
                known = {other.response_id for other in source.nodes}
            target = quote(node.response_id)
            for merged in node.merged_from:
                if merged in known:
                    out.append(f"  {quote(merged)} -> {target}{_FUSED_EDGE};")
    out.append("}")
    return "\n".join(out) + "\n"
