"""The embedded default: a local Chat server started inside the app's process.

With no server configured, `grove` runs the real server on a free loopback port with its
SQLite file in the platform data dir and the offline model, and talks to it over gRPC
exactly as it would to a remote server. This module is the app's only door into `server`.
"""

from __future__ import annotations

from pathlib import Path

from server.config import ServerConfig, default_db_path
from server.runtime import GroveServer


async def start_embedded_server(db: Path | None, token_delay_ms: float) -> GroveServer:
    """Starts a loopback server on a free port; the caller stops it on exit."""
    config = ServerConfig(
        host="127.0.0.1", port=0, db=db or default_db_path(), token_delay_ms=token_delay_ms
    )
    server = GroveServer(config)
    await server.start()
    return server
