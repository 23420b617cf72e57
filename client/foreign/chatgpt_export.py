"""A Grove conversation as ChatGPT's data export (`grove export --format chatgpt`).

Writes `conversations.json` as ChatGPT's "Export data" does (and `--from chatgpt` reads):
a list of one conversation `{title, create_time, update_time, mapping, current_node, …}`
whose `mapping` is the whole forest. ChatGPT's tree has one root node without a message
(`client-created-root`); Grove's roots become its children, so a forest of several roots
fits. Human messages are `user`, model replies `assistant` with `metadata.model_slug`; a
partial reply has status `finished_partial_completion`; times are Unix seconds. Counted as
not kept: sampling parameters, judgements, annotations (ratings, notes, tags, bookmarks)
and fused-reply provenance.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from grove_explorer.client.foreign.export_fields import children_of, lost_fields, unix_seconds

ROOT_ID = "client-created-root"


def chatgpt_conversations(
    document: dict[str, Any], leaf_id: str | None
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """ChatGPT's export of a Grove export document, and what it could not hold."""
    not_kept: Counter[str] = Counter()
    responses = document["responses"]
    children = children_of(responses)
    mapping: dict[str, dict[str, Any]] = {
        ROOT_ID: {"id": ROOT_ID, "message": None, "parent": None, "children": []}
    }
    models: list[str] = []
    for response in responses:
        rid = response["response_id"]
        parent = response["parent_response_id"] or ROOT_ID
        if parent == ROOT_ID:
            mapping[ROOT_ID]["children"].append(rid)
        model = response.get("model_name") or ""
        if response["sender"] == "model" and model and model not in models:
            models.append(model)
        mapping[rid] = {
            "id": rid,
            "message": _message(response),
            "parent": parent,
            "children": children.get(rid, []),
        }
        lost_fields(response, not_kept, annotations=True)
    created = unix_seconds(document.get("create_time"))
    conversation_id = document.get("conversation_id", "")
    conversation = {
        "title": document.get("title", ""),
        "create_time": created,
        "update_time": unix_seconds(document.get("update_time")) or created,
        "mapping": mapping,
        "moderation_results": [],
        "current_node": leaf_id if leaf_id in mapping else None,
        "plugin_ids": None,
        "conversation_id": conversation_id,
        "conversation_template_id": None,
        "gizmo_id": None,
        "is_archived": False,
        "safe_urls": [],
        "default_model_slug": models[0] if models else None,
        "id": conversation_id,
    }
    if document.get("starred"):
        not_kept["star"] += 1
    return [conversation], not_kept


def _message(response: dict[str, Any]) -> dict[str, Any]:
    """One response as a ChatGPT message node's `message`."""
    human = response["sender"] == "human"
    metadata: dict[str, Any] = {}
    if not human:
        metadata["model_slug"] = response.get("model_name") or ""
        reason = response.get("finish_reason") or ""
        if reason:
            metadata["finish_details"] = {"type": reason}
    return {
        "id": response["response_id"],
        "author": {"role": "user" if human else "assistant", "name": None, "metadata": {}},
        "create_time": unix_seconds(response.get("create_time")) or None,
        "update_time": None,
        "content": {"content_type": "text", "parts": [response["message"]]},
        "status": "finished_partial_completion"
        if response.get("partial")
        else "finished_successfully",
        "end_turn": None if human else not response.get("partial"),
        "weight": 1.0,
        "metadata": metadata,
        "recipient": "all",
        "channel": None,
    }
