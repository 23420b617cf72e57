"""socketteer/loom's tree: one document whose branches are alternative continuations.

Loom saves `{"root": {id, text, children: [...], meta?}, "selected_node_id", ...}`; each
node's `text` continues its parent's (the document at a node is the texts of its path
joined), and `meta.source` says who wrote it ("AI" with `meta.generation.model`,
"prompt" a person, "mixed" AI text a person edited). Grove keeps the continuation shape:
a top node (the first with text on its path) becomes the human prompt, every node under
it a model reply whose text continues its parent's — sampled (with the model) for "AI",
manual (written by a person) otherwise. Nodes without text (loom's empty root and
placeholder children) are passed over, their children re-parented, and counted.

Loom stamps each node it makes with `meta.creation_timestamp`, the local time of the
machine without a zone (`2021-09-18-13.02.11`, `strftime('%Y-%m-%d-%H.%M.%S')` of
`datetime.fromtimestamp`): read in this machine's zone, as loom wrote it (a tree moved
between zones is off by their difference). Nodes without one have no time.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from grove_explorer.client.foreign.fields import at, lst, obj, text
from grove_explorer.client.foreign.tree import (
    ForeignConversation,
    ForeignNode,
    ForeignProblem,
    Read,
)

NAME = "loom"


def looks_like(data: Any) -> bool:
    """An object whose `root` is a node, or a bare node (`text` and `children`), as loom opens."""
    if not isinstance(data, dict):
        return False
    root = data.get("root")
    if isinstance(root, dict):
        return "children" in root or "text" in root
    return "text" in data and isinstance(data.get("children"), list)


def read(data: Any) -> list[Read]:
    """The file's one tree (a malformed tree becomes a `ForeignProblem`)."""
    try:
        return [_tree(data)]
    except ValueError as error:
        return [ForeignProblem("$", "", str(error))]


def _tree(data: Any) -> ForeignConversation:
    document = obj(data, "$")
    skipped: Counter[str] = Counter()
    nodes: list[ForeignNode] = []
    # Iterative, parents first: a long loom session nests deeper than Python recurses.
    if "root" in document:
        start: tuple[Any, str, str | None, bool] = (document["root"], "$.root", None, False)
    else:  # a bare node, which loom opens as the tree's root
        start = (document, "$", None, False)
    stack = [start]
    while stack:
        value, path, parent, below_text = stack.pop()
        node = obj(value, path)
        node_id = text(node.get("id", path), at(path, "id"))
        words = text(node.get("text"), at(path, "text"), default="")
        meta = node.get("meta")
        meta = meta if isinstance(meta, dict) else {}
        kept = bool(words.strip()) or (below_text and meta.get("source") == "AI")
        if not kept:
            skipped["empty node"] += 1
            nodes.append(ForeignNode(node_id, parent, None))
        else:
            time = _time(meta.get("creation_timestamp"), at(at(path, "meta"), "creation_timestamp"))
            if not below_text:
                nodes.append(ForeignNode(node_id, parent, "human", words, time=time))
            elif meta.get("source") == "AI":
                nodes.append(ForeignNode(node_id, parent, "model", words, _model(meta), time=time))
            else:
                nodes.append(ForeignNode(node_id, parent, "model", words, manual=True, time=time))
        children = lst(node.get("children", []), at(path, "children"))
        for index in range(len(children) - 1, -1, -1):
            child_path = at(at(path, "children"), index)
            stack.append((children[index], child_path, node_id, below_text or kept))
    selected = document.get("selected_node_id")
    title = document.get("title")
    return ForeignConversation(
        where="$",
        title=title if isinstance(title, str) else "loom tree",
        nodes=nodes,
        current_id=selected if isinstance(selected, str) else None,
        skipped=skipped,
    )


def _model(meta: dict[str, Any]) -> str:
    generation = meta.get("generation")
    model = generation.get("model") if isinstance(generation, dict) else None
    return model if isinstance(model, str) else ""


_LOOM_TIME = "%Y-%m-%d-%H.%M.%S"


def _time(value: Any, path: str) -> datetime | None:
    """A node's `creation_timestamp` (local time, see the module) as an aware time."""
    if value is None or value == "":
        return None
    stamp = text(value, path)
    try:
        return datetime.strptime(stamp, _LOOM_TIME).astimezone()
    except ValueError:
        raise ValueError(
            f"{path}: must be a time as loom writes it (2021-09-18-13.02.11), not {stamp[:40]!r}."
        ) from None
