"""The sampler's view of recent paths: their messages, kept so a turn adds one.

A reply is sampled from the path root → parent as `PathMessage`s. Building them from the
path's records cost one object per response of the path on every turn, so a deep path got
slower with each turn. A response's path never changes once stored (responses are never
edited or moved, and their ids are fresh), and a new response's path is its parent's plus
itself: the messages of the path a turn extends are usually kept here already, and the
turn appends one message to them (`SharedPath`: no copy of the path, so neither a turn nor
the sampler's memos of its path cost more as the path grows).

Keyed like the store's path cache, by (user, conversation, response id): the caller reads
the path from the store first, which checks that the response is still in the user's
conversation, so a kept entry is only used for a response that exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from grove_explorer.server.recent_paths import RecentPaths, SharedPath
from grove_explorer.server.sampler.base import PathMessage
from grove_explorer.server.store import ResponseRecord

Messages = SharedPath[PathMessage]


class PathMessages(RecentPaths[Messages]):
    """The messages of the paths to recently stored or sampled-from responses (LRU)."""

    def of(
        self,
        user_id: str,
        conversation_id: str,
        response_id: str | None,
        records: Sequence[ResponseRecord],
    ) -> Messages:
        """The messages of `records`, the path root → `response_id` the store returned."""
        if response_id is None:
            return SharedPath()
        key = (user_id, conversation_id, response_id)
        kept = self.get(key)
        if kept is not None and len(kept) == len(records):
            return kept
        messages = SharedPath(PathMessage(r.sender, r.message) for r in records)
        self.put(key, messages)
        return messages

    def extend(self, user_id: str, above: Messages, record: ResponseRecord) -> Messages:
        """The messages of `record`'s path, whose parent's path is `above`; kept."""
        messages = above.extended(PathMessage(record.sender, record.message))
        self.put((user_id, record.conversation_id, record.response_id), messages)
        return messages
