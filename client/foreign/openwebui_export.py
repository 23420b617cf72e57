"""A Grove conversation in Open WebUI's chat export format (`grove export --format openwebui`).

Writes what Open WebUI's "Import Chats" reads and its "Export chat (.json)" writes: a list
of one chat `{id, title, chat: {title, models, history: {messages, currentId}, messages,
timestamp}, created_at, updated_at, ...}`. The whole forest goes into `history.messages`
(siblings stay siblings; `currentId` is the path's leaf) and the current path into the
linear `messages` list. Human messages are `user`, model replies `assistant` with their
`model`; ratings, notes and tags become the message's `annotation`. What the format has no
place for is counted (`not_kept`) so the command can say so: sampling parameters,
judgements, bookmarks and fused-reply provenance (tokens are never fetched for it).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from grove_explorer.client.foreign.export_fields import children_of, lost_fields, unix_seconds


def openwebui_chats(
    document: dict[str, Any], leaf_id: str | None
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """The Open WebUI export of a Grove export document, and what it could not hold."""
    not_kept: Counter[str] = Counter()
    responses = document["responses"]
    children = children_of(responses)
    models: list[str] = []
    messages: dict[str, dict[str, Any]] = {}
    for response in responses:
        rid = response["response_id"]
        model = response.get("model_name") or ""
        if model and model not in models:
            models.append(model)
        message: dict[str, Any] = {
            "id": rid,
            "parentId": response["parent_response_id"] or None,
            "childrenIds": children.get(rid, []),
            "role": "user" if response["sender"] == "human" else "assistant",
            "content": response["message"],
            "timestamp": int(unix_seconds(response.get("create_time"))),
        }
        if response["sender"] == "model":
            message.update(model=model, modelName=model, modelIdx=0, done=True)
        _annotate(message, response, not_kept)
        messages[rid] = message
    for message in messages.values():  # a user message names the models that answered it
        if message["role"] == "user":
            answered = [
                messages[c]["model"] for c in message["childrenIds"] if messages[c].get("model")
            ]
            message["models"] = sorted(set(answered)) or models[:1]
    path = []
    node = leaf_id if leaf_id in messages else None
    while node is not None:
        path.append(messages[node])
        node = messages[node]["parentId"]
    path.reverse()
    created = int(unix_seconds(document.get("create_time")))
    updated = int(unix_seconds(document.get("update_time"))) or created
    chat = {
        "id": document.get("conversation_id", ""),
        "title": document.get("title", ""),
        "chat": {
            "id": "",
            "title": document.get("title", ""),
            "models": models,
            "params": {},
            "history": {"messages": messages, "currentId": leaf_id if path else None},
            "messages": path,
            "tags": [],
            "timestamp": created * 1000,
            "files": [],
        },
        "created_at": created,
        "updated_at": updated,
        "share_id": None,
        "archived": False,
        "pinned": bool(document.get("starred")),
        "meta": {},
        "folder_id": None,
    }
    return [chat], not_kept


def _annotate(message: dict[str, Any], response: dict[str, Any], not_kept: Counter[str]) -> None:
    """Rating, note and tags as Open WebUI's annotation; the rest counted as not kept."""
    lost_fields(response, not_kept, annotations=False)
    annotation = response.get("annotation")
    if not annotation:
        return
    kept: dict[str, Any] = {}
    if annotation.get("rating"):
        kept["rating"] = annotation["rating"]
    if annotation.get("note"):
        kept["comment"] = annotation["note"]
    if annotation.get("tags"):
        kept["tags"] = list(annotation["tags"])
    if kept:
        message["annotation"] = kept
