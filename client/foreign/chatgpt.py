"""ChatGPT's data export: `conversations.json`, a list of conversations with a `mapping` tree.

Each conversation is `{title, create_time, mapping: {node id: {id, message | null, parent,
children}}, current_node}`; a message has `author.role` (system, user, assistant, tool),
`recipient` ("all", or the tool an assistant message calls), `content.content_type` and
`metadata` (`model_slug`, `is_visually_hidden_from_conversation`) and `create_time`
(seconds since 1970, a float; null on some). User and assistant text becomes human
messages and model replies (`model_name` = the slug) at their `create_time`, the
conversation at its own; the current node becomes the leaf. Not imported, and counted:
system and hidden messages (ChatGPT's own context), tool calls and their output, images
and other non-text parts, reasoning.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from grove_explorer.client.foreign.fields import at, epoch, lst, obj, optional_id, text
from grove_explorer.client.foreign.tree import (
    ForeignConversation,
    ForeignNode,
    ForeignProblem,
    Read,
)

NAME = "chatgpt"

_PART_KINDS = {
    "image_asset_pointer": "image",
    "audio_asset_pointer": "audio clip",
    "real_time_user_audio_video_asset_pointer": "audio clip",
    "audio_transcription": "audio transcription",
}
_CONTENT_KINDS = {
    "thoughts": "reasoning block",
    "reasoning_recap": "reasoning block",
    "code": "code block",
    "execution_output": "tool output",
    "tether_browsing_display": "browsing result",
    "tether_quote": "quoted web page",
    "user_editable_context": "custom instruction",
    "system_error": "tool error",
}


def looks_like(data: Any) -> bool:
    """A list of objects with a `mapping` (or one such object)."""
    items = data if isinstance(data, list) else [data]
    return bool(items) and all(isinstance(i, dict) and "mapping" in i for i in items[:3])


def read(data: Any) -> list[Read]:
    """Every conversation of the file; a malformed one becomes a `ForeignProblem`."""
    items = data if isinstance(data, list) else [data]
    path_of = (lambda i: f"$[{i}]") if isinstance(data, list) else (lambda i: "$")
    results: list[Read] = []
    for index, item in enumerate(items):
        where = path_of(index)
        title = item.get("title") if isinstance(item, dict) else None
        try:
            results.append(_conversation(item, where))
        except ValueError as error:
            named = title if isinstance(title, str) else ""
            results.append(ForeignProblem(where, named, str(error)))
    return results


def _conversation(item: Any, where: str) -> ForeignConversation:
    conversation = obj(item, where)
    mapping = obj(conversation.get("mapping"), at(where, "mapping"))
    skipped: Counter[str] = Counter()
    nodes = [
        _node(key, value, at(at(where, "mapping"), key), skipped) for key, value in mapping.items()
    ]
    return ForeignConversation(
        where=where,
        title=text(conversation.get("title"), at(where, "title"), default=""),
        nodes=nodes,
        current_id=optional_id(conversation.get("current_node"), at(where, "current_node")),
        skipped=skipped,
        create_time=epoch(conversation.get("create_time"), at(where, "create_time")),
    )


def _node(key: str, value: Any, path: str, skipped: Counter[str]) -> ForeignNode:
    node = obj(value, path)
    node_id = text(node.get("id", key), at(path, "id"))
    if node_id != key:
        raise ValueError(f"{at(path, 'id')}: {node_id!r} differs from its key {key!r}.")
    parent = optional_id(node.get("parent"), at(path, "parent"))
    raw = node.get("message")
    if raw is None:  # the root of every mapping: no message
        return ForeignNode(node_id, parent, None)
    sender, message = _message(raw, at(path, "message"), skipped)
    if sender is None:
        return ForeignNode(node_id, parent, None)
    time = epoch(raw.get("create_time"), at(at(path, "message"), "create_time"))
    return ForeignNode(
        node_id, parent, sender, message.get("text", ""), message.get("model", ""), time=time
    )


def _message(raw: Any, path: str, skipped: Counter[str]) -> tuple[str | None, dict[str, str]]:
    """The sender (None: not imported, counted in `skipped`) and the text and model."""
    message = obj(raw, path)
    author = obj(message.get("author"), at(path, "author"))
    role = text(author.get("role"), at(at(path, "author"), "role"))
    content = obj(message.get("content"), at(path, "content"))
    content_type = text(content.get("content_type"), at(at(path, "content"), "content_type"))
    metadata = message.get("metadata") or {}
    metadata = obj(metadata, at(path, "metadata"))
    hidden = metadata.get("is_visually_hidden_from_conversation") is True
    recipient = message.get("recipient") or "all"
    if role == "system":
        skipped["hidden system message" if hidden else "system message"] += 1
        return None, {}
    if role == "tool":
        skipped["tool output"] += 1
        return None, {}
    if role not in ("user", "assistant"):
        raise ValueError(
            f"{at(at(path, 'author'), 'role')}: must be system, user, assistant or tool, "
            f"not {role!r}."
        )
    if role == "assistant" and recipient != "all":
        skipped["tool call"] += 1
        return None, {}
    if hidden:
        skipped["hidden message"] += 1
        return None, {}
    words = _text(content, content_type, at(path, "content"), skipped)
    if not words.strip():
        if content_type in ("text", "multimodal_text") and not _has_parts(content):
            skipped["empty message"] += 1
        return None, {}
    if role == "user":
        return "human", {"text": words}
    slug = metadata.get("model_slug")
    return "model", {"text": words, "model": slug if isinstance(slug, str) else ""}


def _has_parts(content: dict[str, Any]) -> bool:
    parts = content.get("parts")
    return isinstance(parts, list) and any(not isinstance(p, str) for p in parts)


def _text(content: dict[str, Any], content_type: str, path: str, skipped: Counter[str]) -> str:
    """The text parts joined; every other part or content type counted, not imported."""
    if content_type not in ("text", "multimodal_text"):
        skipped[_CONTENT_KINDS.get(content_type, f"{content_type} part")] += 1
        return ""
    words = []
    for index, part in enumerate(lst(content.get("parts", []), at(path, "parts"))):
        if isinstance(part, str):
            words.append(part)
        elif isinstance(part, dict):
            kind = part.get("content_type")
            name = kind if isinstance(kind, str) else "unknown"
            skipped[_PART_KINDS.get(name, f"{name} part")] += 1
        elif part is not None:
            raise ValueError(f"{at(at(path, 'parts'), index)}: must be a string or an object.")
    return "".join(words)
