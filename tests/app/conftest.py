"""Fixtures of the app's tests on a team server: users with keys, one database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import TEAM_KEYS


@pytest.fixture
async def team(make_server: Callable[..., GroveServer]) -> AsyncIterator[GroveServer]:
    """A running server where alice, bob and carol each hold a key ("key-<name>")."""
    running = make_server(api_keys=TEAM_KEYS)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
