"""Faults: a server killed mid-stream loses at most its last checkpoint interval.

Running streams are checkpointed (their text so far saved) every `--checkpoint-ms`
(400 ms by default); a restarted server turns orphaned checkpoints into partial replies.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from grove_explorer.client import Client, NotFoundError, SamplingParams, ServerUnavailableError
from grove_explorer.server.launcher import ServerProcess
from grove_explorer.server.runtime import GroveServer
from tests.helpers import collect


def _checkpoints(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT checkpoint_id, response FROM checkpoints").fetchall()


async def test_kill_9_mid_stream_keeps_everything_up_to_the_last_checkpoint(
    tmp_path: Path,
) -> None:
    db = tmp_path / "grove.sqlite3"
    process = ServerProcess(db, ("--token-delay-ms", "10", "--offline-min-tokens", "5000"))
    await process.start()
    try:
        async with Client(api_host=process.address) as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response(
                "Tell me about oak trees.", sampling=SamplingParams(max_tokens=30)
            )
            await collect(stream)
            acknowledged = await future

            stream, future = conversation.add_response(
                "Now a very long story.", sampling=SamplingParams(max_tokens=4000)
            )
            received: list[str] = []
            mark_text: str | None = None
            mark_time = 0.0
            with pytest.raises(ServerUnavailableError):
                async for text in stream:
                    received.append(text)
                    now = time.monotonic()
                    if mark_text is None and len(received) >= 10:
                        mark_text, mark_time = "".join(received), now
                    elif (
                        mark_text is not None
                        and now - mark_time > 0.9
                        and process.returncode is None
                    ):
                        process.kill()  # SIGKILL: no handler runs, nothing is flushed
                        await process.wait()
            with pytest.raises(ServerUnavailableError):
                await future
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert mark_text is not None
    received_text = "".join(received)

    restarted = await ServerProcess(db).start()
    try:
        async with Client(api_host=restarted.address) as sdk:
            reloaded = await sdk.grok.get_conversation(conversation.conversation_id)
            responses = reloaded.responses
            assert [(r.sender, r.partial) for r in responses] == [
                ("human", False),
                ("model", False),
                ("human", False),
                ("model", True),
            ]
            assert responses[1].response_id == acknowledged.response_id
            assert responses[1].message == acknowledged.message
            interrupted = responses[3]
            # Everything streamed more than one interval before the kill was checkpointed,
            # and nothing that was not streamed is invented.
            assert interrupted.message.startswith(mark_text)
            assert received_text.startswith(interrupted.message)
            assert interrupted.parent_response_id == responses[2].response_id
            assert interrupted.model_name == acknowledged.model_name
            assert interrupted.finish_reason == "interrupted"
            assert acknowledged.finish_reason in ("stop", "length")
    finally:
        restarted.terminate()
        await restarted.wait()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert _checkpoints(db) == [], "recovered checkpoints are gone"


async def test_checkpoints_follow_the_stream_and_vanish_with_it(make_server) -> None:
    server: GroveServer = make_server(token_delay_ms=5.0, offline_min_reply_tokens=400)
    await server.start()
    db = server.config.db
    try:
        async with Client(api_host=server.address) as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response(
                "A story about rivers.", sampling=SamplingParams(max_tokens=200, seed=3)
            )
            received = [await anext(stream) for _ in range(5)]
            # Saves the text if the checkpointer's own tick has not saved it all already.
            await server.servicer.checkpoint_now()
            (row,) = _checkpoints(db)
            saved = json.loads(row[1])
            assert saved["partial"] and saved["sender"] == "model"
            assert saved["message"].startswith("".join(received))
            received += [text async for text in stream]
            reply = await future
            assert not reply.partial and reply.message == "".join(received)
            assert reply.message.startswith(saved["message"])
            assert _checkpoints(db) == [], "the final reply replaced its checkpoint"
            assert len(conversation.responses) == 2, "no duplicate partial"
    finally:
        await server.stop()


async def test_a_deleted_conversation_leaves_no_checkpoint(make_server) -> None:
    server: GroveServer = make_server(token_delay_ms=5.0, offline_min_reply_tokens=400)
    await server.start()
    db = server.config.db
    try:
        async with Client(api_host=server.address) as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response(
                "A story about lakes.", sampling=SamplingParams(max_tokens=300)
            )
            await anext(stream)
            await anext(stream)
            await server.servicer.checkpoint_now()
            assert len(_checkpoints(db)) == 1
            other = await sdk.grok.get_conversation(conversation.conversation_id)
            await other.delete()
            with pytest.raises(NotFoundError):
                await collect(stream)
            with pytest.raises(NotFoundError):
                await future
        assert _checkpoints(db) == []
    finally:
        await server.stop()


async def test_a_second_server_on_the_same_database_leaves_live_checkpoints_alone(
    make_server,
) -> None:
    """`grove ls` beside the app: starting a server must not steal a live stream's text."""
    first: GroveServer = make_server(token_delay_ms=5.0, offline_min_reply_tokens=400)
    await first.start()
    second: GroveServer | None = None
    db = first.config.db
    try:
        async with Client(api_host=first.address) as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response(
                "A story about hills.", sampling=SamplingParams(max_tokens=300)
            )
            await anext(stream)
            await first.servicer.checkpoint_now()
            assert len(_checkpoints(db)) == 1
            second = make_server()
            await second.start()  # recovers orphans only: this checkpoint's server lives
            assert len(_checkpoints(db)) == 1
            await stream.stop()
            await collect(stream)
            reply = await future
            await conversation.load()
            assert [r.response_id for r in conversation.responses if r.sender == "model"] == [
                reply.response_id
            ], "exactly one reply, no stray partial copy"
    finally:
        if second is not None:
            await second.stop()
        await first.stop()


def test_owners_of_gone_processes_are_orphans() -> None:
    from datetime import UTC, datetime, timedelta

    from grove_explorer.server import owners

    now = datetime.now(UTC)
    live = owners.new_owner()
    try:
        assert not owners.is_orphan(live, now), "a running server of this process"
        owners.retire(live)
        assert owners.is_orphan(live, now), "a stopped server of this process"
        assert owners.is_orphan("", now), "rows written before owners existed"
        dead_pid = 2**22 + 12345  # above Linux's pid_max default: no such process
        assert owners.is_orphan(f"{owners.HOST}:{dead_pid}:x", now)
        assert not owners.is_orphan(f"{owners.HOST}:1:x", now), "pid 1 is alive"
        assert not owners.is_orphan("elsewhere:1:x", now), "another host, recent"
        assert owners.is_orphan("elsewhere:1:x", now - timedelta(minutes=5)), "stale"
    finally:
        owners.retire(live)
