"""`grove share CONV`: share a conversation with another user of the server, or stop.

`--user USER --role reader|writer` grants (again: changes the role), `--revoke USER`
ends it, `--list` shows who has access. Only the conversation's owner may; the server
answers anyone else with its own sentence (printed as `grove: …`, exit code 1). CONV may
be an id, a unique prefix, an exact title, or a share link (ShareConversation's URL).
"""

from __future__ import annotations

import argparse
from typing import Any

from grove_explorer.app.headless.common import (
    Outcome,
    UsageError,
    local_time,
    one_line,
    open_conversation,
    short_id,
    table,
)
from grove_explorer.client import AsyncGrok
from grove_explorer.client.export import dumps


def check_share_usage(args: argparse.Namespace) -> None:
    """`--role` belongs to `--user`."""
    if args.role is not None and args.user is None:
        raise UsageError("--role goes with --user (the role to share as).")


async def cmd_share(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove share CONV --user USER [--role R] | --revoke USER | --list [--json]`."""
    conversation = await open_conversation(grok, args.conv)
    title = one_line(conversation.title, 60) or "untitled"
    name = f"{short_id(conversation.conversation_id)} ({title})"
    if args.user is not None:
        grant = await conversation.share_with(args.user, args.role or "reader")
        if args.json:
            return Outcome(dumps(_grant_json(grant)) + "\n")
        return Outcome(f"Shared {name} with {one_line(grant.user_id, 60)} as a {grant.role}.\n")
    if args.revoke is not None:
        revoked = await conversation.unshare(args.revoke)
        who = one_line(args.revoke, 60)
        if args.json:
            return Outcome(dumps({"user_id": args.revoke, "revoked": revoked}) + "\n")
        if not revoked:
            return Outcome(errors=[f"{name} was not shared with {who}; nothing changed."])
        return Outcome(f"{who} no longer has access to {name}.\n")
    grants = await conversation.access_list()
    if args.json:
        return Outcome(dumps([_grant_json(g) for g in grants]) + "\n")
    if not grants:
        return Outcome(errors=[f"{name} is shared with no one; share it with --user USER."])
    rows = [[one_line(g.user_id, 60), g.role, local_time(_iso(g.create_time))] for g in grants]
    return Outcome(table(["USER", "ROLE", "SINCE"], rows, right=set()))


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def _grant_json(grant: Any) -> dict[str, Any]:
    return {
        "user_id": grant.user_id,
        "role": grant.role,
        "granted_by": grant.granted_by,
        "create_time": _iso(grant.create_time),
    }


def shared_mark(owner: str, role: str) -> str:
    """How `grove ls` marks a conversation shared with you ("" for your own)."""
    return "" if role == "owner" else f"  (shared by {one_line(owner, 40)}, {role})"
