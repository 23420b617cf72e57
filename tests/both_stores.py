"""Fixtures that run a module's end-to-end tests on both stores (SQLite, then PostgreSQL).

A test module imports them to override conftest's `server_config` and `make_server`:

    from tests import both_stores

    server_config = both_stores.server_config
    make_server = both_stores.make_server

Then `server`, `client` and every server it builds use the `database` fixture's store in
turn — a SQLite file, then a fresh database on the test PostgreSQL server — so the SDK
flows are checked against each store through the real servicer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.store.location import DatabaseLocation


@pytest.fixture
def server_config(database: DatabaseLocation) -> ServerConfig:
    """A loopback server config on each store in turn (SQLite, then PostgreSQL)."""
    return ServerConfig(host="127.0.0.1", port=0, db=database)


@pytest.fixture
def make_server(server_config: ServerConfig) -> Callable[..., GroveServer]:
    """Builds (not starts) servers sharing the test's database, for restart tests."""

    def build(**overrides: object) -> GroveServer:
        return GroveServer(replace(server_config, **overrides))

    return build
