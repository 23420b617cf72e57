"""TLS: `--tls-cert/--tls-key` on the server, and the SDK trusting a private CA."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import trustme

from grove_explorer.client import Client, ServerUnavailableError
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.launcher import ServerProcess
from grove_explorer.server.runtime import GroveServer, StartupError
from tests.helpers import collect


@dataclass(frozen=True)
class Pki:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost, as PEM files."""

    ca_pem: bytes
    ca_file: Path
    cert_file: Path
    key_file: Path
    other_key_file: Path  # the key of another certificate


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    other = ca.issue_cert("elsewhere.example")
    files = Pki(
        ca_pem=ca.cert_pem.bytes(),
        ca_file=folder / "ca.pem",
        cert_file=folder / "server.pem",
        key_file=folder / "server.key",
        other_key_file=folder / "other.key",
    )
    ca.cert_pem.write_to_path(str(files.ca_file))
    files.cert_file.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(files.key_file))
    other.private_key_pem.write_to_path(str(files.other_key_file))
    return files


@pytest.fixture
def tls_config(server_config: ServerConfig, pki: Pki) -> ServerConfig:
    return replace(server_config, tls_cert=pki.cert_file, tls_key=pki.key_file)


@pytest.fixture
async def tls_server(tls_config: ServerConfig) -> AsyncIterator[GroveServer]:
    server = GroveServer(tls_config)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_sdk_talks_to_a_tls_server(tls_server: GroveServer, pki: Pki) -> None:
    assert tls_server.tls
    async with Client(
        api_host=tls_server.address, secure=True, root_certificates=pki.ca_pem
    ) as sdk:
        conversation = sdk.grok.create_conversation()
        stream, future = conversation.add_response("Tell me about oak trees.")
        text = await collect(stream)
        reply = await future
        assert text and reply.message == text
        loaded = await sdk.grok.get_conversation(conversation.conversation_id)
        assert [r.message for r in loaded.responses] == ["Tell me about oak trees.", text]


async def test_root_certificates_from_the_environment(
    tls_server: GroveServer, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROVE_ROOT_CERTS", str(pki.ca_file))
    host = f"localhost:{tls_server.port}"  # the name in the certificate, not the IP
    async with Client(api_host=host, secure=True) as sdk:
        assert await sdk.grok.list_conversations() == []
    monkeypatch.setenv("GROVE_ROOT_CERTS", str(pki.ca_file.parent / "missing.pem"))
    with pytest.raises(ValueError, match=r"GROVE_ROOT_CERTS names .*missing\.pem"):
        Client(api_host=host, secure=True)


async def test_plaintext_or_untrusting_clients_fail_clearly(
    tls_server: GroveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GROVE_ROOT_CERTS", raising=False)
    async with asyncio.timeout(10):
        async with Client(api_host=tls_server.address, secure=False) as plaintext:
            with pytest.raises(ServerUnavailableError):
                await plaintext.grok.list_conversations()
        # TLS, but trusting only the system's roots: the private CA is unknown.
        async with Client(api_host=tls_server.address, secure=True) as untrusting:
            with pytest.raises(ServerUnavailableError):
                await untrusting.grok.list_conversations()


@pytest.mark.parametrize(
    "cert, key, words",
    [
        ("cert", None, "needs both a certificate"),
        (None, "key", "needs both a certificate"),
        ("cert", "missing", "Cannot read the TLS file"),
        ("cert", "other", "matching unencrypted private key"),
        ("key", "key", "matching unencrypted private key"),
    ],
)
async def test_unusable_tls_files_are_clear_errors(
    server_config: ServerConfig, pki: Pki, cert: str | None, key: str | None, words: str
) -> None:
    files = {
        "cert": pki.cert_file,
        "key": pki.key_file,
        "other": pki.other_key_file,
        "missing": pki.key_file.parent / "missing.key",
        None: None,
    }
    server = GroveServer(replace(server_config, tls_cert=files[cert], tls_key=files[key]))
    with pytest.raises(StartupError, match=words):
        await server.start()
    assert server.port is None


def test_tls_flags_go_together() -> None:
    import argparse

    from grove_explorer.server.cli import add_serve_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    with pytest.raises(SystemExit, match="--tls-cert and --tls-key go together"):
        config_from_args(parser.parse_args(["--tls-cert", "server.pem"]))
    config = config_from_args(parser.parse_args(["--tls-cert", "a.pem", "--tls-key", "b.key"]))
    assert (config.tls_cert, config.tls_key) == (Path("a.pem"), Path("b.key"))


async def test_serve_prints_tls_in_its_start_line(tmp_path: Path, pki: Pki) -> None:
    process = ServerProcess(
        tmp_path / "grove.sqlite3",
        ("--tls-cert", str(pki.cert_file), "--tls-key", str(pki.key_file)),
    )
    await process.start()
    try:
        async with asyncio.timeout(30):
            line = process.start_line
            assert line.startswith("Grove Chat server on 127.0.0.1:"), line
            assert "(TLS, open access" in line
            address = process.address
            async with Client(api_host=address, secure=True, root_certificates=pki.ca_pem) as sdk:
                assert await sdk.grok.list_conversations() == []
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
