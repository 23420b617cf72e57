"""`grove select CONV RESPONSE`: moves your place in a conversation (the stored leaf).

The place is what the explorer opens the conversation on, on every machine, and what
`grove show`, `export` and `sample` use when no `--leaf` is given. `grove sample` never
moves it; this command is how a script does.
"""

from __future__ import annotations

import argparse

from grove_explorer.app.headless.common import (
    CommandError,
    Outcome,
    find_leaf,
    open_conversation,
    short_id,
)
from grove_explorer.app.safe_text import first_line
from grove_explorer.client import AsyncGrok
from grove_explorer.client.export import dumps


async def cmd_select(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove select CONV RESPONSE`: makes RESPONSE the current leaf, stored on the server."""
    conversation = await open_conversation(grok, args.conv)
    response = find_leaf(conversation, args.response)
    if response is None:  # pragma: no cover - find_leaf raises for a named response
        raise CommandError(f"conversation {conversation.conversation_id} has no such response.")
    previous = conversation.leaf_response_id
    response.select()
    await conversation.leaf_saved()
    path = conversation.forest.path_to(response.response_id)
    if args.json:
        payload = {
            "conversation_id": conversation.conversation_id,
            "leaf_response_id": response.response_id,
            "previous_leaf_response_id": previous,
            "path_length": len(path),
        }
        return Outcome(dumps(payload) + "\n")
    return Outcome(
        f"{short_id(conversation.conversation_id)}: now at {short_id(response.response_id)} "
        f"({response.sender}, {len(path)} on the path): "
        f"{first_line(response.message, 60)}\n"
    )
