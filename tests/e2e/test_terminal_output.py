"""Replayed history is inert at the terminal itself, not only in Textual's screenshots.

The real `grove` process runs in a pseudo-terminal against a server holding a conversation
whose stored text carries terminal control sequences (OSC 52 clipboard write, window
title, screen clear, a cursor-position query). The test opens that conversation with
keystrokes, as a person would, and reads every byte the app writes to the terminal: none
of the stored sequences may appear there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import sys
import time
from pathlib import Path

import pytest

from grove_explorer.client import Client
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer

MARKER = "replay-marker-7d1f"
HOSTILE = (
    f"{MARKER} \x1b]52;c;ZXZpbA==\x07 \x1b]0;pwned-title\x07 \x1b[2J \x1b[6n "
    "\x1bP+q544e\x1b\\ [bold red]markup[/] \x9b31m tail"
)
SEQUENCES = (
    b"\x1b]52;c;ZXZpbA==",
    b"\x1b]0;pwned-title",
    b"\x1b[6n",
    b"\x1bP+q544e",
    b"\xc2\x9b31m",
)


def _read_until(fd: int, needle: bytes, seen: bytearray, timeout: float) -> None:
    """Reads the terminal into `seen` until `needle` appears (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} never reached the terminal")
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            raise AssertionError("the app closed the terminal early") from None
        seen.extend(chunk)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
async def test_stored_escape_sequences_never_reach_the_terminal(
    server: GroveServer, tmp_path: Path
) -> None:
    async with Client(api_host=server.address) as sdk:
        conversation = sdk.grok.create_conversation()
        await conversation.ensure_created()
        await sdk.stub.AddModelResponse(
            chat_pb2.AddModelResponseRequest(
                conversation_id=conversation.conversation_id, message=HOSTILE
            )
        )
        await conversation.set_title("Replay check")

    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLUMNS": "120",
        "LINES": "36",
        "GROVE_CONFIG": str(tmp_path / "none.toml"),
        "XAI_API_KEY": "",
    }
    env.pop("XAI_API_HOST", None)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the real `grove` entry point on this terminal
        os.execvpe(
            sys.executable,
            [
                sys.executable,
                "-c",
                "from grove_explorer.app.cli import main; main()",
                "--server",
                server.address,
            ],
            env,
        )
    seen = bytearray()
    loop = asyncio.get_running_loop()
    try:
        # The server runs on this event loop, so the terminal is read in a thread.
        await loop.run_in_executor(None, _read_until, fd, b"Replay check", seen, 20)
        os.write(fd, b"\x10")  # ctrl+p: the command palette
        await loop.run_in_executor(None, _read_until, fd, b"Search for", seen, 10)
        os.write(fd, b"Replay check")
        await loop.run_in_executor(None, _read_until, fd, b"Open", seen, 10)
        os.write(fd, b"\r")
        await loop.run_in_executor(None, _read_until, fd, MARKER.encode(), seen, 20)
        os.write(fd, b"\x11")  # ctrl+q
        await loop.run_in_executor(None, _drain, fd, seen)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
        await loop.run_in_executor(None, os.waitpid, pid, 0)
        os.close(fd)
    for sequence in SEQUENCES:
        assert sequence not in seen, f"{sequence!r} reached the terminal"
    # Textual ends its own OSC 22 (pointer shape) with BEL; no other BEL may appear.
    assert seen.count(b"\x07") == seen.count(b"\x1b]22;"), "a bell from content"
    assert b"red]markup[/]" in seen, "markup is shown literally (the line may wrap)"
    assert b"pwned-title" not in seen, "a control sequence goes whole, parameters too"


PASTE_MARKER = "paste-marker-3c9a"
PASTED = f"{PASTE_MARKER}\n\x1b[31mRED\x1b[0m done \x1b]0;t\x07\nlast line"


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
async def test_a_bracketed_paste_with_escapes_is_sent_exactly(
    server: GroveServer, tmp_path: Path
) -> None:
    """The real app in a terminal: a paste holding escape sequences and newlines goes into
    the composer as one piece (no newline sends it early); Enter sends exactly it."""
    pid, fd = _spawn(server, tmp_path)
    seen = bytearray()
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, _read_until, fd, b"Enter send", seen, 20)
        os.write(fd, b"\x1b[200~" + PASTED.encode() + b"\x1b[201~")
        await loop.run_in_executor(None, _read_until, fd, b"3 control seq", seen, 10)
        os.write(fd, b"\r")
        async with asyncio.timeout(20):
            sent = await _sent_message(server)
        os.write(fd, b"\x11")  # ctrl+q
        await loop.run_in_executor(None, _drain, fd, seen)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
        await loop.run_in_executor(None, os.waitpid, pid, 0)
        os.close(fd)
    assert sent == [PASTED], "one message, exactly the pasted text"
    assert b"\x1b[31mRED" not in seen and b"[31m" not in seen


async def _sent_message(server: GroveServer) -> list[str]:
    """The human messages holding the paste marker, once one is stored (polled, bounded)."""
    async with Client(api_host=server.address) as sdk:
        while True:
            found = []
            for summary in await sdk.grok.list_conversations():
                conversation = await sdk.grok.get_conversation(summary.conversation_id)
                found += [
                    r.message
                    for r in conversation.responses
                    if r.sender == "human" and PASTE_MARKER in r.message
                ]
            if found:
                return found
            await asyncio.sleep(0.05)


def _spawn(server: GroveServer, tmp_path: Path) -> tuple[int, int]:
    """The real `grove` entry point in a pseudo-terminal against `server`."""
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLUMNS": "120",
        "LINES": "36",
        "GROVE_CONFIG": str(tmp_path / "none.toml"),
        "XAI_API_KEY": "",
    }
    env.pop("XAI_API_HOST", None)
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(
            sys.executable,
            [
                sys.executable,
                "-c",
                "from grove_explorer.app.cli import main; main()",
                "--server",
                server.address,
            ],
            env,
        )
    return pid, fd


def _drain(fd: int, seen: bytearray) -> None:
    """Reads until the app closes the terminal (it quit) or 10 s pass."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        seen.extend(chunk)
