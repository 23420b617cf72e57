"""The AddResponse streams a client started itself, so its watches can tell them apart.

Every request id a client sends starts with a tag of its own (one per stub, i.e. per
`Client`): a watch event carries the request id of the call that caused it, so
`Conversation.watch()` marks the events of this client's streams `own` (a UI that streams
its own replies skips them rather than showing them twice), and the watch asks the server
not to send their text at all — it reached this client on their own streams already.
Two clients in one process (a test, an embedder) stay strangers.
"""

from __future__ import annotations

import uuid
import weakref


class OwnRequests:
    """Makes a client's request ids and recognises them (by their tag)."""

    def __init__(self) -> None:
        self.prefix = f"{uuid.uuid4().hex[:12]}-"

    def new_id(self) -> str:
        """A fresh request id of this client's."""
        return self.prefix + uuid.uuid4().hex

    def __contains__(self, request_id: object) -> bool:
        return isinstance(request_id, str) and request_id.startswith(self.prefix)


_BY_STUB: weakref.WeakKeyDictionary[object, OwnRequests] = weakref.WeakKeyDictionary()


def own_requests(stub: object) -> OwnRequests:
    """The request ids of the client whose connection `stub` is."""
    known = _BY_STUB.get(stub)
    if known is None:
        known = _BY_STUB[stub] = OwnRequests()
    return known
