"""The tests' PostgreSQL: one throwaway cluster per test process, a database per test.

The cluster is `server/store/postgres/cluster.py`'s (started on first use by the
`postgres_cluster` fixture in tests/conftest.py); each test gets a fresh database of its
own. `GROVE_TEST_POSTGRES_URL` (a URL to a server where the user may CREATE DATABASE)
uses an existing server instead.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

from grove_explorer.server.launcher import free_port
from grove_explorer.server.store.postgres.cluster import PostgresCluster

__all__ = [
    "PostgresCluster",
    "admin_url",
    "create_database",
    "drop_database",
    "free_port",
    "with_database",
]


def admin_url(cluster: PostgresCluster | None) -> str:
    """The URL of the maintenance database tests create their databases from."""
    given = os.environ.get("GROVE_TEST_POSTGRES_URL")
    if given:
        return given
    assert cluster is not None
    return cluster.url()


def create_database(admin: str) -> str:
    """Creates an empty database with a fresh name; its URL (same server and user)."""
    import psycopg

    name = f"grove_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(admin, name)


def with_database(url: str, name: str) -> str:
    """`url` naming database `name` instead (user, host, port and options kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def drop_database(admin: str, url: str) -> None:
    """Drops a test's database, closing connections a test left open."""
    import psycopg

    name = urlsplit(url).path.strip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
