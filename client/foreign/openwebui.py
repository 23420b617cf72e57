"""Open WebUI's chat export: a JSON list of chats, each with its `history` tree.

"Export chat (.json)" and "Export All Chats" write `[{id, title, chat: {title, models,
history: {messages: {id: {id, parentId, childrenIds, role, content, model, timestamp,
files?}}, currentId}, messages}, created_at, updated_at, ...}]`. `history.messages` is
the whole tree (regenerated replies are siblings under one parent); `currentId` is the
message shown, which becomes the leaf. User messages become human messages, assistant
messages model replies with their `model`, each at its `timestamp` (seconds), the chat at
its `created_at`. Not imported, and counted: system messages,
attached files and images, cited sources, code executions. Chats whose fields are not
under `chat` (the "legacy format" of docs.openwebui.com's Import & Export page) are read too.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from grove_explorer.client.foreign.fields import at, epoch, obj, optional_id, text
from grove_explorer.client.foreign.tree import (
    ForeignConversation,
    ForeignNode,
    ForeignProblem,
    Read,
)

NAME = "openwebui"
_MS = 1e11
"""Open WebUI writes seconds (a message's `timestamp`, `created_at`) and milliseconds (the
chat's `timestamp`), by field and version: a value this large is milliseconds (in seconds
it would be after the year 5000)."""

_EXTRAS = {
    "sources": "cited source",
    "citations": "cited source",
    "code_executions": "code execution",
}


def _history_of(item: Any) -> Any:
    if isinstance(item, dict):
        chat = item.get("chat", item)
        if isinstance(chat, dict):
            return chat.get("history")
    return None


def looks_like(data: Any) -> bool:
    """A list of chats (or one chat) whose `chat.history` holds `messages`."""
    items = data if isinstance(data, list) else [data]
    return bool(items) and all(
        isinstance(_history_of(i), dict) and "messages" in _history_of(i) for i in items[:3]
    )


def read(data: Any) -> list[Read]:
    """Every chat of the file; a malformed one becomes a `ForeignProblem`."""
    items = data if isinstance(data, list) else [data]
    results: list[Read] = []
    for index, item in enumerate(items):
        where = f"$[{index}]" if isinstance(data, list) else "$"
        try:
            results.append(_chat(item, where))
        except ValueError as error:
            results.append(ForeignProblem(where, _title(item), str(error)))
    return results


def _title(item: Any) -> str:
    if isinstance(item, dict):
        chat = item.get("chat")
        for source in (item, chat if isinstance(chat, dict) else {}):
            title = source.get("title")
            if isinstance(title, str) and title:
                return title
    return ""


def _chat(item: Any, where: str) -> ForeignConversation:
    record = obj(item, where)
    chat_path = at(where, "chat") if "chat" in record else where
    chat = obj(record.get("chat", record), chat_path)
    history_path = at(chat_path, "history")
    history = obj(chat.get("history"), history_path)
    messages_path = at(history_path, "messages")
    messages = obj(history.get("messages"), messages_path)
    skipped: Counter[str] = Counter()
    nodes = [_node(key, value, at(messages_path, key), skipped) for key, value in messages.items()]
    return ForeignConversation(
        where=where,
        title=_title(record),
        nodes=nodes,
        current_id=optional_id(history.get("currentId"), at(history_path, "currentId")),
        skipped=skipped,
        create_time=_created(record, chat, where, chat_path),
    )


def _created(
    record: dict[str, Any], chat: dict[str, Any], where: str, chat_path: str
) -> datetime | None:
    """The chat's `created_at` (seconds), else its `chat.timestamp` (milliseconds)."""
    if record.get("created_at") is not None:
        return epoch(record["created_at"], at(where, "created_at"), milliseconds_from=_MS)
    return epoch(chat.get("timestamp"), at(chat_path, "timestamp"), milliseconds_from=_MS)


def _node(key: str, value: Any, path: str, skipped: Counter[str]) -> ForeignNode:
    message = obj(value, path)
    node_id = text(message.get("id", key), at(path, "id"))
    if node_id != key:
        raise ValueError(f"{at(path, 'id')}: {node_id!r} differs from its key {key!r}.")
    parent = optional_id(message.get("parentId"), at(path, "parentId"))
    role = text(message.get("role"), at(path, "role"))
    content = text(message.get("content"), at(path, "content"), default="")
    for name, kind in _EXTRAS.items():
        listed = message.get(name)
        if isinstance(listed, list) and listed:
            skipped[kind] += len(listed)
    files = message.get("files")
    for attached in files if isinstance(files, list) else []:
        is_image = isinstance(attached, dict) and attached.get("type") == "image"
        skipped["image" if is_image else "attached file"] += 1
    if role == "system":
        skipped["system message"] += 1
        return ForeignNode(node_id, parent, None)
    if role not in ("user", "assistant"):
        raise ValueError(f"{at(path, 'role')}: must be user, assistant or system, not {role!r}.")
    if role == "user" and not content.strip():  # a blank reply can be stored, not this
        skipped["empty message"] += 1
        return ForeignNode(node_id, parent, None)
    time = epoch(message.get("timestamp"), at(path, "timestamp"), milliseconds_from=_MS)
    if role == "user":
        return ForeignNode(node_id, parent, "human", content, time=time)
    model = message.get("model")
    name = model if isinstance(model, str) else ""
    return ForeignNode(node_id, parent, "model", content, name, time=time)
