"""Run the Chat server as a child process: `python -m grove_explorer.server` on a free port.

The tests that need a real process (signals, `kill -9`, the start line an operator reads)
and the benchmarks (a server apart from the measuring client) start it here, so the start
line is parsed, and the process stopped, in one place. The server prints its address on
its first line (`Grove Chat server on 127.0.0.1:PORT (…)`) only once it listens and its
signal handlers are in, so whoever waits for that line may connect or signal at once.

Both pipes are read to their end in the background: a server that prints (model lines,
the shutdown notice, warnings) never blocks on a full pipe, and what it printed stays
readable (`read_line`, `stdout_lines`, `stderr`) for the caller's assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from grove_explorer.server.store.location import DatabaseLocation, PostgresUrl

__all__ = ["SERVER_ENTRY", "START_LINE_RE", "ServerProcess", "free_port"]

#: The interpreter arguments that run the server (`python -m grove_explorer.server`).
SERVER_ENTRY: tuple[str, ...] = ("-m", "grove_explorer.server")
#: The server's first line; group 1 is the address clients dial.
START_LINE_RE = re.compile(r"^Grove Chat server on (\S+) \(")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now, for a server that must come back on the same address.

    `--port 0` is better whenever the port need not be known in advance: between this
    probe and the server's bind another process could take the port.
    """
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """One server child process, started with `start()` (or `async with`).

    `stop()` sends SIGTERM, then SIGKILL if the server does not exit in time. `kill`,
    `terminate`, `send_signal`, `wait`, `pid` and `returncode` behave as on
    `asyncio.subprocess.Process`, so fault tests can signal the server themselves.
    """

    def __init__(
        self,
        db: DatabaseLocation,
        args: Sequence[str] = (),
        *,
        entry: Sequence[str] = SERVER_ENTRY,
        port: int = 0,
        log_level: str | None = "WARNING",
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
        shutdown_timeout: float = 20.0,
        capture_stderr: bool = True,
        executable: str | None = None,
    ) -> None:
        """`args` come last, so they override the defaults (`--port`, `--log-level`).

        `entry` replaces `-m grove_explorer.server` for another entry point with the same
        flags and start line (`grove serve`, a benchmark's probed server). With
        `capture_stderr=False` the server's log goes to our own stderr (a benchmark's
        console) instead of `stderr`. `executable` is the interpreter (default: this one),
        e.g. another checkout's virtual environment to run another version of the server.
        """
        # The whole URL (str() of a PostgresUrl hides its password, for logs).
        db_arg = db.url if isinstance(db, PostgresUrl) else str(db)
        python = executable or sys.executable
        self.command: list[str] = [python, *entry, "--port", str(port), "--db", db_arg]
        if log_level is not None:
            self.command += ["--log-level", log_level]
        self.command += list(args)
        self.db = db
        self._cwd = cwd
        self._env = dict(env) if env is not None else None
        self._startup_timeout = startup_timeout
        self._shutdown_timeout = shutdown_timeout
        self._capture_stderr = capture_stderr
        self._process: asyncio.subprocess.Process | None = None
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._readers: list[asyncio.Task[None]] = []
        self._stderr: list[str] = []
        #: Every stdout line so far, the start line first (without line ends).
        self.stdout_lines: list[str] = []
        self.start_line = ""
        self.address = ""

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> ServerProcess:
        """Spawns the server and waits for its start line.

        Raises RuntimeError, with what the server wrote to stderr, if it exits or stays
        silent instead.
        """
        self._process = process = await asyncio.create_subprocess_exec(
            *self.command,
            cwd=self._cwd,
            env=self._env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE if self._capture_stderr else None,
        )
        assert process.stdout is not None
        self._readers = [asyncio.create_task(self._read_stdout(process.stdout))]
        if process.stderr is not None:
            self._readers.append(asyncio.create_task(self._read_stderr(process.stderr)))
        try:
            async with asyncio.timeout(self._startup_timeout):
                line = await self.read_line()
        except BaseException as error:
            await self.stop()
            if isinstance(error, TimeoutError):
                raise RuntimeError(self._failure("did not print its address in time")) from None
            raise
        if line is None:
            code = await self.wait()
            raise RuntimeError(self._failure(f"exited with code {code} before its start line"))
        match = START_LINE_RE.match(line)
        if match is None:
            await self.stop()
            raise RuntimeError(self._failure(f"printed {line!r} instead of its start line"))
        self.start_line = line
        self.address = match.group(1)
        return self

    async def stop(self) -> int | None:
        """Stops the server and returns its exit code; safe to repeat.

        SIGTERM first (the server stores in-flight replies as partial), SIGKILL after the
        shutdown timeout or on cancellation.
        """
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it exited a moment ago
                process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(self._shutdown_timeout):
                    await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            except asyncio.CancelledError:
                process.kill()
                await process.wait()
                await self._join_readers()
                raise
        return await self.wait()

    async def __aenter__(self) -> ServerProcess:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- the process, as asyncio.subprocess.Process offers it -------------------------------

    @property
    def process(self) -> asyncio.subprocess.Process:
        """The running child (after `start()`)."""
        if self._process is None:
            raise RuntimeError("The server process has not been started.")
        return self._process

    @property
    def pid(self) -> int:
        """The child's process id (for /proc readings and signals)."""
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        """None while the server runs; its exit code (or -signal) once it has exited."""
        return None if self._process is None else self._process.returncode

    def send_signal(self, sig: int) -> None:
        """Sends `sig` to the server (SIGTERM for a clean shutdown)."""
        self.process.send_signal(sig)

    def terminate(self) -> None:
        """SIGTERM without waiting."""
        self.process.terminate()

    def kill(self) -> None:
        """SIGKILL without waiting: no handler runs, nothing is flushed (fault tests)."""
        self.process.kill()

    async def wait(self) -> int:
        """Waits for the exit and for both pipes to be read to their end; the exit code."""
        code = await self.process.wait()
        await self._join_readers()
        return code

    # -- what the server printed ------------------------------------------------------------

    async def read_line(self) -> str | None:
        """The next stdout line (without its line end), or None once stdout has closed."""
        line = await self._lines.get()
        if line is None:
            self._lines.put_nowait(None)  # every later read sees the end too
        return line

    @property
    def stderr(self) -> str:
        """Everything the server wrote to stderr so far (logs, tracebacks), if captured."""
        return "".join(self._stderr)

    async def _read_stdout(self, stream: asyncio.StreamReader) -> None:
        try:
            async for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.stdout_lines.append(line)
                self._lines.put_nowait(line)
        finally:
            self._lines.put_nowait(None)

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self._stderr.append(chunk.decode("utf-8", "replace"))

    async def _join_readers(self) -> None:
        readers, self._readers = self._readers, []
        for reader in readers:
            with contextlib.suppress(Exception):
                await reader

    def _failure(self, what: str) -> str:
        command = " ".join(self.command[1:])
        stderr = self.stderr.strip()
        return f"The server ({command}) {what}." + (f"\n{stderr}" if stderr else "")
