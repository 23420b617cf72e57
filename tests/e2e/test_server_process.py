"""The server as an operator runs it: a process with flags, health, reflection, signals."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from grove_explorer.client import Client, SamplingParams
from grove_explorer.server.launcher import ServerProcess


@pytest.fixture
async def served(tmp_path: Path):
    process = ServerProcess(tmp_path / "grove.sqlite3", ("--token-delay-ms", "20"))
    await process.start()
    try:
        yield process, process.address
    finally:
        await process.stop()


def test_help_lists_every_flag() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "grove_explorer.server", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in (
        "--host",
        "--port",
        "--db",
        "--token-delay-ms",
        "--offline-min-tokens",
        "--share-base-url",
        "--durability",
        "--max-message-bytes",
        "--batch-max-tokens",
    ):
        assert flag in out
    assert "the offline model keeps writing until at least N tokens (default 48)" in " ".join(
        out.split()
    )


def test_offline_min_tokens_flag_reaches_the_config() -> None:
    import argparse

    from grove_explorer.server.cli import add_serve_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    assert config_from_args(parser.parse_args([])).offline_min_reply_tokens == 48
    config = config_from_args(parser.parse_args(["--offline-min-tokens", "500"]))
    assert config.offline_min_reply_tokens == 500
    with pytest.raises(SystemExit, match="--offline-min-tokens"):
        config_from_args(parser.parse_args(["--offline-min-tokens", "-1"]))


async def test_health_and_reflection(served) -> None:
    _, address = served
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service="grove.chat.Chat"))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = set()
        async for response in responses:
            names |= {s.name for s in response.list_services_response.service}
        assert "grove.chat.Chat" in names


async def test_sigterm_stores_in_flight_stream_as_partial(served, tmp_path: Path) -> None:
    process, address = served
    async with Client(api_host=address) as sdk:
        conversation = sdk.grok.create_conversation()
        stream, future = conversation.add_response(
            "A long story please.", sampling=SamplingParams(max_tokens=1000)
        )
        received = [await anext(stream), await anext(stream)]
        process.send_signal(signal.SIGTERM)
        received += [token async for token in stream]
        reply = await future
    assert reply.partial
    assert reply.message == "".join(received)
    async with asyncio.timeout(30):
        assert await process.wait() == 0
    with sqlite3.connect(tmp_path / "grove.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        row = db.execute(
            "SELECT partial, message FROM responses WHERE response_id = ?", (reply.response_id,)
        ).fetchone()
    assert row == (1, reply.message)
