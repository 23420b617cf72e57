"""`grove serve --event-loop`: uvloop where installed (less CPU per token), or asyncio.

The choice is made in server/event_loop.py; a served process streams and stores a reply
on either loop, and SIGTERM still stops it cleanly (the loop's signal handlers).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from grove_explorer.client import Client, SamplingParams
from grove_explorer.server import event_loop
from grove_explorer.server.launcher import ServerProcess


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_takes_uvloop_where_installed_and_asyncio_runs_the_standard_loop() -> None:
    assert event_loop.uvloop_available()  # a dependency on this platform
    assert event_loop.resolved("auto") == "uvloop"
    assert event_loop.run(_loop_module(), "auto").startswith("uvloop")
    assert event_loop.run(_loop_module(), "uvloop").startswith("uvloop")
    assert event_loop.run(_loop_module(), "asyncio").startswith("asyncio")


def test_asking_for_uvloop_where_it_is_missing_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_loop, "uvloop_available", lambda: False)
    assert event_loop.resolved("auto") == "asyncio"
    with pytest.raises(event_loop.EventLoopUnavailableError, match="--event-loop asyncio"):
        event_loop.resolved("uvloop")


@pytest.mark.parametrize("choice", ["uvloop", "asyncio"])
async def test_a_served_process_streams_and_stores_on_either_loop(
    tmp_path: Path, choice: str
) -> None:
    process = await ServerProcess(tmp_path / "grove.sqlite3", ("--event-loop", choice)).start()
    try:
        async with Client(api_host=process.address) as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response(
                "hello", sampling=SamplingParams(max_tokens=40, seed=7)
            )
            text = "".join([t async for t in stream])
            reply = await future
            assert text and reply.message == text
            stored = await sdk.grok.get_conversation(conversation.conversation_id)
            assert stored.leaf_response_id == reply.response_id
    finally:
        await process.stop()
    assert process.returncode == 0, process.stderr


def test_the_flag_is_in_the_help() -> None:
    from grove_explorer.server.cli import build_serve_parser

    text = build_serve_parser().format_help()
    assert "--event-loop {auto,uvloop,asyncio}" in text
    assert sys.platform == "win32" or "uvloop" in text
