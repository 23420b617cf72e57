"""`grove ls`, `grove show` and `grove search`: reading what the server stores."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from grove_explorer.app.annotation_marks import annotation_lines
from grove_explorer.app.headless.common import (
    MAX_SEARCH_HITS,
    Outcome,
    find_leaf,
    local_time,
    one_line,
    short_id,
    table,
    wire_time,
)
from grove_explorer.app.headless.share_links import open_linked
from grove_explorer.app.headless.sharing import shared_mark
from grove_explorer.app.safe_text import clean
from grove_explorer.app.viewpoint import viewpoint_of
from grove_explorer.app.widgets.judgement_badge import judgement_label, latest
from grove_explorer.client import (
    AsyncGrok,
)
from grove_explorer.client.convert import role_name
from grove_explorer.client.export import (
    DocumentTree,
    conversation_metadata,
    dumps,
    export_json,
    sampling_summary,
)
from grove_explorer.client.finish import reply_marker
from grove_explorer.client.judgements import MERGE_MARK

if TYPE_CHECKING:
    from grove_explorer.client.conversation import Conversation


async def cmd_ls(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove ls`: every conversation, newest first."""
    listed = await grok.list_conversations()
    items: list[dict[str, Any]] = []
    for c in listed:
        items.append(
            {
                "conversation_id": c.conversation_id,
                "title": c.title,
                "starred": c.starred,
                "create_time": wire_time(c, "create_time"),
                "update_time": wire_time(c, "update_time"),
                "response_count": c.response_count,
                "owner_user_id": c.owner_user_id,
                "role": role_name(c.role),
            }
        )
    if args.json:
        return Outcome(dumps(items) + "\n")
    if not items:
        return Outcome()
    rows = [
        [
            short_id(i["conversation_id"]),
            local_time(i["update_time"]),
            str(i["response_count"]),
            ("★ " if i["starred"] else "")
            + (one_line(i["title"]) or "(untitled)")
            + shared_mark(i["owner_user_id"], i["role"]),
        ]
        for i in items
    ]
    return Outcome(table(["ID", "UPDATED", "RESPONSES", "TITLE"], rows, right={2}))


def fused_words(mode: str, sources: list[str]) -> str:
    """`⊕ fused (fuse) from 1a2b3c4d5e6f, …`: the ids as `grove fuse --ids` takes them."""
    return f"{MERGE_MARK} fused ({clean(mode)}) from {', '.join(short_id(s) for s in sources)}"


async def cmd_show(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove show CONV`: the messages of the current path (a share link's: to its response)."""
    conversation, linked = await open_linked(grok, args.conv)
    leaf = find_leaf(conversation, args.leaf if args.leaf is not None else linked)
    document = export_json(conversation, {})
    forest = DocumentTree.of(document)
    path = forest.path(leaf.response_id if leaf else None)
    if args.json:
        payload = conversation_metadata(conversation)
        if "owner_user_id" in document:  # it names another user: whose the rest is
            payload["owner_user_id"] = document["owner_user_id"]
        payload["leaf_response_id"] = leaf.response_id if leaf else None
        payload["path"] = [{k: v for k, v in r.items() if k != "tokens"} for r in path]
        return Outcome(dumps(payload) + "\n")
    meta = [f"id {conversation.conversation_id}", f"{len(document['responses'])} responses"]
    if conversation.starred:
        meta.append("starred")
    if path:
        meta.append(f"path of {len(path)}")
    lines = [one_line(conversation.title) or "(untitled)", " · ".join(meta), ""]
    for response in path:
        head = [response["sender"], short_id(response["response_id"])]
        if response["model_name"]:
            head.append(response["model_name"])
        if response["manual"]:
            head.append("manual")
        sampling = sampling_summary(response["sampling_params"])
        if sampling:
            head.append(sampling)
        if response["sender"] == "model" and not response["manual"]:
            count = response["token_count"]
            usage = response.get("reported_usage")
            reported = usage.get("completion_tokens") if isinstance(usage, dict) else None
            if reported is not None and reported != count:  # the endpoint's estimate
                head.append(f"{count} tokens (endpoint reported {reported})")
            else:
                head.append(f"{count} tokens")
        k, n = forest.position(response)
        if n > 1:
            head.append(f"branch {k}/{n}")
        ending = reply_marker(response["partial"], response.get("finish_reason") or "")
        if ending:
            head.append(ending)
        if response.get("merged_from"):  # a fused reply (grove fuse): its sources
            head.append(fused_words(response["merge_mode"], response["merged_from"]))
        if response.get("replay_of"):  # a replayed turn (grove replay): its original
            head.append(f"↻ replay of {short_id(clean(response['replay_of']))}")
        lines += [f"── {' · '.join(head)} ──", clean(response["message"])]
        lines += marks_lines(conversation, response["response_id"])
        lines.append("")
    return Outcome("\n".join(lines))


def marks_lines(conversation: Conversation, response_id: str) -> list[str]:
    """A response's annotation and latest judgement, naming whose when not the caller's.

    In a shared conversation the marks may be a colleague's ("by bob"); the caller's own
    carry no name (app/viewpoint.py decides, as in the app).
    """
    node = conversation.forest.responses.get(response_id)
    if node is None:
        return []
    viewpoint = viewpoint_of(conversation.forest.conversation)
    set_by = node.annotation.set_by
    lines = annotation_lines(node.annotation, viewpoint.maker(set_by) if set_by else "")
    judgement = latest(node)
    if judgement is not None:  # the latest score, and whose it is when not the caller's
        asked_by = judgement.asked_by
        lines.append(judgement_label(judgement, viewpoint.maker(asked_by) if asked_by else ""))
    return lines


async def cmd_search(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove search QUERY`: hits best first; stderr says when more match than are shown."""
    hits = await grok.search(args.query, limit=args.limit or 0)
    errors = []
    if hits.remaining > 0:
        wider = min(hits.total, MAX_SEARCH_HITS)
        hint = (
            f"use --limit {wider} to see them all"
            if wider == hits.total
            else f"use --limit {MAX_SEARCH_HITS} (the most) or a narrower query"
        )
        errors.append(f"showing {len(hits)} of {hits.total} hits; {hint}.")
    if args.json:
        payload = dumps([hit.model_dump(mode="json") for hit in hits]) + "\n"
        return Outcome(payload, errors=errors)
    if not hits:
        return Outcome(errors=errors)
    rows = [
        [
            short_id(hit.conversation_id),
            short_id(hit.response_id or None),
            f"{hit.branch[0]}/{hit.branch[1]}" if hit.branch[1] else "-",
            hit.field,
            f"{one_line(hit.conversation_title, 40) or '(untitled)'}: {one_line(hit.snippet)}",
        ]
        for hit in hits
    ]
    return Outcome(
        table(["CONVERSATION", "RESPONSE", "BRANCH", "FIELD", "MATCH"], rows, right={2}),
        errors=errors,
    )
