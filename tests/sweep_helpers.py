"""A server for sweep tests: the offline model as "alpha" (default) and "beta", and "down"
(an OpenAI-compatible backend at a loopback port nobody listens on)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

from grove_explorer.server.backends import BackendSpec, ModelsConfig
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def two_model_server(folder: Path) -> AsyncIterator[GroveServer]:
    """The running server (its database in `folder`), stopped on exit."""
    down = BackendSpec(
        name="down",
        sampler="openai",
        base_url=f"http://127.0.0.1:{closed_port()}/v1",
        model="nobody",
        max_retries=0,
        timeout_seconds=5.0,
        connect_timeout_seconds=2.0,
    )
    models = ModelsConfig(
        backends=(
            BackendSpec(name="alpha", sampler="offline"),
            BackendSpec(name="beta", sampler="offline"),
            down,
        ),
        default_model="alpha",
    )
    config = ServerConfig(host="127.0.0.1", port=0, db=folder / "g.sqlite3", models=models)
    server = GroveServer(config)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
