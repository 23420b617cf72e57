"""The offline model's decode steps: streams of one pace step together on a fixed grid."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref

import pytest

from grove_explorer.server.sampler.offline.steps import DecodeSteps, decode_steps

PERIOD = 0.01


async def test_waiters_of_one_period_share_the_next_step_of_the_grid() -> None:
    loop = asyncio.get_running_loop()
    steps = DecodeSteps(PERIOD, loop)
    asked_at = loop.time()
    first, second = steps.next_step(), steps.next_step()
    assert steps.scheduled
    step = await first
    assert await second == step, "both woken by one step"
    assert step * PERIOD > asked_at, "the next step of the grid, not one already past"
    assert steps.steps_taken == 1
    assert not steps.scheduled, "no timer while nobody waits"
    assert await steps.next_step() > step, "a step is never taken twice"
    assert steps.steps_taken == 2


async def test_a_clock_that_rounds_down_at_a_boundary_never_gives_a_step_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    steps = DecodeSteps(PERIOD, loop)
    step = await steps.next_step()
    # Asked as the step is taken, by a clock that reads a hair before its boundary.
    with monkeypatch.context() as patched:
        patched.setattr(loop, "time", lambda: step * PERIOD - 1e-12)
        waiter = steps.next_step()
    assert await waiter == step + 1


async def test_a_cancelled_stream_does_not_cancel_the_step_of_the_others() -> None:
    steps = DecodeSteps(PERIOD, asyncio.get_running_loop())

    async def stream() -> int:
        return await steps.next_step()

    leaving = asyncio.create_task(stream())
    staying = asyncio.create_task(stream())
    await asyncio.sleep(0)  # both wait for the step now
    leaving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await leaving
    assert leaving.cancelled()
    assert isinstance(await staying, int)
    assert steps.steps_taken == 1


async def test_steps_are_kept_per_pace_and_per_loop() -> None:
    steps = decode_steps(PERIOD)
    assert decode_steps(PERIOD) is steps
    assert decode_steps(PERIOD * 2) is not steps

    async def on_another_loop() -> DecodeSteps:
        return decode_steps(PERIOD)

    other_steps = await asyncio.to_thread(asyncio.run, on_another_loop())
    assert other_steps is not steps


def test_the_steps_of_a_closed_loop_do_not_keep_it_alive() -> None:
    loop = asyncio.new_event_loop()

    async def stream() -> int:
        return await decode_steps(PERIOD).next_step()

    assert isinstance(loop.run_until_complete(stream()), int)
    loop.close()
    gone = weakref.ref(loop)
    del loop
    gc.collect()
    assert gone() is None


@pytest.mark.parametrize("period", [0.0, -0.02, float("nan"), float("inf")])
def test_a_period_must_be_a_positive_number(period: float) -> None:
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(ValueError, match="period"):
            DecodeSteps(period, loop)
    finally:
        loop.close()
