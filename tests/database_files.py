"""Real database files in bad states, for the tests of clear database failures.

Every file starts as a real Grove database written by a real server; it is then truncated,
has one b-tree page overwritten, or is made read-only by a mechanism that also stops root
(tests may run as root, where permission bits do not stop writes).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from grove_explorer.client import Client, SamplingParams
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from tests.helpers import collect


async def make_database(path: Path, exchanges: int = 3) -> str:
    """Writes a real database with one conversation of `exchanges` replies; its id."""
    server = GroveServer(ServerConfig(host="127.0.0.1", port=0, db=path))
    await server.start()
    try:
        async with Client(api_host=server.address) as sdk:
            conversation = sdk.grok.create_conversation()
            for turn in range(exchanges):
                stream, future = conversation.add_response(
                    f"Question {turn} about oak trees?", sampling=SamplingParams(max_tokens=20)
                )
                await collect(stream)
                await future
            await conversation.set_title("Oak trees")
            return conversation.conversation_id
    finally:
        await server.stop()  # the last connection closes: the -wal is folded into the file


def truncate_copy(source: Path, target: Path) -> Path:
    """The first half of `source` at `target` (a copy cut short, as by a full disk)."""
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


def damage_table(path: Path, table: str) -> None:
    """Overwrites the header of `table`'s root b-tree page with bytes no page starts with."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
    with path.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * 12)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of `folder` and its bytes (to prove nothing was written or created)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _chattr(flag: str, path: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False)
    return done.returncode == 0


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[str]:
    """Makes `path` (a file or a folder) unwritable for this process; yields how.

    As a normal user, permission bits suffice. Root ignores them, so as root the file is
    made immutable (`chattr +i`, which stops root too); without that the test is skipped.
    Undone on exit, so pytest can remove the folder.
    """
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(stat.S_IMODE(mode) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        try:
            yield "permission bits (chmod a-w)"
        finally:
            path.chmod(stat.S_IMODE(mode))
        return
    if not _chattr("+i", path):
        pytest.skip("running as root without `chattr +i`: nothing can make a file read-only")
    try:
        yield "the immutable attribute (chattr +i), which stops root too"
    finally:
        _chattr("-i", path)
