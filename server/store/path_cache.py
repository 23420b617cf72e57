"""`PathCache`: root paths of recent responses, kept by either store (an LRU of SharedPaths).

Shared by the SQLite and PostgreSQL stores: a response's path never changes once stored
(responses are never edited, moved or deleted on their own), so a path read or stored
recently stays true in any process that holds it, and several replicas on one database
may each keep their own. A store checks that the response is still in the user's
conversation (one indexed read) before it answers from here.
"""

from __future__ import annotations

from grove_explorer.server.recent_paths import RecentPaths, SharedPath
from grove_explorer.server.store.records import ResponseRecord


class PathCache(RecentPaths[SharedPath[ResponseRecord]]):
    """Root paths of the responses most recently read or stored, newest kept (LRU).

    A response's path never changes once stored (responses are never edited, moved or
    deleted on their own), and a new response's path is its parent's plus itself. So
    the path a reply is sampled from is usually here already: the reply the user just
    got, or its parent. Reading it again from the table cost a recursive query and a
    record per response of the path on every turn — the cost grew with depth. A new
    response's path shares its parent's records (`SharedPath`: no copy of the path).
    """

    def extend(self, user_id: str, record: ResponseRecord) -> None:
        """Adds a new response's path when its parent's is known (or it is a root)."""
        conversation_id = record.conversation_id
        parent = record.parent_response_id
        if parent is None:
            self.put((user_id, conversation_id, record.response_id), SharedPath((record,)))
            return
        above = self.peek((user_id, conversation_id, parent))
        if above is not None:
            self.put((user_id, conversation_id, record.response_id), above.extended(record))
