"""The database a bench.store part runs on: a temporary SQLite file, or PostgreSQL.

`--db postgresql` starts a throwaway cluster (server/store/postgres/cluster.py, as the
tests do); `--db postgresql://…` names a server where the user may CREATE DATABASE. Either
way the run gets a fresh database of its own (dropped afterwards), so its figures do not
depend on what an earlier run left.

PostgreSQL does the index's work in its own processes, not in the Grove server's, so the
server's CPU alone would hide it: `PostgresCpu` reads the CPU of the whole cluster
(postmaster, its live backends and what its exited children used) from /proc, that of
the sessions on the run's database alone (the server's pooled connections: without
autovacuum, which after a large import analyses the new rows when it likes and made the
cluster's figure vary by a tenth between identical runs), and the
time PostgreSQL spent in Grove's SQL functions (`track_functions`, pg_stat_user_functions:
the search index's `grove_search_document` is one), PostgreSQL's own timing. Both are
None for a server on another machine (no /proc of it to read).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.scale.team import fresh_database, postgres_server
from grove_explorer.server.store.location import DatabaseLocation, PostgresUrl

THROWAWAY = "postgresql"
"""`--db` value that starts a throwaway PostgreSQL cluster for the run."""


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name; None if unreadable."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(postmaster: int) -> list[tuple[int, list[str]]]:
    """The live children of a postmaster: (pid, stat fields)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and fields[1] == str(postmaster):
                found.append((int(entry), fields))
    return found


def _cluster_cpu(postmaster: int) -> float | None:
    """CPU seconds of a PostgreSQL cluster so far: the postmaster, its live children,
    and the children it has reaped (a backend that exited is counted in cutime/cstime)."""
    head = _stat_fields(postmaster)
    if head is None:
        return None
    ticks = sum(int(value) for value in head[11:15])  # utime, stime, cutime, cstime
    ticks += sum(int(fields[11]) + int(fields[12]) for _, fields in _children(postmaster))
    return ticks / os.sysconf("SC_CLK_TCK")


def _sessions_cpu(postmaster: int, user: str, database: str) -> float:
    """CPU seconds so far of the live sessions of `user` on `database` (their process
    titles read "postgres: USER DATABASE HOST(PORT) …")."""
    title = f"postgres: {user} {database} ".encode()
    ticks = 0
    for pid, fields in _children(postmaster):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if command.startswith(title):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class PostgresCpu:
    """Reads of a local PostgreSQL cluster's CPU and of its time in Grove's functions."""

    url: str
    postmaster: int | None

    @classmethod
    def of(cls, url: str) -> PostgresCpu:
        """Finds the postmaster behind `url` (the parent of a backend), if it is local."""
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
        fields = _stat_fields(int(row[0])) if row else None
        return cls(url, None if fields is None else int(fields[1]))

    def cpu(self) -> float | None:
        """CPU seconds of the whole cluster so far (None when it is not on this machine)."""
        return None if self.postmaster is None else _cluster_cpu(self.postmaster)

    def sessions_cpu(self) -> float | None:
        """CPU seconds so far of the live sessions on the run's database (None: remote).

        A session that ended meanwhile takes its CPU with it: the server's pool keeps
        its connections for the run.
        """
        if self.postmaster is None:
            return None
        parts = urlsplit(self.url)
        return _sessions_cpu(self.postmaster, parts.username or "", parts.path.strip("/"))

    def function_seconds(self) -> dict[str, float]:
        """Total time (s) PostgreSQL spent in each of Grove's SQL functions so far.

        From pg_stat_user_functions (`track_functions = all` on the run's database); the
        statistics are flushed by each backend at the end of its transaction, read here
        after a fresh snapshot.
        """
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            rows = conn.execute(
                "SELECT funcname, total_time FROM pg_stat_user_functions"
            ).fetchall()
        return {name: total / 1000 for name, total in rows}


@asynccontextmanager
async def bench_database(
    db: str | None, folder: Path
) -> AsyncIterator[tuple[DatabaseLocation, PostgresCpu | None]]:
    """The run's database (a SQLite file in `folder` when `db` is None) and its CPU reader."""
    if db is None:
        yield folder / "bench.sqlite3", None
        return
    async with (
        postgres_server(None if db == THROWAWAY else db) as admin,
        fresh_database(admin) as url,
    ):
        await asyncio.to_thread(_track_functions, admin, url.rsplit("/", 1)[1])
        reader = await asyncio.to_thread(PostgresCpu.of, url)
        yield PostgresUrl(url), reader


def _track_functions(admin: str, name: str) -> None:
    """Times every SQL function in database `name` (its sessions' default)."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE \"{name}\" SET track_functions = 'all'")
