"""`Client`: owns the gRPC channel to a Grove (or Grok-compatible) Chat server.

The host comes from the argument, else `XAI_API_HOST`, else `127.0.0.1:50051`. Loopback
hosts are dialled in plaintext, any other host over TLS unless `secure=False` is given.
TLS trusts the system's roots, or the PEM file named by `GROVE_ROOT_CERTS` (a private CA or
a self-signed server certificate).
The API key (argument or `XAI_API_KEY`) travels as `authorization: Bearer <key>` metadata
on every call.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

from grove_explorer.client.grok import AsyncGrok
from grove_explorer.protos import chat_pb2_grpc

DEFAULT_API_HOST = "127.0.0.1:50051"
ROOT_CERTS_ENV = "GROVE_ROOT_CERTS"
_CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
)


def split_host(api_host: str) -> str:
    """Returns the host part of `host:port`, `[v6]:port` or a bare host."""
    if api_host.startswith("["):
        return api_host[1 : api_host.find("]")]
    if api_host.count(":") == 1:
        return api_host.rsplit(":", 1)[0]
    return api_host


def is_loopback(api_host: str) -> bool:
    """True for localhost and loopback addresses, where plaintext is safe."""
    host = split_host(api_host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def root_certificates_from_env() -> bytes | None:
    """The PEM roots named by `GROVE_ROOT_CERTS`, or None to trust the system's.

    Read eagerly so that a wrong path is a sentence at construction rather than a
    handshake failure on the first call. Raises ValueError when the file is unreadable.
    """
    path = os.environ.get(ROOT_CERTS_ENV)
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ValueError(
            f"{ROOT_CERTS_ENV} names {path}, which cannot be read: {error.strerror or error}."
        ) from error


class _AuthorizedStub:
    """A `ChatStub` whose every call carries the bearer key as metadata.

    Adding metadata per call (rather than via an interceptor) costs nothing per streamed
    message, which keeps the SDK as fast as the raw stub.
    """

    def __init__(self, stub: chat_pb2_grpc.ChatStub, metadata: tuple[tuple[str, str], ...]):
        self._stub = stub
        self._metadata = metadata

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._stub, name)
        return functools.partial(method, metadata=self._metadata)


class Client:
    """Client for the Grove Chat server: `Client().grok` is an `AsyncGrok`."""

    def __init__(
        self,
        api_key: str | None = None,
        api_host: str | None = None,
        *,
        secure: bool | None = None,
        root_certificates: bytes | None = None,
    ) -> None:
        """Opens a channel (lazily connected) to the server.

        Args:
            api_key: Bearer key; defaults to `XAI_API_KEY` (none: no authorization sent).
            api_host: `host:port`; defaults to `XAI_API_HOST`, then `127.0.0.1:50051`.
            secure: Use TLS. Defaults to plaintext for loopback hosts, TLS otherwise.
            root_certificates: PEM roots for TLS (default: the file named by
                `GROVE_ROOT_CERTS`, else the system's).
        """
        self.api_host = api_host or os.environ.get("XAI_API_HOST") or DEFAULT_API_HOST
        key = api_key if api_key is not None else os.environ.get("XAI_API_KEY")
        self.secure = (not is_loopback(self.api_host)) if secure is None else secure
        if self.secure:
            if root_certificates is None:
                root_certificates = root_certificates_from_env()
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.aio.secure_channel(
                self.api_host, credentials, options=_CHANNEL_OPTIONS
            )
        else:
            self._channel = grpc.aio.insecure_channel(self.api_host, options=_CHANNEL_OPTIONS)
        stub: Any = chat_pb2_grpc.ChatStub(self._channel)
        if key:
            stub = _AuthorizedStub(stub, (("authorization", f"Bearer {key}"),))
        self._stub = stub
        self._grok = AsyncGrok(stub)

    @property
    def grok(self) -> AsyncGrok:
        """The Grok API: stateful, branching conversations."""
        return self._grok

    @property
    def stub(self) -> chat_pb2_grpc.ChatStub:
        """The underlying gRPC stub (with authorization metadata when a key is set)."""
        return self._stub

    async def wait_ready(self) -> None:
        """Waits until the channel is connected (wrap in `asyncio.timeout` to bound it)."""
        await self._channel.channel_ready()

    async def close(self) -> None:
        """Closes the channel, cancelling calls still in flight.

        Leaf choices still being stored (`Response.select()` returns before the server has
        them) are sent first, so a script that never awaited `leaf_saved()` keeps its place;
        their failures are logged, not raised here.
        """
        await self._grok.flush_leaves()
        await self._channel.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
