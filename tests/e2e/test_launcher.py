"""The shared server launcher (grove_explorer.server.launcher) the tests and benches use."""

from __future__ import annotations

from pathlib import Path

import pytest

from grove_explorer.server.launcher import ServerProcess


async def test_start_line_output_and_a_clean_stop(tmp_path: Path) -> None:
    server = await ServerProcess(tmp_path / "grove.sqlite3").start()
    try:
        assert server.address.startswith("127.0.0.1:") and server.pid > 0
        assert server.start_line.startswith(f"Grove Chat server on {server.address} (")
        assert (await server.read_line() or "").startswith("  model grove-offline-ngram")
        assert server.returncode is None
    finally:
        assert await server.stop() == 0, server.stderr
    assert await server.stop() == 0, "stopping twice is harmless"
    unread = []
    while (line := await server.read_line()) is not None:
        unread.append(line)
    assert unread[-1].startswith("Shutting down") and unread == server.stdout_lines[2:]
    assert await server.read_line() is None, "the end of stdout stays the end"


async def test_a_server_that_exits_at_once_is_an_error_naming_its_stderr(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "grove.sqlite3", ("--durability", "bogus"))
    with pytest.raises(RuntimeError, match=r"exited with code 2 before its start line") as error:
        await server.start()
    assert "--durability" in str(error.value) and "invalid choice" in str(error.value)
    assert server.returncode == 2


async def test_a_server_deaf_to_sigterm_is_killed(tmp_path: Path) -> None:
    deaf = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('Grove Chat server on 127.0.0.1:9 (a stand-in)', flush=True); time.sleep(60)"
    )
    server = ServerProcess(tmp_path / "unused.sqlite3", entry=("-c", deaf), shutdown_timeout=0.5)
    await server.start()
    assert server.address == "127.0.0.1:9"
    assert await server.stop() == -9
