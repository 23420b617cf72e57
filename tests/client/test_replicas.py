"""Several replicas: client-side round robin and retries of idempotent calls (issue 17).

Two real servers on loopback share one SQLite file (WAL lets two stores use it at once);
each counts the calls it serves, so the test sees where gRPC sent them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from grove_explorer.app.cli import main
from grove_explorer.client import Client
from grove_explorer.client.addresses import (
    balanced_target,
    parse_host_port,
    split_hosts,
    tls_name,
)
from grove_explorer.client.errors import ServerUnavailableError
from grove_explorer.server.runtime import GroveServer
from tests.client.replicas import FlakyOnce, Pair, started_pair
from tests.helpers import collect


@pytest.fixture
async def replicas(make_server: Callable[..., GroveServer]) -> AsyncIterator[Pair]:
    """Two running servers on one database, each with a call counter."""
    async with started_pair(make_server) as pair:
        yield pair


async def test_calls_spread_over_both_replicas_and_survive_one_stopping(replicas: Pair) -> None:
    a, count_a, b, count_b = replicas
    async with Client(api_host=f"{a.address},{b.address}") as client:
        assert client.addresses == (a.address, b.address)
        conversation = client.grok.create_conversation()
        stream, future = conversation.add_response("Hello, replicas.")
        await collect(stream)
        reply = await future
        # Round robin picks among connected replicas: both get calls once both are up.
        calls = 0
        while not (count_a.calls["GetConversation"] and count_b.calls["GetConversation"]):
            calls += 1
            assert calls <= 200, f"not balanced: {count_a.calls}, {count_b.calls}"
            loaded = await client.grok.get_conversation(conversation.conversation_id)
            assert loaded.leaf_response_id == reply.response_id, "both read the one database"

        await a.stop()  # one replica goes away: idempotent calls keep working through B
        before = count_b.calls["GetConversation"]
        for _ in range(20):
            loaded = await client.grok.get_conversation(conversation.conversation_id)
            assert loaded.leaf_response_id == reply.response_id
        assert (await client.grok.list_models()).models
        assert count_b.calls["GetConversation"] == before + 20


async def test_only_idempotent_calls_are_retried_on_another_replica(
    make_server: Callable[..., GroveServer],
) -> None:
    flaky = FlakyOnce({"GetConversation", "CreateConversation"})  # A fails each once
    async with (
        started_pair(make_server, counter_a=flaky) as (a, _, b, _),
        Client(api_host=[a.address, b.address]) as client,
    ):
        # A create is not idempotent: the one that lands on A fails to the caller.
        failed: list[str] = []
        for _ in range(50):
            try:
                await client.grok.create_conversation().ensure_created()
            except ServerUnavailableError as error:
                failed.append(error.message)
                break
        assert failed == ["This replica is stopping."]
        conversation = client.grok.create_conversation()
        await conversation.ensure_created()
        # A read is: gRPC repeats the one A fails, and the caller never sees it.
        for _ in range(50):
            loaded = await client.grok.get_conversation(conversation.conversation_id)
            assert loaded.conversation_id == conversation.conversation_id
            if flaky.failed["GetConversation"]:
                break
        assert flaky.failed["GetConversation"] == 1


async def test_grove_commands_take_a_list_and_refuse_a_bad_one(
    replicas: Pair,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    a, count_a, b, count_b = replicas
    monkeypatch.delenv("XAI_API_HOST", raising=False)
    monkeypatch.setenv("GROVE_CONFIG", str(tmp_path / "no-config.toml"))
    code = await asyncio.to_thread(main, ["ls", "--server", f"{a.address}, {b.address}"])
    assert (
        code == 0 and count_a.calls["ListConversations"] + count_b.calls["ListConversations"] == 1
    ), "a list is a remote server, not the embedded one"
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["ls", "--server", f"{a.address},"])
    assert code == 2
    assert "empty entry" in capsys.readouterr().err


async def test_a_python_list_of_addresses_is_accepted(
    replicas: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _, b, _ = replicas
    monkeypatch.setenv("XAI_API_HOST", f"{a.address},{b.address}")
    async with Client() as client:
        assert client.addresses == (a.address, b.address), "XAI_API_HOST takes a list too"
        assert (await client.grok.list_models()).models
    async with Client(api_host=[a.address, b.address]) as client:
        assert client.api_host == f"{a.address},{b.address}"
        assert client.secure is False, "loopback replicas are dialled in plaintext"
        assert (await client.grok.list_models()).models


def test_address_lists_are_checked_with_a_sentence() -> None:
    assert split_hosts(" a:1 , b:2 ") == ["a:1", "b:2"]
    with pytest.raises(ValueError, match="empty entry"):
        split_hosts("a:1,,b:2")
    with pytest.raises(ValueError, match="needs its port"):
        parse_host_port("a")
    assert str(parse_host_port("[::1]:5")) == "[::1]:5"
    target = balanced_target([parse_host_port("127.0.0.1:1"), parse_host_port("localhost:2")])
    assert target == "ipv4:127.0.0.1:1,127.0.0.1:2"
    assert balanced_target([parse_host_port("[::1]:1"), parse_host_port("[::1]:2")]) == (
        "ipv6:[::1]:1,[::1]:2"
    )
    with pytest.raises(ValueError, match="mix IPv4 and IPv6"):
        balanced_target([parse_host_port("127.0.0.1:1"), parse_host_port("[::1]:2")])
    assert tls_name([parse_host_port("10.0.0.1:1"), parse_host_port("10.0.0.2:1")]) is None
    with pytest.raises(ValueError, match="share one certificate name"):
        tls_name([parse_host_port("a.lab:1"), parse_host_port("b.lab:1")])
    with pytest.raises(ValueError, match="empty entry"):
        Client(api_host="127.0.0.1:1,")
