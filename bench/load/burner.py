"""The busy core: another process spinning on one CPU while the streams run.

Issue 13's goal for the token gap holds "with another process using one core". A plain
Python spin loop in a subprocess, at the default niceness (0, like the server and the
client), is that other process: the scheduler shares the machine's cores between it, the
server and the client as it would with any CPU-bound neighbour. Its CPU time is read from
/proc, so the report shows it really took (about) one core.
"""

from __future__ import annotations

import subprocess
import sys

from bench.load.server import process_cpu_seconds

SPIN = "while True:\n    pass\n"


class Burner:
    """A subprocess burning one core from `start()` to `stop()`."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._cpu_at_start = 0.0
        self.cpu_seconds = 0.0

    def start(self) -> None:
        """Starts spinning (the interpreter takes some milliseconds to get there)."""
        self._process = subprocess.Popen(
            [sys.executable, "-c", SPIN], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )

    def mark(self) -> None:
        """The measured phase starts: its CPU is counted from here."""
        if self._process is not None:
            self._cpu_at_start = process_cpu_seconds(self._process.pid)

    def read(self) -> None:
        """The measured phase ended: `cpu_seconds` is what it took since `mark()`."""
        if self._process is not None:
            self.cpu_seconds = process_cpu_seconds(self._process.pid) - self._cpu_at_start

    def stop(self) -> None:
        """Stops spinning."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
