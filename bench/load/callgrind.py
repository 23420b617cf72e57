"""`--callgrind DIR`: the server's instructions during the streaming phase, by thread.

On this shared 2-core machine wall-clock figures move with whatever else runs, and CPU
times with the caches other processes leave behind; valgrind's instruction counts do not.
The server runs under callgrind with instrumentation off (start-up and the warm-up stream
run at valgrind's uninstrumented speed), instrumentation is switched on when the streams
start and the counts are dumped when they end (`callgrind_control`), one file per thread.
The server runs ~50x slower meanwhile, so its timings are meaningless in such a run and
more of its work falls into each group of reads and writes than in a real one: compare
counts of runs made the same way, before and after a change.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

# Enough for the server's imports and the offline model's tables under valgrind.
CALLGRIND_STARTUP_TIMEOUT_S = 600.0

_TOTALS = re.compile(r"^(?:summary|totals):\s*(\d+)", re.MULTILINE)
_THREAD = re.compile(r"-(\d+)$")


def wrap(command: Sequence[str], out_dir: Path) -> list[str]:
    """`command` (python and its arguments) run under callgrind, instrumentation off."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--callgrind needs valgrind (apt-get install valgrind).")
    return [
        valgrind,
        "--tool=callgrind",
        "--instr-atstart=no",
        "--separate-threads=yes",
        f"--callgrind-out-file={out_dir / 'callgrind.out.%p'}",
        *command,
    ]


async def control(pid: int, *flags: str) -> None:
    """Runs `callgrind_control FLAGS PID` (instrumentation on, dump) and waits for it."""
    process = await asyncio.create_subprocess_exec(
        "callgrind_control",
        *flags,
        str(pid),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    if await process.wait() != 0:
        raise RuntimeError(f"callgrind_control {' '.join(flags)} {pid} failed")


def dumped_totals(out_dir: Path, pid: int) -> dict[int, int]:
    """Instructions per thread (1 = the main thread: the event loop) of the dump (`-d`).

    The dump of `callgrind_control -d` is numbered `.1`; files without a number are the
    final dump at exit (instrumentation was on then too: not the streaming phase).
    """
    totals: dict[int, int] = {}
    for path in sorted(out_dir.glob(f"callgrind.out.{pid}.1-*")):
        thread = _THREAD.search(path.name)
        found = _TOTALS.search(path.read_text(encoding="utf-8", errors="replace"))
        if thread is not None and found is not None:
            totals[int(thread.group(1))] = int(found.group(1))
    return totals


def describe(totals: dict[int, int], streams: int) -> str:
    """One report line: the loop thread's and all threads' instructions, per stream."""
    if not totals:
        return "  server instructions  none dumped (was the run under --callgrind?)"
    loop = totals.get(1, 0)
    every = sum(totals.values())
    per_stream = loop / streams / 1e3
    return (
        f"  server instructions  event-loop thread {loop / 1e6:,.1f} M ({per_stream:,.0f} k"
        f" per stream), all {len(totals)} threads {every / 1e6:,.1f} M "
        f"({every / streams / 1e3:,.0f} k per stream)   (--callgrind; timings meaningless)"
    )
