"""An AddResponse start's checks: the caller's key and the conversation's owner, one read.

AddResponse reads its caller's key and its conversation's owner in one statement
(`Authenticator.identify_for`, `check_api_key_and_owner`). These tests pin what that must
not change: which refusal comes first (the key's, then the id's shape, then NOT_FOUND), that
a revocation made by another process refuses the very next start, that another user's
conversation is NOT_FOUND like a missing one, and that nothing is stored by a refused start.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from grove_explorer.app.cli import main as grove
from grove_explorer.protos import chat_pb2, chat_pb2_grpc, sampler_public_pb2
from grove_explorer.server.auth import LOCAL_USER, hash_key
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.keys import create_key, key_id_of
from grove_explorer.server.runtime import GroveServer

MISSING_ID = "0" * 32


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "grove.sqlite3"


async def serve(db: Path, **config: object) -> GroveServer:
    server = GroveServer(ServerConfig(host="127.0.0.1", port=0, db=db, **config))  # type: ignore[arg-type]
    await server.start()
    return server


@pytest.fixture
async def keyed(db: Path) -> AsyncIterator[tuple[GroveServer, str, str]]:
    """A server whose database holds a key for alice and one for bob."""
    alice = await create_key(db, "alice")
    bob = await create_key(db, "bob")
    server = await serve(db)
    try:
        yield server, alice.key, bob.key
    finally:
        await server.stop()


async def start(
    address: str,
    key: str | None,
    conversation_id: str,
    message: str = "hello",
    model_name: str = "",
) -> tuple[grpc.StatusCode, str, list[chat_pb2.AddResponseResponse]]:
    """One raw AddResponse: its status, details and the messages received before it."""
    metadata = () if key is None else (("authorization", f"Bearer {key}"),)
    received: list[chat_pb2.AddResponseResponse] = []
    async with grpc.aio.insecure_channel(address) as channel:
        call = chat_pb2_grpc.ChatStub(channel).AddResponse(
            chat_pb2.AddResponseRequest(
                conversation_id=conversation_id,
                message=message,
                model_name=model_name,
                sampling_params=sampler_public_pb2.SamplingParams(max_tokens=3, seed=1),
            ),
            metadata=metadata,
        )
        try:
            async for reply in call:
                received.append(reply)
        except grpc.aio.AioRpcError as error:
            return error.code(), error.details() or "", received
    return grpc.StatusCode.OK, "", received


async def conversation_of(address: str, key: str | None) -> str:
    metadata = () if key is None else (("authorization", f"Bearer {key}"),)
    async with grpc.aio.insecure_channel(address) as channel:
        made = await chat_pb2_grpc.ChatStub(channel).CreateConversation(
            chat_pb2.CreateConversationRequest(), metadata=metadata
        )
    return made.conversation_id


async def count_responses(server: GroveServer, user: str, conversation_id: str) -> int:
    record = await server.store.get_conversation(user, conversation_id)
    assert record is not None
    return record.response_count


async def test_the_owner_starts_and_the_reply_is_stored(keyed) -> None:
    server, alice, _ = keyed
    cid = await conversation_of(server.address, alice)
    code, _, received = await start(server.address, alice, cid)
    assert code is grpc.StatusCode.OK
    assert received[0].WhichOneof("response") == "user_response"
    assert received[-1].WhichOneof("response") == "model_response"
    assert await count_responses(server, "alice", cid) == 2


async def test_another_users_conversation_is_not_found_like_a_missing_one(keyed) -> None:
    server, alice, bob = keyed
    cid = await conversation_of(server.address, alice)
    theirs = await start(server.address, bob, cid)
    missing = await start(server.address, bob, MISSING_ID)
    assert theirs[0] is missing[0] is grpc.StatusCode.NOT_FOUND
    # The same sentence but for the id: nothing tells bob that alice's exists.
    assert theirs[1].replace(cid, "ID") == missing[1].replace(MISSING_ID, "ID")
    assert theirs[2] == missing[2] == []
    assert await count_responses(server, "alice", cid) == 0


async def test_not_found_comes_before_the_requests_other_mistakes(keyed) -> None:
    """The owner is checked right after the key, before the model and the rest: another
    user's conversation with an unknown model is NOT_FOUND, the owner's is the model."""
    server, alice, bob = keyed
    cid = await conversation_of(server.address, alice)
    theirs = await start(server.address, bob, cid, model_name="no-such-model")
    mine = await start(server.address, alice, cid, model_name="no-such-model")
    assert theirs[0] is grpc.StatusCode.NOT_FOUND
    assert mine[0] is grpc.StatusCode.INVALID_ARGUMENT and "no-such-model" in mine[1]
    assert await count_responses(server, "alice", cid) == 0


@pytest.mark.parametrize(
    "conversation_id, key_kind",
    [
        (MISSING_ID, "none"),
        ("not-an-id", "none"),
        ("", "none"),
        (MISSING_ID, "guessed"),
        ("not-an-id", "guessed"),
    ],
)
async def test_the_key_is_refused_before_anything_about_the_conversation(
    keyed, conversation_id: str, key_kind: str
) -> None:
    server, _, _ = keyed
    key = None if key_kind == "none" else "grove_guessed"
    code, details, received = await start(server.address, key, conversation_id)
    assert code is grpc.StatusCode.UNAUTHENTICATED
    assert ("requires an API key" if key is None else "not valid") in details
    assert received == []


@pytest.mark.parametrize("conversation_id", ["", "not-an-id", "A" * 32])
async def test_a_malformed_id_is_invalid_not_missing(keyed, conversation_id: str) -> None:
    server, alice, _ = keyed
    code, details, _ = await start(server.address, alice, conversation_id)
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "conversation_id" in details


async def test_a_revocation_by_another_process_refuses_the_very_next_start(db: Path, keyed) -> None:
    server, alice, bob = keyed
    cid = await conversation_of(server.address, alice)
    assert (await start(server.address, alice, cid))[0] is grpc.StatusCode.OK
    revoke = ["keys", "revoke", key_id_of(alice), "--db", str(db)]
    assert await asyncio.to_thread(grove, revoke) == 0
    code, details, received = await start(server.address, alice, cid)
    assert (code, received) == (grpc.StatusCode.UNAUTHENTICATED, [])
    assert "revoked" in details
    assert await count_responses(server, "alice", cid) == 2, "nothing stored by the refusal"
    bob_cid = await conversation_of(server.address, bob)
    assert (await start(server.address, bob, bob_cid))[0] is grpc.StatusCode.OK


async def test_open_access_is_the_local_user_until_a_key_exists(db: Path) -> None:
    server = await serve(db)
    try:
        cid = await conversation_of(server.address, None)
        assert (await start(server.address, None, cid))[0] is grpc.StatusCode.OK
        assert await count_responses(server, LOCAL_USER, cid) == 2
        await create_key(db, "erin")
        code, details, _ = await start(server.address, None, cid)
        assert code is grpc.StatusCode.UNAUTHENTICATED and "requires an API key" in details
        assert await count_responses(server, LOCAL_USER, cid) == 2
    finally:
        await server.stop()


async def test_configured_keys_check_the_conversation_too(db: Path) -> None:
    """A key of the server's configuration needs no key read: the conversation is read
    on its own, with the same answers."""
    keys = {hash_key("key-alice"): "alice", hash_key("key-bob"): "bob"}
    server = await serve(db, api_keys=keys)
    try:
        cid = await conversation_of(server.address, "key-alice")
        assert (await start(server.address, "key-alice", cid))[0] is grpc.StatusCode.OK
        assert (await start(server.address, "key-bob", cid))[0] is grpc.StatusCode.NOT_FOUND
        assert (await start(server.address, "key-bob", "x"))[0] is grpc.StatusCode.INVALID_ARGUMENT
        assert (await start(server.address, None, cid))[0] is grpc.StatusCode.UNAUTHENTICATED
        assert await count_responses(server, "alice", cid) == 2
    finally:
        await server.stop()


async def test_one_read_answers_the_key_and_the_owner(keyed) -> None:
    server, alice, _ = keyed
    cid = await conversation_of(server.address, alice)
    store = server.store
    check, owner = await store.check_api_key_and_owner(hash_key(alice), cid)
    assert (check, owner) == (await store.check_api_key(hash_key(alice)), "alice")
    check, owner = await store.check_api_key_and_owner(None, MISSING_ID)
    assert (check, owner) == (await store.check_api_key(None), None)
    assert check.user_id is None and check.any_active
