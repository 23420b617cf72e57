"""A small LRU of whatever is kept per root path: (user, conversation, response) → value.

Two caches keep something per recent path, for the same reason (a response's path never
changes once stored, and a new response's path is its parent's plus itself): the store's
records of the path (`store/sqlite/responses.PathCache`) and the sampler's messages of it
(`servicer/path_messages.PathMessages`). This is the keeping and forgetting they share.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")

PathKey = tuple[str, str, str]
"""(user_id, conversation_id, response_id) whose path root → response a value is of."""


class RecentPaths(Generic[V]):
    """The values of the `LIMIT` most recently used paths; the oldest is dropped first."""

    LIMIT = 64

    def __init__(self) -> None:
        self._values: OrderedDict[PathKey, V] = OrderedDict()

    def get(self, key: PathKey) -> V | None:
        """The value kept for `key` (now the newest), or None."""
        value = self._values.get(key)
        if value is not None:
            self._values.move_to_end(key)
        return value

    def peek(self, key: PathKey) -> V | None:
        """The value kept for `key`, without making it the newest."""
        return self._values.get(key)

    def put(self, key: PathKey, value: V) -> None:
        """Keeps `value` as the newest entry, dropping the oldest beyond `LIMIT`."""
        values = self._values
        values[key] = value
        values.move_to_end(key)
        while len(values) > self.LIMIT:
            values.popitem(last=False)

    def clear(self) -> None:
        """Forgets every path."""
        self._values.clear()
