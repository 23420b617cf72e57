"""`PathMemo`: values computed from recent paths, found without hashing the whole path.

The offline model memoises what it computes from a conversation path (its prompt count,
the topic weights of its earlier turns, its conditioning), and extends a deep path's
values from a shorter prefix's. A tuple of messages hashes every message on every lookup,
so keying a memo by the path itself made each turn of a 5,000-deep path hash ~5,000
messages a dozen times (most of the growth of a turn's cost with depth).

Here an entry's key is the path's length and its last message (a message's hash is its
two strings', which Python keeps), and the entry holds the path it was computed from: a
key that matches is a hit only if that path equals the one asked about. So the answer is
always the value of an equal path, whatever the caller passes. The server's paths are
`SharedPath`s (a turn appends to its parent's list), for which the check is O(1): two
views of one list agree on their common prefix. Other paths are compared as tuples (a
pass over pointers when they share their messages), and only for the entry that can
match; a lookup that misses costs one small hash.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Generic, TypeVar

from grove_explorer.server.recent_paths import SharedPath

V = TypeVar("V")

Pair = tuple[str, str]
"""A message as (sender, text): a `PathMessage`, or a plain pair (the same value)."""
PathKey = tuple[Pair, ...] | SharedPath[Pair]
"""A path that cannot change: a tuple, or a `SharedPath` (see `path_key`)."""
_Key = tuple[int, Pair | None]


def path_key(path: Sequence[Pair]) -> PathKey:
    """The path as a memo takes it: itself when it cannot change, else a tuple copy."""
    if isinstance(path, (tuple, SharedPath)):
        return path
    return tuple(path)


def _key(path: PathKey, length: int) -> _Key:
    return (length, path[length - 1] if length else None)


def _prefix(path: PathKey, length: int) -> PathKey:
    """`path[:length]` as a path that cannot change (a view of a `SharedPath`'s list)."""
    if length == len(path):
        return path
    if isinstance(path, SharedPath):
        return path.prefix(length)
    return path[:length]


def _same(kept: PathKey, path: PathKey, length: int) -> bool:
    """Whether `kept` (of `length` messages) equals `path[:length]`."""
    if kept is path:
        return True
    if isinstance(kept, SharedPath) and isinstance(path, SharedPath) and kept.same_items(path):
        return True  # views of one list: equal up to the shorter one's length
    if isinstance(kept, tuple) and isinstance(path, tuple):
        return kept == (path if length == len(path) else path[:length])
    return tuple(kept) == tuple(path[:length])


class PathMemo(Generic[V]):
    """The values of the `kept` most recently used paths (the oldest is dropped first).

    `get(path, length)` and `put(path, length, value)` are about the prefix
    `path[:length]`, so callers look up a path's prefixes without copying them.
    """

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._entries: OrderedDict[_Key, tuple[PathKey, V]] = OrderedDict()

    def get(self, path: PathKey, length: int) -> V | None:
        """The value kept for `path[:length]` (now the newest), or None."""
        key = _key(path, length)
        entry = self._entries.get(key)
        if entry is None:
            return None
        kept, value = entry
        if not _same(kept, path, length):
            return None  # another path of that length ending in an equal message
        self._entries.move_to_end(key)
        return value

    def put(self, path: PathKey, length: int, value: V) -> None:
        """Keeps `value` for `path[:length]`, dropping the oldest entry beyond the bound."""
        key = _key(path, length)
        entries = self._entries
        entries[key] = (_prefix(path, length), value)
        entries.move_to_end(key)
        while len(entries) > self._kept:
            entries.popitem(last=False)

    def clear(self) -> None:
        """Forgets every path."""
        self._entries.clear()
