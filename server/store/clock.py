"""The store's clock: strictly increasing times, one or a run of them at once.

Both stores stamp their writes from it, so creation and update orders never tie within
one process, even where the system clock is coarse or steps back a little.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_TICK = timedelta(microseconds=1)


class StoreClock:
    """Now, strictly after the previous time handed out."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)

    def tick(self) -> datetime:
        """Returns now, strictly after the previous time (call under the write's lock)."""
        now = datetime.now(UTC)
        if now <= self._last:
            now = self._last + _TICK
        self._last = now
        return now

    def ticks(self, count: int) -> datetime:
        """The first of `count` times one microsecond apart (an import's rows).

        As `count` calls of `tick` would give them while the clock stands still, without
        reading it per row; the last is the clock's last time after this.
        """
        first = self.tick()
        if count > 1:
            self._last = first + _TICK * (count - 1)
        return first
