"""A full disk answers RESOURCE_EXHAUSTED with a sentence, and reading keeps working.

The disk is real: the server process runs in its own mount namespace (`unshare`) with its
database on a 2 MiB tmpfs mounted there, so SQLite's writes fail with ENOSPC, which it
reports as SQLITE_FULL. The mount exists only inside that namespace and vanishes with the
process: nothing to clean up, and parallel tests cannot see each other's mounts. Where
the sandbox forbids mount namespaces (no root and no unprivileged user namespaces) the
test is skipped and says why.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from grove_explorer.client import (
    Client,
    ResourceExhaustedError,
    SamplingParams,
    StorageFullError,
)
from grove_explorer.server.launcher import ServerProcess
from tests.helpers import collect

TMPFS_SIZE = "2m"  # the schema (15 versions) takes a few hundred KB of it


def _unshare_flags() -> list[str]:
    # Root may mount in a new mount namespace; anyone else needs a user namespace too.
    return ["--mount"] if os.geteuid() == 0 else ["--mount", "--map-root-user"]


def _small_disk_or_skip(mountpoint: Path) -> None:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("needs unshare(1) and mount(8) for a small real filesystem")
    probe = subprocess.run(
        [
            "unshare",
            *_unshare_flags(),
            "sh",
            "-c",
            f"mount -t tmpfs -o size=64k tmpfs '{mountpoint}'",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a mount namespace here: {probe.stderr.strip()}")


def _server_on_small_disk(mountpoint: Path) -> ServerProcess:
    """`python -m grove_explorer.server` with its database on a fresh 2 MiB tmpfs."""
    mount = f'mount -t tmpfs -o size={TMPFS_SIZE} tmpfs "$0" && exec "$@"'
    command = [
        "unshare",
        *_unshare_flags(),
        "sh",
        "-c",
        mount,
        str(mountpoint),
        "PYTHON",
        "-m",
        "grove_explorer.server",
    ]
    wrap = (
        f"import os, sys; command = {command!r}; command[command.index('PYTHON')] = "
        "sys.executable; os.execvp('unshare', command + sys.argv[1:])"
    )
    return ServerProcess(mountpoint / "grove.sqlite3", entry=("-c", wrap))


async def test_a_full_disk_is_resource_exhausted_and_reading_still_works(
    tmp_path: Path,
) -> None:
    mountpoint = tmp_path / "small-disk"
    mountpoint.mkdir()
    _small_disk_or_skip(mountpoint)
    async with (
        _server_on_small_disk(mountpoint) as process,
        Client(api_host=process.address) as sdk,
    ):
        conversation = sdk.grok.create_conversation()
        await conversation.ensure_created()
        stored = 0
        block = "lorem ipsum dolor sit amet " * 2_500  # ~67 KB per question
        with pytest.raises(StorageFullError) as raised:
            for turn in range(80):  # 80 x 67 KB is well over 2 MiB
                stream, future = conversation.add_response(
                    f"{turn} {block}", sampling=SamplingParams(max_tokens=2)
                )
                await collect(stream)
                await future
                stored += 1
        error = raised.value
        assert isinstance(error, ResourceExhaustedError)
        assert error.code is grpc.StatusCode.RESOURCE_EXHAUSTED and error.kind == "full"
        assert "cannot grow: the disk has no space left" in error.message
        assert "Free some space on that disk" in error.message
        assert "Unexpected" not in error.message and "OperationalError" not in error.message
        assert stored >= 2  # the disk took some replies before it filled up

        # Everything acknowledged is still there, and nothing half-written appears: the
        # question of the failed turn is kept when it was stored (and streamed back)
        # before the disk filled up; its reply is not.
        reloaded = await sdk.grok.get_conversation(conversation.conversation_id)
        senders = [r.sender for r in reloaded.responses]
        assert senders[: 2 * stored] == ["human", "model"] * stored
        assert senders[2 * stored :] in ([], ["human"])
        assert all(
            r.message.startswith(f"{i // 2} ")
            for i, r in enumerate(reloaded.responses)
            if r.sender == "human"
        )

        # The command line says the same in one sentence.
        export = tmp_path / "one.json"
        export.write_text(
            json.dumps(
                {
                    "format": "grove.conversation",
                    "version": 1,
                    "title": "big",
                    "responses": [
                        {
                            "response_id": "a",
                            "parent_response_id": None,
                            "sender": "human",
                            "message": block * 6,
                        }
                    ],
                }
            )
        )
        env = {k: v for k, v in os.environ.items() if k not in ("XAI_API_HOST", "XAI_API_KEY")}
        env["GROVE_CONFIG"] = str(tmp_path / "no-config.toml")
        done = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-c",
                "from grove_explorer.app.cli import main; raise SystemExit(main())",
                "import",
                str(export),
                "--server",
                process.address,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith("grove: The server's database ")
        assert "cannot grow" in done.stderr and done.stderr.count("\n") == 1
