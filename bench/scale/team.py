"""The team server under test: a PostgreSQL server, a database per phase, two replicas."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.load.client import warm_up
from bench.load.server import PROBE_FLAG
from bench.load.settings import PROJECT_ROOT, SHUTDOWN_TIMEOUT_S, STARTUP_TIMEOUT_S
from grove_explorer.server.launcher import SERVER_ENTRY, ServerProcess
from grove_explorer.server.store.location import PostgresUrl


@asynccontextmanager
async def postgres_server(given: str | None) -> AsyncIterator[str]:
    """The URL of a maintenance database to create the phases' databases from.

    `given` (or $GROVE_TEST_POSTGRES_URL) names an existing server; otherwise a throwaway
    cluster runs for the benchmark's duration.
    """
    admin = given or os.environ.get("GROVE_TEST_POSTGRES_URL")
    if admin:
        yield admin
        return
    from grove_explorer.server.store.postgres.cluster import PostgresCluster

    cluster = await asyncio.to_thread(PostgresCluster)
    await asyncio.to_thread(cluster.start)
    try:
        yield cluster.url()
    finally:
        await asyncio.to_thread(cluster.stop)


def _execute(admin: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(statement)


@asynccontextmanager
async def fresh_database(admin: str) -> AsyncIterator[str]:
    """A new, empty database on the admin URL's server (dropped afterwards); its URL."""
    name = f"grove_scale_{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(_execute, admin, f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    try:
        yield url
    finally:
        await asyncio.to_thread(_execute, admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Replica:
    """One `grove serve` process of the team, and its name in the report."""

    name: str
    process: ServerProcess
    # Where its probe's figures go when it stops (--probe-replicas); None: not probed.
    probe: Path | None = None

    @property
    def address(self) -> str:
        """host:port it listens on."""
        return self.process.address

    @property
    def pid(self) -> int:
        """Its process id: the pid in the owner id of the checkpoints it writes."""
        return self.process.pid


@asynccontextmanager
async def replicas(
    url: str, server_args: Sequence[str], probes: Path | None = None
) -> AsyncIterator[list[Replica]]:
    """Replicas A and B on database `url`, started one after the other and warmed up.

    The first replica migrates the empty database; the second finds it migrated. Each is
    warmed up with a short stream of its own (the offline model builds its tables on
    first use). Stopped with SIGTERM at the end (a killed one is already gone). With
    `probes` (a folder) each runs under bench.load's probe, which writes its loop's lags
    and the collector's passes to `<folder>/<name>.json` when it stops (`Replica.probe`).
    """
    started: list[Replica] = []
    try:
        for name in ("A", "B"):
            probe = None if probes is None else probes / f"{name}.json"
            entry = SERVER_ENTRY if probe is None else ("-m", "bench.load", PROBE_FLAG, str(probe))
            process = ServerProcess(
                PostgresUrl(url),
                ("--host", "127.0.0.1", *server_args),
                cwd=PROJECT_ROOT,
                startup_timeout=STARTUP_TIMEOUT_S,
                shutdown_timeout=SHUTDOWN_TIMEOUT_S,
                entry=entry,
            )
            await process.start()
            started.append(Replica(name, process, probe))
        for replica in started:
            await warm_up(replica.address)
        yield started
    finally:
        for replica in started:
            if replica.process.returncode is None:
                await replica.process.stop()
