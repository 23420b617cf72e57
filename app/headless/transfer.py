"""`grove export`: a conversation out to a file format.

`grove import` (back in) is `app/headless/importing.py`: it reads a file and sends it, and
loads none of the writers here nor the conversation client they read (issue 13).
"""

from __future__ import annotations

import argparse

from grove_explorer.app.headless.common import (
    Outcome,
    find_leaf,
    open_conversation,
)
from grove_explorer.client import (
    AsyncGrok,
)
from grove_explorer.client.export import (
    conversation_dot,
    conversation_markdown,
    dumps,
    export_json,
    json_text,
    preference_pairs,
    to_jsonl,
    why_no_pairs,
)
from grove_explorer.client.export.arena_pairs import arena_pairs
from grove_explorer.client.export.judged_pairs import judged_pairs
from grove_explorer.client.foreign import skipped_sentence
from grove_explorer.client.foreign.chatgpt_export import chatgpt_conversations
from grove_explorer.client.foreign.loom_export import loom_tree
from grove_explorer.client.foreign.openwebui_export import openwebui_chats

FOREIGN_EXPORTS = {
    "openwebui": ("Open WebUI's format", openwebui_chats),
    "chatgpt": ("ChatGPT's format", chatgpt_conversations),
    "loom": ("loom's format", loom_tree),
}
"""`grove export --format` of other tools: the format's name in messages, and its writer."""


async def cmd_export(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove export CONV`: one of the formats of `client.export`."""
    conversation = await open_conversation(grok, args.conv)
    leaf = find_leaf(conversation, args.leaf)
    leaf_id = leaf.response_id if leaf is not None else None
    outcome = Outcome(output_file=args.output)
    if args.format == "json":
        outcome.stdout = await json_text(conversation) + "\n"
        return outcome
    pairs_from = getattr(args, "pairs_from", "marks")
    if args.format == "jsonl-pairs" and pairs_from == "arena":
        votes = await grok.list_votes(conversation.conversation_id)
        voted = arena_pairs(export_json(conversation, {}), votes)
        outcome.stdout = to_jsonl(voted.pairs)
        outcome.errors.append(voted.summary())  # counts on stderr, never silent
    elif args.format == "jsonl-pairs" and pairs_from == "judge":
        judged = judged_pairs(export_json(conversation, {}))
        outcome.stdout = to_jsonl(judged.pairs)
        outcome.errors.append(judged.summary())  # counts on stderr, never silent
    elif args.format == "jsonl-pairs":
        document = export_json(conversation, {})
        outcome.stdout = to_jsonl(preference_pairs(document, leaf_id=leaf_id))
        if not outcome.stdout:  # not a failure (exit 0, like a search without hits): say why
            outcome.errors.append(why_no_pairs(document, leaf_id=leaf_id))
    elif args.format in FOREIGN_EXPORTS:
        name, write = FOREIGN_EXPORTS[args.format]
        written, not_kept = write(export_json(conversation, {}), leaf_id)
        outcome.stdout = dumps(written) + "\n"
        if not_kept:  # never silent: what the other tool's format has no place for
            outcome.errors.append(f"not in {name}: {skipped_sentence(not_kept)}.")
    elif args.format == "dot":
        outcome.stdout = conversation_dot(conversation, leaf_id=leaf_id)
        outcome.raw_text = True
    else:
        outcome.stdout = conversation_markdown(conversation, leaf_id=leaf_id, all_branches=args.all)
        outcome.raw_text = True
    return outcome
