"""Shared fixtures: a real Grove server on a loopback port with a temporary SQLite file."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from grove_explorer.client import Client
from grove_explorer.server.backends import BackendSpec, ModelsConfig
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer, default_store
from grove_explorer.server.store import Store
from grove_explorer.server.store.location import DatabaseLocation, PostgresUrl
from tests.fake_openai import DEFAULT_MODEL, FakeOpenAI
from tests.postgres_server import PostgresCluster, admin_url, create_database, drop_database


@pytest.fixture
def server_config(tmp_path: Path) -> ServerConfig:
    """A loopback config on a free port with its own database file."""
    return ServerConfig(host="127.0.0.1", port=0, db=tmp_path / "grove.sqlite3")


@pytest.fixture
async def server(server_config: ServerConfig) -> AsyncIterator[GroveServer]:
    """A running server; stopped (and its store closed) after the test."""
    running = GroveServer(server_config)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def client(server: GroveServer) -> AsyncIterator[Client]:
    """An SDK client connected to `server`."""
    sdk = Client(api_host=server.address)
    try:
        yield sdk
    finally:
        await sdk.close()


@pytest.fixture
def make_server(tmp_path: Path) -> Callable[..., GroveServer]:
    """Builds (not starts) servers sharing the test's database, for restart tests."""

    def build(**overrides: object) -> GroveServer:
        config = replace(
            ServerConfig(host="127.0.0.1", port=0, db=tmp_path / "grove.sqlite3"), **overrides
        )
        return GroveServer(config)

    return build


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """A real OpenAI-compatible HTTP server on a loopback port (see tests/fake_openai.py)."""
    async with FakeOpenAI() as fake:
        yield fake


def openai_backend(fake: FakeOpenAI, name: str = "fake", **settings: object) -> BackendSpec:
    """A backend spec pointing at the fake endpoint; no retries so failures show at once."""
    values: dict[str, object] = {
        "base_url": fake.base_url,
        "model": DEFAULT_MODEL,
        "max_retries": 0,
        "timeout_seconds": 5.0,
    }
    values.update(settings)
    return BackendSpec(name=name, sampler="openai", **values)  # type: ignore[arg-type]


@pytest.fixture
async def openai_server(
    server_config: ServerConfig, fake_openai: FakeOpenAI
) -> AsyncIterator[GroveServer]:
    """A Grove server whose default model is the fake endpoint (the offline one is second)."""
    models = ModelsConfig(backends=(openai_backend(fake_openai),), default_model="fake")
    running = GroveServer(replace(server_config, models=models))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


# -- PostgreSQL (the team server's store) ---------------------------------------------------


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster | None]:
    """One real PostgreSQL server per test process, started on first use (see module)."""
    if os.environ.get("GROVE_TEST_POSTGRES_URL"):
        yield None
        return
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster | None) -> Iterator[PostgresUrl]:
    """A fresh, empty database of its own for one test; dropped afterwards."""
    admin = admin_url(postgres_cluster)
    url = create_database(admin)
    try:
        yield PostgresUrl(url)
    finally:
        drop_database(admin, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseLocation:
    """Each store in turn: a SQLite file, then a PostgreSQL database (tests of both)."""
    if request.param == "sqlite":
        return tmp_path / "grove.sqlite3"
    location: DatabaseLocation = request.getfixturevalue("postgres_url")
    return location


@pytest.fixture
async def any_store(database: DatabaseLocation) -> AsyncIterator[Store]:
    """An open store of each kind in turn (SQLite, then PostgreSQL): the Store contract."""
    store = default_store(ServerConfig(db=database))
    await store.open()
    try:
        yield store
    finally:
        await store.close()
