"""Part `exporting` of bench.store: `grove export` of wide, mixed and deep conversations.

Usage: `python -m bench.store [--quick] --part exporting`.

What it measures (issue 13: "`grove export --all` (md, dot) with 10,000 siblings: < 1 s
beyond process start, linear"; "`grove export --format json` of a 5,000-deep path: < 1 s"):

- Fixtures are written straight into a temporary SQLite file through the server's own
  `Store` API (`SqliteStore.import_conversation`, one transaction) before the server
  starts, so building them costs seconds, not the minutes of sampling them:
  *wide n*: one human message with n model replies; *mixed*: one human message with
  n/100 replies, each continued by a 99-deep chain (alternating human and model);
  *deep n*: an n-deep path (alternating), once with manual replies (what AddModelResponse
  stores: a path written through the SDK) and once with sampled ones. Sampled replies
  carry 25 tokens with logprobs and alternatives each, which `--format json` fetches with
  GetResponsesTokens, 250 replies per call (the next call under way while the client
  writes the last batch).
- A server process (`python -m grove_explorer.server`) serves the file; the benchmark is
  its client. Each figure is the time of `cmd_export` — the very function `grove export`
  runs (`app/headless/transfer.py`): it lists the conversations, fetches the conversation
  (GetConversation), converts it, fetches the tokens for json (GetResponsesTokens) and
  writes the format (Markdown and DOT from the conversation's forest, JSON with each
  token written from its wire message). Median of 3 runs (1 with `--quick`), with the
  CPU time the client (this process) and the server process spent meanwhile.
- Linearity: wide n at two sizes (5,000 and 10,000; 1,000 and 2,000 with `--quick`); the
  ratio of the CPU the export took (client and server together) is ≈ 2 for a linear
  export and ≈ 4 for a quadratic one. CPU rather than wall time, because on a shared
  machine the wall-time ratio swings with other jobs (0.7x to 6x seen on one run); the
  wall ratio is printed beside it.
- Once, the whole `grove --server ADDR export CONV --all` process (interpreter start,
  imports and all), beside `grove --server ADDR ls` (the cost of starting the command).

Timings on a busy machine are pessimistic; the ratio is what shows the algorithm.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.goals import Goal
from grove_explorer.app.headless.transfer import cmd_export
from grove_explorer.client import Client
from grove_explorer.server.auth import LOCAL_USER
from grove_explorer.server.launcher import ServerProcess
from grove_explorer.server.store.records import ImportItem, NewResponse, SamplingRecord
from grove_explorer.server.store.sqlite.store import SqliteStore

GOAL_SECONDS = 1.0
LINEAR_RATIO = 2.5
"""Most the time may grow when the size doubles (linear ≈ 2, quadratic ≈ 4)."""


def _human(local_id: str, parent: str | None, text: str) -> ImportItem:
    return ImportItem(
        local_id,
        parent,
        NewResponse(conversation_id="", message=text, sender="human", parent_response_id=None),
    )


def _model(local_id: str, parent: str | None, index: int, manual: bool = False) -> ImportItem:
    """A sampled reply with its tokens, or a manual one (what AddModelResponse stores)."""
    words = (
        f"Reply {index}: a sampled answer of a few dozen words, long enough to be wrapped "
        "in a drawing and to fill a paragraph in a transcript."
    )
    if manual:
        return ImportItem(
            local_id,
            parent,
            NewResponse(
                conversation_id="",
                message=words,
                sender="model",
                parent_response_id=None,
                manual=True,
            ),
        )
    pieces = words.split(" ")
    tokens = tuple(
        (piece if i == 0 else " " + piece, -0.25 - i / 100, ((piece, -0.25), ("alt", -2.5)))
        for i, piece in enumerate(pieces)
    )
    return ImportItem(
        local_id,
        parent,
        NewResponse(
            conversation_id="",
            message=words,
            sender="model",
            parent_response_id=None,
            model_name="offline",
            sampling=SamplingRecord(temperature=0.7, top_p=0.95, max_tokens=64, seed=index),
            token_count=len(tokens),
            time_to_first_token_seconds=0.05,
            total_time_seconds=0.5,
            finish_reason="stop",
            tokens=tokens,
        ),
    )


def wide(n: int) -> list[ImportItem]:
    """One human message with `n` model replies."""
    return [_human("q", None, "A question?"), *(_model(f"m{i}", "q", i) for i in range(n))]


def chain(
    items: list[ImportItem], parent: str | None, length: int, prefix: str, manual: bool = False
) -> None:
    """Appends a `length`-deep alternating path under `parent` (a model reply first)."""
    for i in range(length):
        local = f"{prefix}.{i}"
        if i % 2 == 0:
            items.append(_model(local, parent, i, manual))
        else:
            items.append(_human(local, parent, f"Follow-up {i} of {prefix}."))
        parent = local


def mixed(n: int) -> list[ImportItem]:
    """One human message with n/100 replies, each continued to a 100-deep branch."""
    items = [_human("q", None, "A question?")]
    for branch in range(max(1, n // 100)):
        chain(items, "q", 100, f"b{branch}")
    return items


def deep(n: int, manual: bool = False) -> list[ImportItem]:
    """An `n`-deep alternating path (a human message first); `manual`: written replies."""
    items = [_human("q", None, "A question?")]
    chain(items, "q", n - 1, "d", manual)
    return items


async def _store(db: Path, shapes: dict[str, list[ImportItem]]) -> dict[str, str]:
    """Writes each shape as a conversation of the local user; their ids by shape."""
    ids = {}
    async with SqliteStore(db) as store:
        for name, items in shapes.items():
            record = await store.import_conversation(LOCAL_USER, name, False, items)
            ids[name] = record.conversation_id
    return ids


def _args(conversation_id: str, fmt: str, every: bool) -> argparse.Namespace:
    """What `grove export CONV --format FMT [--all]` parses to."""
    return argparse.Namespace(
        conv=conversation_id, format=fmt, all=every, path=False, leaf=None, output=None
    )


def _process_cpu(pid: int) -> float:
    """CPU seconds process `pid` has used (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timing:
    """Median wall time of an export and the CPU its client and server spent then."""

    wall: float
    client_cpu: float
    server_cpu: float

    @property
    def cpu(self) -> float:
        """Client and server CPU together: the work done, whoever else uses the cores."""
        return self.client_cpu + self.server_cpu

    def text(self) -> str:
        return (
            f"{self.wall:.3f} s (CPU: client {self.client_cpu:.2f} s, "
            f"server {self.server_cpu:.2f} s)"
        )


async def _time_export(
    client: Client, server_pid: int, args: argparse.Namespace, runs: int
) -> Timing:
    """Median of `cmd_export` (what `grove export` runs) over `runs` runs.

    CPU times are less disturbed than wall time by other jobs on a busy machine. Each run
    starts from a collected heap, as a `grove export` process does: otherwise the earlier
    runs' conversations (reference cycles: nodes know their parents and children) are
    left for a full collection that lands inside some later run (+0.35 to 0.45 s of client
    CPU once in about five runs), which measured the benchmark's own leftovers.
    """
    timings = []
    for _ in range(runs):
        gc.collect()
        server_start = _process_cpu(server_pid)
        cpu_start = time.process_time()
        start = time.perf_counter()
        outcome = await cmd_export(client.grok, args)
        wall = time.perf_counter() - start
        timings.append(
            Timing(
                wall,
                time.process_time() - cpu_start,
                _process_cpu(server_pid) - server_start,
            )
        )
        assert outcome.stdout, "the export wrote nothing"
    return sorted(timings, key=lambda t: t.wall)[len(timings) // 2]


def _cli_seconds(address: str, *words: str) -> float:
    """Wall time of one whole `grove --server ADDRESS …` process (output discarded)."""
    command = [sys.executable, "-c", "from grove_explorer.app.cli import main; main()"]
    start = time.perf_counter()
    subprocess.run([*command, "--server", address, *words], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _seconds_goal(name: str, timing: Timing) -> Goal:
    return Goal(name, timing.text(), f"< {GOAL_SECONDS:.0f} s", timing.wall < GOAL_SECONDS)


async def run(quick: bool) -> list[Goal]:
    """Builds the fixtures, starts a server on them and times each export."""
    small, large = (1_000, 2_000) if quick else (5_000, 10_000)
    depth = 500 if quick else 5_000
    runs = 1 if quick else 3
    shapes = {
        f"wide {small}": wide(small),
        f"wide {large}": wide(large),
        f"mixed {large}": mixed(large),
        f"deep {depth}": deep(depth, manual=True),
        f"deep {depth} sampled": deep(depth),
    }
    goals: list[Goal] = []
    with tempfile.TemporaryDirectory(prefix="grove-bench-export-") as folder:
        db = Path(folder) / "grove.db"
        start = time.perf_counter()
        ids = await _store(db, shapes)
        print(f"fixtures written in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        async with ServerProcess(db) as server, Client(api_host=server.address) as client:
            pid = server.pid

            async def measure(shape: str, fmt: str, every: bool) -> Timing:
                return await _time_export(client, pid, _args(ids[shape], fmt, every), runs)

            for fmt, label in (("md", "md --all"), ("dot", "dot")):
                small_t = await measure(f"wide {small}", fmt, True)
                large_t = await measure(f"wide {large}", fmt, True)
                goals.append(_seconds_goal(f"export {label}, {large:,} siblings", large_t))
                wall_ratio = large_t.wall / small_t.wall
                cpu_ratio = large_t.cpu / max(small_t.cpu, 1e-9)
                goals.append(
                    Goal(
                        f"export {label}: CPU at {large:,} ÷ at {small:,} siblings",
                        f"{cpu_ratio:.2f}x (wall {wall_ratio:.2f}x)",
                        f"≤ {LINEAR_RATIO} (linear ≈ 2)",
                        cpu_ratio <= LINEAR_RATIO,
                    )
                )
                mixed_t = await measure(f"mixed {large}", fmt, True)
                goals.append(
                    _seconds_goal(
                        f"export {label}, {large:,} wide+deep ({large // 100} branches 100 deep)",
                        mixed_t,
                    )
                )
            goals.append(
                _seconds_goal(
                    f"export json, {depth:,}-deep path (manual replies, as AddModelResponse)",
                    await measure(f"deep {depth}", "json", False),
                )
            )
            sampled = await measure(f"deep {depth} sampled", "json", False)
            goals.append(
                _seconds_goal(
                    f"export json, {depth:,}-deep path (sampled replies, 25 tokens each)",
                    sampled,
                )
            )
            started = await asyncio.to_thread(_cli_seconds, server.address, "ls")
            cli = await asyncio.to_thread(
                _cli_seconds,
                server.address,
                *("export", ids[f"wide {large}"], "--all", "-o", "/dev/null"),
            )
            goals.append(
                Goal(
                    f"whole `grove export --all` process, {large:,} siblings",
                    f"{cli:.3f} s",
                    f"`grove ls` process: {started:.3f} s; beyond it < {GOAL_SECONDS:.0f} s",
                    cli - started < GOAL_SECONDS,
                )
            )
    return goals
