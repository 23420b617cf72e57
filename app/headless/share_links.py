"""A share link on the command line: the conversation it names and the response it links to.

ShareConversation's URL ends with a response id; the server resolves it for a caller who
may read the conversation (ResolveShareLink). `grove show URL` opens at that response —
what the sender pointed at — instead of the reader's own place in the conversation
(`--leaf` still wins).
"""

from __future__ import annotations

from grove_explorer.app.headless.common import open_conversation
from grove_explorer.client import AsyncGrok, Conversation
from grove_explorer.client.sharing import looks_like_link


async def open_linked(grok: AsyncGrok, ref: str) -> tuple[Conversation, str | None]:
    """The conversation `ref` names, and the response a share link points at (else None).

    A link is resolved once, then opened by its conversation id.
    """
    wanted = ref.strip()
    if not looks_like_link(wanted):
        return await open_conversation(grok, ref), None
    conversation_id, response_id = await grok.resolve_share_link(wanted)
    return await open_conversation(grok, conversation_id), response_id or None
