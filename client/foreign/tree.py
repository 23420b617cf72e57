"""A conversation read from another tool, as the Grove export document that imports it.

Each reader (`chatgpt`, `openwebui`, `loom`) turns its tool's records into `ForeignNode`s:
one per record, kept (a human message or a model reply) or not (a hidden system node, a
tool call, an empty root). `ForeignConversation.document()` then links every kept node to
its nearest kept ancestor, orders parents before children and writes the document that
`grove import` already sends (`client.export.importing.import_request`), so a foreign tree
goes through the same checks and the same one-transaction import as a Grove file.

What Grove cannot hold is counted in `skipped` (kind -> count) and reported: never dropped
silently. Each node's time (when the tool wrote one) and the conversation's become the
document's `create_time`s, which `grove import` asks the server to keep
(ImportConversationRequest.keep_times); a node without one is counted by the server.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from grove_explorer.client.export.import_times import iso_time
from grove_explorer.client.export.json_format import FORMAT_NAME, FORMAT_VERSION


@dataclass
class ForeignNode:
    """One record of the foreign tree; `sender` None means it is not imported."""

    node_id: str
    parent_id: str | None
    sender: str | None
    text: str = ""
    model_name: str = ""
    manual: bool = False
    time: datetime | None = None  # when the tool says it was written (None: it does not)


@dataclass
class ForeignConversation:
    """One conversation of a foreign file, read; `where` is its JSON path in the file."""

    where: str
    title: str
    nodes: list[ForeignNode]
    current_id: str | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    create_time: datetime | None = None  # the conversation's, as the tool wrote it

    def document(self) -> tuple[dict[str, Any], int | None]:
        """The Grove export document and the index of the current leaf in its responses.

        A kept node's parent is its nearest kept ancestor (a hidden system node or a null
        root between them is passed over); the leaf is the tool's current node, or its
        nearest kept ancestor when that node is not imported. Raises ValueError (with
        this conversation's path) for a parent that is not in the tree or a cycle.
        """
        by_id = {node.node_id: node for node in self.nodes}
        kept_parent: dict[str, str | None] = {}

        def nearest_kept(node_id: str | None, start: str) -> str | None:
            seen: set[str] = set()
            while node_id is not None:
                if node_id in seen:
                    raise ValueError(f"{self.where}: node {start!r} is part of a cycle of parents.")
                seen.add(node_id)
                node = by_id.get(node_id)
                if node is None:
                    raise ValueError(
                        f"{self.where}: node {start!r} names parent {node_id!r}, not in the tree."
                    )
                if node.sender is not None:
                    return node_id
                node_id = node.parent_id
            return None

        for node in self.nodes:
            if node.sender is not None:
                kept_parent[node.node_id] = nearest_kept(node.parent_id, node.node_id)
        children: dict[str | None, list[str]] = {}
        for node_id, parent in kept_parent.items():
            children.setdefault(parent, []).append(node_id)
        order: list[str] = []
        stack = list(reversed(children.get(None, [])))
        while stack:  # depth first, siblings in the file's order
            node_id = stack.pop()
            order.append(node_id)
            stack.extend(reversed(children.get(node_id, [])))
        if len(order) != len(kept_parent):  # a kept cycle never reaches a root
            raise ValueError(f"{self.where}: some nodes form a cycle of parents.")
        responses = []
        for node_id in order:
            node = by_id[node_id]
            responses.append(
                {
                    "response_id": node_id,
                    "parent_response_id": kept_parent[node_id],
                    "sender": node.sender,
                    "message": node.text,
                    "model_name": node.model_name,
                    "manual": node.manual,
                    "create_time": iso_time(node.time),
                }
            )
        current = self.current_id
        leaf = nearest_kept(current, current) if current is not None and current in by_id else None
        leaf_index = order.index(leaf) if leaf is not None else None
        document = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "title": self.title,
            "create_time": iso_time(self.create_time),
            "responses": responses,
        }
        return document, leaf_index


@dataclass
class ForeignProblem:
    """A conversation of the file that cannot be imported: where, and why."""

    where: str
    title: str
    reason: str


Read = ForeignConversation | ForeignProblem


def skipped_sentence(skipped: Counter[str]) -> str:
    """`2 images, 1 tool call` — the kinds not imported, with counts, in a stable order."""
    parts = []
    for kind, count in sorted(skipped.items()):
        parts.append(f"{count} {kind if count == 1 else _plural(kind)}")
    return ", ".join(parts)


def _plural(kind: str) -> str:
    if kind.endswith(("s", "sh", "ch", "x")):
        return kind + "es"
    if kind.endswith("y") and not kind.endswith(("ay", "ey", "oy")):
        return kind[:-1] + "ies"
    return kind + "s"
