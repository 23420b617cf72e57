"""A throwaway PostgreSQL server in a temporary folder: for tests and benchmarks.

The PostgreSQL store's tests and `bench.scale` run against the real thing, never a
stand-in: this starts Debian's (or any) PostgreSQL binaries in a temporary folder on a
free loopback port, with fsync off (a throwaway cluster needs no durability). PostgreSQL
refuses to run as root, so as root (CI containers) the cluster runs as the `postgres` user
through `runuser`. Missing binaries raise with the command that installs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from grove_explorer.server.launcher import free_port

SUPERUSER = "grove"
INSTALL_HINT = (
    "PostgreSQL's server binaries were not found (initdb, pg_ctl). Install them "
    "(Debian: apt-get install -y postgresql) or set GROVE_PG_BIN to their folder, or set "
    "GROVE_TEST_POSTGRES_URL to a server the tests may create databases on."
)


def find_binaries() -> Path:
    """The folder holding initdb and pg_ctl (GROVE_PG_BIN, PATH, or Debian's layout)."""
    named = os.environ.get("GROVE_PG_BIN")
    candidates: list[Path] = [Path(named)] if named else []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise RuntimeError(INSTALL_HINT)


class PostgresCluster:
    """A PostgreSQL server in a temporary folder, started and stopped by the tests."""

    def __init__(self) -> None:
        self._bin = find_binaries()
        self._as_root = os.geteuid() == 0
        self._folder = Path(tempfile.mkdtemp(prefix="grove-pg-"))
        self._data = self._folder / "data"
        self.port = free_port()
        self._started = False

    def _run(self, command: Sequence[str]) -> None:
        """Runs a server command as the user PostgreSQL accepts; its output on failure."""
        argv = list(command)
        if self._as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )

    def start(self) -> None:
        """Initdb + pg_ctl start on 127.0.0.1:port, trust authentication for loopback."""
        if self._as_root:
            shutil.chown(self._folder, user="postgres")
        self._run(
            [
                str(self._bin / "initdb"),
                "-D",
                str(self._data),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ]
        )
        options = (
            f"-p {self.port} -k {self._folder} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run(
            [
                str(self._bin / "pg_ctl"),
                "-D",
                str(self._data),
                "-o",
                options,
                "-l",
                str(self._folder / "server.log"),
                "-w",
                "start",
            ]
        )
        self._started = True

    def stop(self) -> None:
        """Stops the server (fast: open connections are closed) and removes its folder.

        Stopping twice is harmless (a benchmark's signal handler and its `finally` may both).
        """
        started, self._started = self._started, False
        try:
            if started:
                self._run([str(self._bin / "pg_ctl"), "-D", str(self._data), "-m", "fast", "stop"])
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """A connection URL to `database` on this server."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Creates an empty database `name` on this server; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
