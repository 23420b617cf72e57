"""The AddResponse streams a client started itself, so its watches can tell them apart.

Every sampling call sends a fresh `request_id`; a watch event carries the request id of
the call that caused it. A client (one stub) remembers its recent ids here, and
`Conversation.watch()` marks the events of those streams `own`: a UI that streams its
own replies already skips them rather than showing them twice. Kept per stub (one
`Client`), so two clients in one process — a test, an embedder — stay strangers.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict

REMEMBERED = 4096
"""How many recent request ids a client keeps: far more than can run at once."""


class OwnRequests:
    """A client's most recent request ids (the oldest forgotten beyond `REMEMBERED`)."""

    def __init__(self) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, request_id: str) -> None:
        """Remembers a request id this client sent."""
        self._ids[request_id] = None
        if len(self._ids) > REMEMBERED:
            self._ids.popitem(last=False)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._ids


_BY_STUB: weakref.WeakKeyDictionary[object, OwnRequests] = weakref.WeakKeyDictionary()


def own_requests(stub: object) -> OwnRequests:
    """The request ids started through `stub` (one client's connection)."""
    known = _BY_STUB.get(stub)
    if known is None:
        known = _BY_STUB[stub] = OwnRequests()
    return known
