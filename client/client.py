"""`Client`: owns the gRPC channel to a Grove (or Grok-compatible) Chat server.

The host comes from the argument, else `XAI_API_HOST`, else `127.0.0.1:50051`; several
replicas as "a:1,b:2" (or a list) are balanced round robin by gRPC, with retries of the
idempotent calls (`client/addresses.py`). Loopback hosts are dialled in plaintext, any
other host over TLS unless `secure=False` is given.
TLS trusts the system's roots, or the PEM file named by `GROVE_ROOT_CERTS` (a private CA or
a self-signed server certificate).
The API key (argument or `XAI_API_KEY`) travels as `authorization: Bearer <key>` metadata
on every call.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

from grove_explorer.client.addresses import (
    balanced_target,
    parse_host_port,
    service_config,
    split_hosts,
    tls_name,
)
from grove_explorer.client.grok import AsyncGrok
from grove_explorer.client.resuming import Replicas, attach_replicas
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
        api_host: str | Sequence[str] | None = None,
        *,
        secure: bool | None = None,
        root_certificates: bytes | None = None,
    ) -> None:
        """Opens a channel (lazily connected) to the server.

        Args:
            api_key: Bearer key; defaults to `XAI_API_KEY` (none: no authorization sent).
            api_host: `host:port`, or several replicas ("a:1,b:2" or a list) balanced round
                robin; defaults to `XAI_API_HOST`, then `127.0.0.1:50051`.
            secure: Use TLS. Defaults to plaintext for loopback hosts, TLS otherwise.
            root_certificates: PEM roots for TLS (default: the file named by
                `GROVE_ROOT_CERTS`, else the system's).

        Raises ValueError for an address list that cannot be used (the sentence says why).
        """
        given = api_host or os.environ.get("XAI_API_HOST") or DEFAULT_API_HOST
        self.addresses: tuple[str, ...] = tuple(split_hosts(given))
        self.api_host = ",".join(self.addresses)
        key = api_key if api_key is not None else os.environ.get("XAI_API_KEY")
        loopback = all(is_loopback(address) for address in self.addresses)
        self.secure = (not loopback) if secure is None else secure
        credentials: grpc.ChannelCredentials | None = None
        if self.secure:
            if root_certificates is None:
                root_certificates = root_certificates_from_env()
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
        self._credentials = credentials
        self._replica_channels: list[grpc.aio.Channel] = []
        self._channel = self._open(self.addresses, credentials)
        stub: Any = chat_pb2_grpc.ChatStub(self._channel)
        self._metadata: tuple[tuple[str, str], ...] = ()
        if key:
            self._metadata = (("authorization", f"Bearer {key}"),)
            stub = _AuthorizedStub(stub, self._metadata)
        self._stub = stub
        self._replicas = Replicas(stub, self.addresses, self._replica_stub)
        attach_replicas(stub, self._replicas)
        self._grok = AsyncGrok(stub)

    @staticmethod
    def _open(
        addresses: Sequence[str], credentials: grpc.ChannelCredentials | None
    ) -> grpc.aio.Channel:
        """One address: a plain channel. Several: gRPC's round robin over them, retries."""
        options: list[tuple[str, Any]] = list(_CHANNEL_OPTIONS)
        if len(addresses) == 1:
            target = addresses[0]
        else:
            replicas = [parse_host_port(address) for address in addresses]
            target = balanced_target(replicas)
            options += [("grpc.service_config", service_config()), ("grpc.enable_retries", 1)]
            name = tls_name(replicas) if credentials is not None else None
            if name is not None:
                options += [
                    ("grpc.ssl_target_name_override", name),
                    ("grpc.default_authority", name),
                ]
        if credentials is not None:
            return grpc.aio.secure_channel(target, credentials, options=options)
        return grpc.aio.insecure_channel(target, options=options)

    def _replica_stub(self, address: str) -> Any:
        """A stub over a channel to one replica (a stream resumes where its reply runs)."""
        channel = self._open((address,), self._credentials)
        self._replica_channels.append(channel)
        stub: Any = chat_pb2_grpc.ChatStub(channel)
        return _AuthorizedStub(stub, self._metadata) if self._metadata else stub

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
        await self._replicas.flush_cancels()
        await self._channel.close()
        for channel in self._replica_channels:
            await channel.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
