"""Users and API keys: `grove keys …`, keys stored as hashes, and servers that check them."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from grove_explorer.app.cli import main as grove
from grove_explorer.client import Client, NotFoundError, UnauthenticatedError
from grove_explorer.server.auth import LOCAL_USER, exposure_refusal, hash_key, is_loopback_host
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.keys import KEY_PREFIX, create_key, key_id_of
from grove_explorer.server.launcher import ServerProcess
from grove_explorer.server.runtime import GroveServer, StartupError
from tests.helpers import collect

# `grove …` exactly as the console script runs it (app.cli has no __main__).
GROVE = [
    sys.executable,
    "-c",
    "import sys; from grove_explorer.app.cli import main; sys.exit(main())",
]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "grove.sqlite3"


def created_key(output: str) -> str:
    """The key line of `grove keys create`'s output."""
    [key] = [line for line in output.splitlines() if line.startswith(KEY_PREFIX)]
    return key


def keys_json(db: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert grove(["keys", "list", "--json", "--db", str(db)]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
async def keyed_server(db: Path) -> AsyncIterator[tuple[GroveServer, str, str]]:
    """A running loopback server whose database holds one key for alice and one for bob."""
    alice = await create_key(db, "alice", "laptop")
    bob = await create_key(db, "bob")
    server = GroveServer(ServerConfig(host="127.0.0.1", port=0, db=db))
    await server.start()
    try:
        yield server, alice.key, bob.key
    finally:
        await server.stop()


async def in_thread(*argv: str) -> int:
    """Runs `grove …` in a worker thread: it has its own event loop and connections,
    like the command run from another terminal while the server runs."""
    return await asyncio.to_thread(grove, list(argv))


# -- the command line ---------------------------------------------------------------------


def test_create_list_revoke(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert keys_json(db, capsys) == []
    assert grove(["keys", "list", "--db", str(db)]) == 0
    assert "No API keys" in capsys.readouterr().out
    assert not db.exists(), "listing must not create the database"

    assert grove(["keys", "create", "--user", "alice", "--label", "laptop", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    key = created_key(out)
    assert out.count(key) == 1
    assert "shown only this once" in out and "XAI_API_KEY=<key> grove --server HOST:PORT" in out
    assert "first active key" in out
    assert len(key) > 40 and key.startswith("grove_")

    assert grove(["keys", "create", "--user", "bob", "--db", str(db)]) == 0
    assert "first active key" not in capsys.readouterr().out

    listed = keys_json(db, capsys)
    assert [(k["key_id"], k["user"], k["label"], k["revoked"]) for k in listed] == [
        (key_id_of(key), "alice", "laptop", False),
        (listed[1]["key_id"], "bob", "", False),
    ]
    assert grove(["keys", "--db", str(db), "list"]) == 0  # --db before the action too
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["ID", "USER", "LABEL", "CREATED", "REVOKED"]
    assert table[1].startswith(key_id_of(key)) and " alice " in table[1]
    assert table[1].rstrip().endswith("no")

    assert grove(["keys", "revoke", "000000000000", "--db", str(db)]) == 1
    captured = capsys.readouterr()
    assert "No API key has the id '000000000000'" in captured.err and captured.out == ""
    assert grove(["keys", "revoke", key, "--db", str(db)]) == 1
    assert "not the key itself" in capsys.readouterr().err

    assert grove(["keys", "revoke", key_id_of(key), "--db", str(db)]) == 0
    assert "Revoked key" in capsys.readouterr().out
    assert grove(["keys", "revoke", key_id_of(key), "--db", str(db)]) == 0
    assert "already revoked" in capsys.readouterr().out
    revoked = keys_json(db, capsys)[0]
    assert revoked["revoked"] is True and revoked["revoke_time"]


@pytest.mark.parametrize(
    "user, words",
    [
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
        (" alice", "start or end with a blank"),
        ("al\x1bice", "printable"),
        ("x" * 65, "longer than 64"),
    ],
)
def test_bad_user_names_are_refused(
    db: Path, user: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert grove(["keys", "create", "--user", user, "--db", str(db)]) == 1
    assert words in capsys.readouterr().err


def test_grove_keys_create_prints_the_key_once_and_stores_only_its_hash(db: Path) -> None:
    result = subprocess.run(
        [*GROVE, "keys", "create", "--user", "carol", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    key = created_key(result.stdout)
    assert result.stdout.count(key) == 1 and key not in result.stderr
    stored = b"".join(
        path.read_bytes() for path in db.parent.iterdir() if path.name.startswith(db.name)
    )
    assert key.encode() not in stored
    assert hash_key(key).encode() in stored
    listed = subprocess.run(
        [sys.executable, "-m", "grove_explorer.server", "keys", "list", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout  # the second entry point
    assert key_id_of(key) in listed and "carol" in listed and key not in listed


# -- a server that checks keys ------------------------------------------------------------


async def test_calls_need_a_valid_key_and_belong_to_its_user(keyed_server) -> None:
    server, alice_key, _ = keyed_server
    async with Client(api_host=server.address, api_key="") as anonymous:
        with pytest.raises(UnauthenticatedError, match="requires an API key"):
            await anonymous.grok.list_conversations()
    async with Client(api_host=server.address, api_key=KEY_PREFIX + "guessed") as stranger:
        with pytest.raises(UnauthenticatedError, match="not valid"):
            await stranger.grok.list_conversations()
    async with Client(api_host=server.address, api_key=alice_key) as alice:
        conversation = alice.grok.create_conversation()
        stream, future = conversation.add_response("Whose garden is this?")
        await collect(stream)
        reply = await future
        assert reply.message
    cid = conversation.conversation_id
    assert await server.store.get_conversation("alice", cid) is not None
    assert await server.store.get_conversation(LOCAL_USER, cid) is None


async def test_two_users_are_isolated(keyed_server) -> None:
    server, alice_key, bob_key = keyed_server
    async with (
        Client(api_host=server.address, api_key=alice_key) as alice,
        Client(api_host=server.address, api_key=bob_key) as bob,
    ):
        conversation = alice.grok.create_conversation()
        stream, future = conversation.add_response("Alice's secret")
        await collect(stream)
        await future
        cid = conversation.conversation_id
        assert await bob.grok.list_conversations() == []
        with pytest.raises(NotFoundError):
            await bob.grok.get_conversation(cid)
        assert [c.conversation_id for c in await alice.grok.list_conversations()] == [cid]


async def test_revoking_while_the_server_runs_refuses_the_next_call(db: Path, keyed_server) -> None:
    server, alice_key, bob_key = keyed_server
    async with (
        Client(api_host=server.address, api_key=alice_key) as alice,
        Client(api_host=server.address, api_key=bob_key) as bob,
    ):
        assert await alice.grok.list_conversations() == []
        assert await in_thread("keys", "revoke", key_id_of(alice_key), "--db", str(db)) == 0
        # Every call looks its key up in the database: the very next one is refused.
        with pytest.raises(UnauthenticatedError, match="revoked"):
            await alice.grok.list_conversations()
        assert await bob.grok.list_conversations() == [], "other keys are unaffected"


async def test_new_key_is_accepted_by_a_running_server(db: Path, keyed_server) -> None:
    server, _, _ = keyed_server
    fresh = await create_key(db, "dave")
    async with Client(api_host=server.address, api_key=fresh.key) as dave:
        assert await dave.grok.list_conversations() == []


async def test_open_access_without_keys_and_after_the_last_revocation(db: Path) -> None:
    server = GroveServer(ServerConfig(host="127.0.0.1", port=0, db=db))
    await server.start()
    try:
        async with Client(api_host=server.address, api_key="") as anyone:
            conversation = anyone.grok.create_conversation()
            stream, future = conversation.add_response("hello")
            await collect(stream)
            await future
            cid = conversation.conversation_id
            assert await server.store.get_conversation(LOCAL_USER, cid) is not None

            only = await create_key(db, "erin")
            with pytest.raises(UnauthenticatedError, match="requires an API key"):
                await anyone.grok.list_conversations()
            assert await in_thread("keys", "revoke", key_id_of(only.key), "--db", str(db)) == 0
            # No active key left: a loopback server is a local server again...
            assert [c.conversation_id for c in await anyone.grok.list_conversations()] == [cid]
        # ...but the revoked key itself stays refused, so its holder learns why.
        async with Client(api_host=server.address, api_key=only.key) as erin:
            with pytest.raises(UnauthenticatedError, match="revoked"):
                await erin.grok.list_conversations()
    finally:
        await server.stop()


# -- refusing to serve the network without keys -------------------------------------------


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_which_hosts_need_keys(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
    refusal = exposure_refusal(host, has_active_keys=False, insecure_no_auth=False)
    assert (refusal is None) is loopback
    assert exposure_refusal(host, has_active_keys=True, insecure_no_auth=False) is None
    assert exposure_refusal(host, has_active_keys=False, insecure_no_auth=True) is None


async def test_network_server_needs_a_key_and_never_falls_back_to_open(db: Path) -> None:
    config = ServerConfig(host="0.0.0.0", port=0, db=db)
    with pytest.raises(StartupError, match=r"Refusing to listen on 0\.0\.0\.0 without API keys"):
        await GroveServer(config).start()
    key = await create_key(db, "frank")
    server = GroveServer(config)
    port = await server.start()
    try:
        address = f"127.0.0.1:{port}"
        async with Client(api_host=address, api_key=key.key) as frank:
            assert await frank.grok.list_conversations() == []
        await asyncio.to_thread(grove, ["keys", "revoke", key_id_of(key.key), "--db", str(db)])
        async with Client(api_host=address, api_key="") as anyone:
            with pytest.raises(UnauthenticatedError, match="requires an API key"):
                await anyone.grok.list_conversations()
    finally:
        await server.stop()
    insecure = GroveServer(replace(config, insecure_no_auth=True))
    await insecure.start()
    await insecure.stop()


def test_grove_serve_refuses_a_network_address_without_keys(db: Path) -> None:
    result = subprocess.run(
        [*GROVE, "serve", "--host", "0.0.0.0", "--port", "0", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "Refusing to listen on 0.0.0.0 without API keys" in result.stderr
    assert "--insecure-no-auth" in result.stderr and result.stdout == ""


async def test_grove_serve_insecure_no_auth_starts(db: Path) -> None:
    process = ServerProcess(
        db, ("--host", "0.0.0.0", "--insecure-no-auth"), entry=(*GROVE[1:], "serve")
    )
    await process.start()
    try:
        async with asyncio.timeout(30):
            line = process.start_line
            assert line.startswith("Grove Chat server on 0.0.0.0:"), line
            assert "plaintext, open access" in line
            assert "warning: --insecure-no-auth" in (await process.read_line() or "")
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
