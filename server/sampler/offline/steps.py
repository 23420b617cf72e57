"""Decode steps: the offline model's streams advance together, a token each per step.

A batched inference server (vLLM, llama.cpp's server, TGI) samples every running sequence
in one forward pass: each decode step gives all its streams their next token at once, and
the tokens leave together. The offline sampler paces its streams the same way. A stream
waits for the next step of its pace on its event loop; steps fall on a fixed grid (every
`period` seconds of the loop's clock), so streams that started at different times still
step together.

Why not each stream on its own schedule, as before: that was a timer a token a stream
(200 streams at 50 tokens/s, 10,000 timers a second), and it spread the streams' writes
evenly over the step, so nearly every write woke its caller's connection on its own (on
loopback the sender pays for the receiver's wake-up too). Stepped together, one timer
wakes them all and their writes leave back to back. bench.scale (400 streams over two
replicas on a 2-core machine, four alternating pairs): the token gap p99 while all
streams run went from 74-81 ms to 44-74 ms, the machine from 1.94-1.97 to 1.88-1.94 busy
cores.

A stream that falls behind (its own work or a busy loop took longer than a step) takes
the next step to come: it never bursts to catch up, and a step is never taken twice.
"""

from __future__ import annotations

import asyncio
import math
import weakref

__all__ = ["UNPACED_YIELD_EVERY", "DecodeSteps", "decode_steps"]

UNPACED_YIELD_EVERY = 16
"""An unpaced stream (zero token delay: no steps to wait for) still yields to its event
loop every this many tokens, so concurrent streams make progress."""


class DecodeSteps:
    """The decode steps of one pace on one event loop; streams await the next one.

    A step is scheduled only while some stream waits for it: an idle server keeps no
    timer. Each waiter has a future of its own, so cancelling one stream (its caller
    left) never cancels the step for the others. The loop is held weakly: the steps are
    kept per loop (`decode_steps`), and must not keep a closed loop alive.
    """

    def __init__(self, period: float, loop: asyncio.AbstractEventLoop) -> None:
        if not (math.isfinite(period) and period > 0):
            raise ValueError(f"a decode step's period must be a positive number, got {period}")
        self.period = period
        self._loop = weakref.ref(loop)
        self._waiters: list[asyncio.Future[int]] = []
        self._due_step = 0
        self._taken_step = 0
        self.steps_taken = 0

    @property
    def scheduled(self) -> bool:
        """True while a step is due (some stream waits for it)."""
        return bool(self._waiters)

    def next_step(self) -> asyncio.Future[int]:
        """A future that resolves at the next step, to that step's number on the grid.

        Step n falls at `n * period` on the loop's clock; streams that ask within one
        period get the same step.
        """
        loop = self._loop()
        if loop is None:
            raise RuntimeError("the event loop of these decode steps is gone")
        waiter: asyncio.Future[int] = loop.create_future()
        if not self._waiters:
            # After the last step taken, whatever the clock's rounding at its boundary.
            step = max(math.floor(loop.time() / self.period) + 1, self._taken_step + 1)
            self._due_step = step
            loop.call_at(step * self.period, self._step)
        self._waiters.append(waiter)
        return waiter

    def _step(self) -> None:
        waiters, self._waiters = self._waiters, []
        self.steps_taken += 1
        step = self._taken_step = self._due_step
        for waiter in waiters:
            if not waiter.done():  # a cancelled stream's
                waiter.set_result(step)


_STEPS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, DecodeSteps]] = (
    weakref.WeakKeyDictionary()
)


def decode_steps(period: float) -> DecodeSteps:
    """The steps of pace `period` on the running loop (one per loop and pace).

    Kept per loop, weakly: a closed loop's steps go with it (tests run many loops).
    """
    loop = asyncio.get_running_loop()
    paces = _STEPS.get(loop)
    if paces is None:
        paces = _STEPS[loop] = {}
    steps = paces.get(period)
    if steps is None:
        steps = paces[period] = DecodeSteps(period, loop)
    return steps
