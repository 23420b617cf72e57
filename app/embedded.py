"""The embedded default: a local Chat server started inside the app's process.

With no server configured, `grove` runs the real server on a free loopback port with its
SQLite file in the platform data dir and the models of the config file (the offline model
always among them), and talks to it over gRPC exactly as it would to a remote server. This
module is the app's only door into `server`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from grove_explorer.server.backends import ModelsConfig
from grove_explorer.server.config import default_db_path
from grove_explorer.server.store import StorageFailure
from grove_explorer.server.store.location import DatabaseLocation, PostgresUrl
from grove_explorer.server.store.migrations import SchemaVersionError
from grove_explorer.server.store.sqlite.failures import preflight

if TYPE_CHECKING:
    from grove_explorer.server.runtime import GroveServer

DATABASE_ERRORS = (StorageFailure, SchemaVersionError)
"""What starting the embedded server raises for a database it cannot use (the message is
a sentence saying what to do; the file was not changed)."""


def _quiet_server_log() -> None:
    """Keeps the embedded server's log off stderr, where the UI draws (or a script reads).

    Without a handler, Python prints warnings on stderr; what the server warns about
    reaches the user anyway, as the sentence of the failed call.
    """
    logger = logging.getLogger("grove_explorer.server")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


def database_path(db: DatabaseLocation | None) -> DatabaseLocation:
    """The embedded server's database: `db`, else the one in the platform data dir."""
    return db or default_db_path()


def check_database(db: DatabaseLocation | None, *, read_only: bool, allow_damaged_db: bool) -> None:
    """Refuses, before the UI takes the terminal, a database the server would refuse.

    The same check the store runs when it opens (not SQLite, damaged, not writable);
    raises one of DATABASE_ERRORS and writes nothing. A PostgreSQL database is checked
    when the server opens it (the app then shows why it cannot start).
    """
    location = database_path(db)
    if isinstance(location, PostgresUrl):
        return
    preflight(
        location,
        read_only=read_only or allow_damaged_db,
        allow_damaged=allow_damaged_db,
    )


async def start_embedded_server(
    db: DatabaseLocation | None,
    token_delay_ms: float,
    models: ModelsConfig | None = None,
    *,
    read_only: bool = False,
    allow_damaged_db: bool = False,
) -> GroveServer:
    """Starts a loopback server on a free port; the caller stops it on exit.

    Raises one of DATABASE_ERRORS when the database cannot be used. The server's runtime
    (gRPC services, the samplers) is imported here, not with this module: `grove` reads its
    config and checks the database before the first frame, and starts the server after.
    """
    from grove_explorer.server.config import ServerConfig
    from grove_explorer.server.runtime import GroveServer

    _quiet_server_log()
    config = ServerConfig(
        host="127.0.0.1",
        port=0,
        db=database_path(db),
        read_only=read_only,
        allow_damaged_db=allow_damaged_db,
        token_delay_ms=token_delay_ms,
        models=models or ModelsConfig(),
    )
    server = GroveServer(config)
    await server.start()
    return server
