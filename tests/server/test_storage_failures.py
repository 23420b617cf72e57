"""A database that fails at run time answers a status and a sentence, never UNKNOWN.

The conditions are real: a store opened read-only (SQLite's `mode=ro`, so SQLite itself
raises SQLITE_READONLY), and a database with one b-tree page overwritten (SQLite raises
SQLITE_CORRUPT when it reads it). The disk-full case needs a small real filesystem and
lives in tests/e2e/test_disk_full.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from grove_explorer.client import (
    Client,
    DataLossError,
    FailedPreconditionError,
    SamplingParams,
    StorageCorruptError,
    StorageReadOnlyError,
)
from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from tests.database_files import damage_table, make_database
from tests.helpers import collect


@pytest.fixture
async def database(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "grove.sqlite3"
    return path, await make_database(path)


async def running(db: Path, **flags: bool) -> AsyncIterator[GroveServer]:
    server = GroveServer(ServerConfig(host="127.0.0.1", port=0, db=db, **flags))  # type: ignore[arg-type]
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def assert_sentence(message: str, *needles: str) -> None:
    assert "Unexpected" not in message and "<class" not in message
    assert "OperationalError" not in message and "DatabaseError" not in message
    assert message.endswith(".")
    for needle in needles:
        assert needle in message, (needle, message)


async def test_writes_to_a_read_only_database_fail_with_failed_precondition(
    database: tuple[Path, str],
) -> None:
    db, conversation_id = database
    original = db.read_bytes()
    async for server in running(db, read_only=True):
        assert server.read_only
        async with Client(api_host=server.address) as sdk:
            conversation = await sdk.grok.get_conversation(conversation_id)  # reading works
            assert conversation.title == "Oak trees" and len(conversation.responses) == 6
            with pytest.raises(StorageReadOnlyError) as raised:
                await conversation.set_title("Renamed")
            error = raised.value
            assert isinstance(error, FailedPreconditionError)
            assert error.code is grpc.StatusCode.FAILED_PRECONDITION and error.kind == "read_only"
            assert_sentence(error.message, str(db), "opened read-only", "Restart the server")
            stream, future = conversation.add_response(
                "One more?", sampling=SamplingParams(max_tokens=5)
            )
            with pytest.raises(StorageReadOnlyError):
                await collect(stream)
            with pytest.raises(StorageReadOnlyError):
                await future
            with pytest.raises(StorageReadOnlyError):
                await sdk.grok.create_conversation().ensure_created()
            assert len(await sdk.grok.list_conversations()) == 1
    assert db.read_bytes() == original


async def test_the_status_is_set_on_the_wire_not_only_in_the_sdk(
    database: tuple[Path, str],
) -> None:
    db, _ = database
    async for server in running(db, read_only=True):
        async with grpc.aio.insecure_channel(server.address) as channel:
            stub = chat_pb2_grpc.ChatStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.CreateConversation(chat_pb2.CreateConversationRequest())
    error = raised.value
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert_sentence(error.details() or "", "read-only")
    assert ("grove-storage-error", "read_only") in tuple(error.trailing_metadata() or ())


async def test_a_damaged_page_read_at_run_time_is_data_loss(
    database: tuple[Path, str],
) -> None:
    db, conversation_id = database
    damage_table(db, "responses")
    damaged = db.read_bytes()
    async for server in running(db, allow_damaged_db=True):
        assert server.read_only  # a damaged file is never written to
        async with Client(api_host=server.address) as sdk:
            with pytest.raises(StorageCorruptError) as raised:
                await sdk.grok.get_conversation(conversation_id)
    error = raised.value
    assert isinstance(error, DataLossError) and error.code is grpc.StatusCode.DATA_LOSS
    assert_sentence(error.message, f"The server's database {db} is damaged", ".recover")
    assert db.read_bytes() == damaged


async def test_a_deeply_nested_import_request_is_invalid_argument(server: GroveServer) -> None:
    """ImportConversation is flat (parents by id), so only the decoder could recurse:
    nested groups deeper than protobuf's limit are refused as undecodable, not UNKNOWN."""
    depth = 5_000
    start, end = b"\x9b\x06", b"\x9c\x06"  # start/end of group field 99, nested
    inner = start * depth + end * depth
    length = len(inner)
    varint = bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        varint.append(byte | (0x80 if length else 0))
        if not length:
            break
    raw = b"\x1a" + bytes(varint) + inner  # field 3: one Response holding the groups
    async with grpc.aio.insecure_channel(server.address) as channel:
        call = channel.unary_unary("/grove.chat.Chat/ImportConversation")
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(raw)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert_sentence(raised.value.details() or "", "could not be decoded")
