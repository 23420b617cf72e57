"""A Grove conversation as socketteer/loom's tree (`grove export --format loom`).

Loom keeps one document whose branches are alternative continuations: each node's `text`
continues its parent's. A Grove forest maps onto that directly for base-model
continuation (a prompt and its continuations); in a chat the turns follow each other the
same way. Written as loom saves a tree (and `--from loom` reads it): an empty root whose
children are Grove's roots, node ids = response ids, `meta.source` "prompt" for text a
person wrote (human messages, hand-written replies) and "AI" with `meta.generation.model`
(and the sampling parameters) for sampled replies, `meta.creation_timestamp` in loom's
"%Y-%m-%d-%H.%M.%S", and `selected_node_id` the path's leaf. Counted as not kept:
judgements, annotations (ratings, notes, tags, bookmarks), fused-reply provenance, the star.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from grove_explorer.client.foreign.export_fields import unix_seconds

ROOT_ID = "grove-root"


def loom_tree(document: dict[str, Any], leaf_id: str | None) -> tuple[dict[str, Any], Counter[str]]:
    """Loom's tree of a Grove export document, and what it could not hold."""
    not_kept: Counter[str] = Counter()
    responses = document["responses"]
    nodes: dict[str, dict[str, Any]] = {}
    # Creation order puts parents first, so every child finds its parent's node, and each
    # node's children stay in the order they were made.
    for response in responses:
        node = _node(response, not_kept)
        nodes[response["response_id"]] = node
        parent = response["parent_response_id"]
        if parent in nodes:
            nodes[parent]["children"].append(node)
    roots = [nodes[r["response_id"]] for r in responses if not r["parent_response_id"]]
    if document.get("starred"):
        not_kept["star"] += 1
    tree = {
        "root": {"id": ROOT_ID, "text": "", "children": roots, "mutable": False},
        "selected_node_id": leaf_id if leaf_id in nodes else None,
        "title": document.get("title", ""),
        "chapters": {},
        "canonical": [],
    }
    return tree, not_kept


def _node(response: dict[str, Any], not_kept: Counter[str]) -> dict[str, Any]:
    """One response as a loom node (children added by the caller)."""
    sampled = response["sender"] == "model" and not response.get("manual")
    meta: dict[str, Any] = {"source": "AI" if sampled else "prompt"}
    seconds = unix_seconds(response.get("create_time"))
    if seconds:
        stamp = datetime.fromtimestamp(seconds, UTC)
        meta["creation_timestamp"] = stamp.strftime("%Y-%m-%d-%H.%M.%S")
    if sampled:
        generation: dict[str, Any] = {"model": response.get("model_name") or ""}
        params = response.get("sampling_params")
        if params:
            generation.update(
                temperature=params.get("temperature"),
                top_p=params.get("top_p"),
                max_tokens=params.get("max_tokens"),
                seed=params.get("seed"),
            )
        meta["generation"] = generation
    elif response.get("sampling_params") is not None:
        not_kept["sampling parameter set"] += 1
    if response.get("judgements"):
        not_kept["judgement"] += len(response["judgements"])
    if response.get("merged_from"):
        not_kept["fused-reply provenance"] += 1
    annotation = response.get("annotation") or {}
    for field, label in (
        ("bookmarked", "bookmark"),
        ("rating", "rating"),
        ("note", "note"),
        ("tags", "tag set"),
    ):
        if annotation.get(field):
            not_kept[label] += 1
    return {
        "id": response["response_id"],
        "text": response["message"],
        "meta": meta,
        "children": [],
    }
