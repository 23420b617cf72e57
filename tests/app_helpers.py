"""Helpers for driving the Grove app with Textual's pilot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import NamedTuple

from textual.pilot import Pilot

from grove_explorer.app.config import AppConfig
from grove_explorer.app.grove_app import GroveApp
from grove_explorer.app.screens.main import MainScreen
from grove_explorer.client import Client, Conversation, SamplingParams
from tests.helpers import TEAM_KEYS, collect

__all__ = ["TEAM_KEYS"]  # the app tests take them from here with the explorer helpers


def make_app(address: str, **config: object) -> GroveApp:
    """An app pointed at a running test server."""
    return GroveApp(AppConfig(server=address, **config))  # type: ignore[arg-type]


class Explorer(NamedTuple):
    """A booted explorer: the app, its pilot, and its main screen once conversations are
    listed (unpack it: `async with explorer(...) as (app, pilot, screen)`)."""

    app: GroveApp
    pilot: Pilot
    screen: MainScreen


@asynccontextmanager
async def explorer(
    address: str, *, size: tuple[int, int] = (80, 24), **config: object
) -> AsyncIterator[Explorer]:
    """Boots the explorer against the server at `address` (the app tests' one way in).

    `config` goes to AppConfig (e.g. `keymap=`); `size` is the terminal (Textual's
    default if not given). The app is shut down when the block ends.
    """
    app = make_app(address, **config)
    async with app.run_test(size=size) as pilot:
        yield Explorer(app, pilot, await main_screen(pilot))


async def main_screen(pilot: Pilot) -> MainScreen:
    """Waits (bounded) until the explorer screen is up and has listed conversations."""
    app = pilot.app
    async with asyncio.timeout(10):
        while not isinstance(app.screen, MainScreen):
            await pilot.pause()
    await settle(pilot)
    return app.screen  # type: ignore[return-value]


async def settle(pilot: Pilot) -> None:
    """Waits for every worker to finish and the message queues to drain."""
    async with asyncio.timeout(20):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def until(pilot: Pilot, condition: Callable[[], bool], what: str) -> None:
    """Lets the app run until `condition` holds (bounded), for states mid-stream."""
    # Polls the condition (not a fixed sleep): `pilot.pause()` would wait for the CPU to go
    # idle, which never happens while a reply streams.
    try:
        async with asyncio.timeout(10):
            while not condition():  # noqa: ASYNC110 - polling widget state
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def send(pilot: Pilot, text: str) -> None:
    """Types `text` into the composer and presses Enter."""
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen)
    screen.composer.focus()
    screen.composer.text = text
    await pilot.press("enter")


async def alice_shares(alice: Client, role: str, title: str | None = None) -> Conversation:
    """Alice's conversation with one short reply (and `title`), shared with bob as `role`."""
    mine = alice.grok.create_conversation()
    stream, future = mine.add_response("Medlars?", sampling=SamplingParams(max_tokens=4))
    await collect(stream)
    await future
    if title is not None:
        await mine.set_title(title)
    await mine.share_with("bob", role)
    return mine
