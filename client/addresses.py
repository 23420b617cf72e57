"""Where the SDK dials: one address, or several replicas with client-side round robin.

`Client(api_host=...)`, `--server` and `XAI_API_HOST` take `host:port` or a list of them
("a:1,b:2", or a Python list). With several, gRPC itself spreads calls over the replicas
(its `round_robin` load balancing, chosen in the service config) and retries the calls
that are safe to repeat on UNAVAILABLE (a replica stopping or unreachable) with its retry
policy, so Grove builds no balancer or retry loop of its own. Streams are not retried by
gRPC once a message arrived; the SDK resumes them (`client/resuming.py`).

gRPC's `ipv4:`/`ipv6:` targets hold several literal addresses of one family; host names in
a list are resolved once, when the client is made (a DNS name whose records list every
replica needs no list: `dns:` resolves it and round robin applies as well).
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass

CHAT_SERVICE = "grove.chat.Chat"

IDEMPOTENT_METHODS = (
    # Reads: repeating them changes nothing.
    "GetConversation",
    "ListConversations",
    "ListModels",
    "Search",
    "GetResponseTokens",
    "GetResponsesTokens",
    "ListVotes",
    # Computations that store nothing (a repeat costs the model call again, nothing more).
    "ExtractPoints",
    "EmbedTexts",
    # Writes that set a value: the second time sets the same value.
    "UpdateConversation",
    "AnnotateResponse",
    "SelectResponse",
    "ShareConversation",
    "StopResponse",
    "CancelResponse",
)
"""Unary calls gRPC may repeat on UNAVAILABLE. Not here, because a repeat after a success
whose answer was lost would store twice or answer differently: CreateConversation,
AddModelResponse, ImportConversation(Stream), RecordVote, JudgeResponses, GenerateTitle,
DeleteConversation (a repeat answers NOT_FOUND); nor the streams AddResponse and
ResumeResponse, which the SDK resumes itself."""

RETRY_POLICY = {
    "maxAttempts": 4,
    "initialBackoff": "0.1s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


def service_config() -> str:
    """The channel's service config for several replicas: round robin, retries (JSON)."""
    return json.dumps(
        {
            "loadBalancingConfig": [{"round_robin": {}}],
            "methodConfig": [
                {
                    "name": [{"service": CHAT_SERVICE, "method": m} for m in IDEMPOTENT_METHODS],
                    "retryPolicy": RETRY_POLICY,
                }
            ],
        }
    )


@dataclass(frozen=True, slots=True)
class HostPort:
    """One replica's address as given: the host (name or literal, no brackets), the port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def split_hosts(api_host: str | Sequence[str]) -> list[str]:
    """The addresses of `"a:1,b:2"` or `["a:1", "b:2"]`, stripped; ValueError if none."""
    parts = api_host.split(",") if isinstance(api_host, str) else list(api_host)
    hosts = [part.strip() for part in parts]
    if not hosts or any(not host for host in hosts):
        raise ValueError(
            f"The server address {api_host!r} has an empty entry; give host:port, or several "
            "separated by commas (a:50051,b:50051)."
        )
    return hosts


def parse_host_port(address: str) -> HostPort:
    """`host:port` or `[v6]:port` of one replica in a list (a port is required there)."""
    if address.startswith("["):
        end = address.find("]")
        host, rest = address[1:end], address[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    elif address.count(":") == 1:
        host, port_text = address.rsplit(":", 1)
    else:
        host, port_text = address, ""
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(
            f"{address!r} is not host:port; every address of a list needs its port "
            "(a:50051,b:50051; IPv6 as [::1]:50051)."
        )
    return HostPort(host, int(port_text))


def check_addresses(api_host: str | Sequence[str]) -> tuple[str, ...]:
    """The addresses of a `--server` value, checked before anything dials (ValueError)."""
    hosts = split_hosts(api_host)
    if len(hosts) > 1:
        for host in hosts:
            parse_host_port(host)
    return tuple(hosts)


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _resolve(address: HostPort) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The first address a host name resolves to (once, when the client is made)."""
    literal = _literal(address.host)
    if literal is not None:
        return literal
    try:
        infos = socket.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise ValueError(f"Cannot resolve the server {address}: {error}.") from None
    # IPv4 first: "localhost" lists ::1 and 127.0.0.1, and servers listen on 127.0.0.1.
    found = sorted((ipaddress.ip_address(info[4][0]) for info in infos), key=lambda a: a.version)
    return found[0]


def balanced_target(addresses: Sequence[HostPort]) -> str:
    """The gRPC target naming every replica: `ipv4:a:1,b:2` or `ipv6:[a]:1,[b]:2`."""
    resolved = [(_resolve(address), address.port) for address in addresses]
    versions = {ip.version for ip, _ in resolved}
    if len(versions) > 1:
        raise ValueError(
            "The server addresses mix IPv4 and IPv6; gRPC balances over one family. Give "
            "addresses of one family."
        )
    if versions == {4}:
        return "ipv4:" + ",".join(f"{ip}:{port}" for ip, port in resolved)
    return "ipv6:" + ",".join(f"[{ip}]:{port}" for ip, port in resolved)


def tls_name(addresses: Sequence[HostPort]) -> str | None:
    """The one host name TLS checks the replicas' certificates against (None: literals).

    A balanced channel has one authority, so replicas named differently cannot each be
    checked under their own name: refused with a sentence rather than a handshake error.
    """
    names = {a.host for a in addresses if _literal(a.host) is None}
    if not names:
        return None
    if len(names) > 1:
        raise ValueError(
            f"Over TLS, several replicas must share one certificate name; got "
            f"{', '.join(sorted(names))}. Use one DNS name with a record per replica, or "
            "their addresses with a certificate that lists them."
        )
    return names.pop()
