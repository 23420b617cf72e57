"""Paths kept per recent response: a small LRU, and `SharedPath`, a path a turn extends in O(1).

Two caches keep something per recent path, for the same reason (a response's path never
changes once stored, and a new response's path is its parent's plus itself): the store's
records of the path (`store/path_cache.PathCache`, either store) and the sampler's messages of it
(`servicer/path_messages.PathMessages`). `RecentPaths` is the keeping and forgetting they
share; `SharedPath` is how they keep a path without copying it on every turn.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, Generic, TypeVar, overload

V = TypeVar("V")
T = TypeVar("T")

PathKey = tuple[str, str, str]
"""(user_id, conversation_id, response_id) whose path root → response a value is of."""


class SharedPath(Sequence[T]):
    """A root path that shares its items with the path it extends: an immutable sequence.

    It is the first `len(path)` items of a list that only ever grows at its end. Extending
    the longest path of a list appends to the list (a deep path's next turn costs O(1),
    where a tuple copied the whole path, each copy touching every message); extending a
    shorter one (a branch) copies its items to a new list first. Items below a path's
    length never change, so two paths of one list are equal exactly when their lengths
    are (`same_items`), which lets the sampler's memos compare deep paths in O(1).

    Used from the event loop's thread only (extending checks, then appends).
    """

    __slots__ = ("_items", "_length")

    def __init__(self, items: Iterable[T] = ()) -> None:
        self._items: list[T] = list(items)
        self._length = len(self._items)

    @classmethod
    def _view(cls, items: list[T], length: int) -> SharedPath[T]:
        path: SharedPath[T] = cls.__new__(cls)
        path._items = items
        path._length = length
        return path

    def extended(self, item: T) -> SharedPath[T]:
        """A new path: these items, then `item` (the path it is called on stays as it was)."""
        items = self._items
        if len(items) != self._length:  # a longer path shares the list: branch off
            items = items[: self._length]
        items.append(item)
        return self._view(items, self._length + 1)

    def prefix(self, length: int) -> SharedPath[T]:
        """The first `length` items (0 <= length <= len(self)), sharing this path's list."""
        if not 0 <= length <= self._length:
            raise IndexError(f"prefix length {length} outside 0..{self._length}")
        return self._view(self._items, length)

    def same_items(self, other: SharedPath[Any]) -> bool:
        """True if both paths are views of one list: each is the other's prefix (O(1))."""
        return self._items is other._items

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...

    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._length)
            if step == 1:
                return tuple(self._items[start:stop])
            return tuple(self._items[i] for i in range(start, stop, step))
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("path index out of range")
        return self._items[index]

    def __iter__(self) -> Iterator[T]:
        return islice(self._items, self._length)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SharedPath):
            if self._length != other._length:
                return False
            return self.same_items(other) or tuple(self) == tuple(other)
        if isinstance(other, tuple):
            return len(other) == self._length and tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))  # equal to the tuple of its items, so hashed like it

    def __repr__(self) -> str:
        return f"SharedPath({list(self)!r})"


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
