"""Part `importing` of bench.store: `grove import` of a long chain, whole and by phase.

Usage: `python -m bench.store --part importing [--quick] [--db postgresql | --db URL]`.

What it measures (issue 13: "import of a 60,000-response chain … now 17.8 s, goal < 3 s"):

- The file: a Grove JSON export document (`grove export --format json`'s format, written
  with `client.export.document.dumps`) of one chain of N responses (60,000; 2,000 with
  `--quick`): human messages and sampled model replies alternating, every reply with
  its model name, sampling parameters, token count, times and finish reason, and every
  tenth reply with its tokens (text, logprob, two alternatives each) as an export with
  fetched tokens carries them; a few annotations. Messages are a sentence or two.
- The server runs as a subprocess (`ServerProcess`, temporary SQLite file, defaults), or
  on PostgreSQL with `--db` (a fresh database, bench/store/database.py): then the
  cluster's CPU is printed too, and the time PostgreSQL spent in the search index's
  function (`grove_search_document`, pg_stat_user_functions) during the timed import.
- Whole command: `grove import FILE --server ADDR` (this environment's `grove` script)
  as a user runs it, wall time from spawn to exit, process start included, after one
  untimed import of a small file (bytecode caches written, as after any first run; the
  environment's PYTHONDONTWRITEBYTECODE is dropped for the command, as bench.start does). A no-op
  (`grove import --help`) is timed too and printed beside it, so the share of interpreter
  start-up is visible. Goal: < 3 s.
- CPU seconds of that command (user + system) and of the server meanwhile (from /proc),
  printed beside it: on a busy machine they move far less than the wall time.
- Phases, in this process: reading the document (`orjson.loads` of its bytes, as `grove
  import` reads it), checking it a chunk at a time while the server stores the chunks
  before (`import_chunks` through ImportConversationStream, keeping the file's times, as
  `grove import` does), the same without keeping the times (`--no-keep-times`: the part
  of an import that keeping them costs), and loading the new conversation
  (`get_conversation`, which `grove import` does not do).
- Afterwards both imported conversations are compared with the file: same number of
  responses, same messages in the same order, each with the parent it had (by position).

`--quick` imports 2,000 responses against the same 3 s goal (a smoke run: CI ignores its
figures). Process start and the load of the machine count in the whole command's time:
the phases show where the rest goes.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from bench.goals import Goal
from bench.store.database import PostgresCpu, bench_database
from grove_explorer.client import Client
from grove_explorer.client.export.importing import import_chunks
from grove_explorer.server.launcher import ServerProcess

FULL_SIZE = 60_000
QUICK_SIZE = 2_000
GOAL_SECONDS = 3.0
TOKENS_EVERY = 10
"""Every tenth model reply carries its tokens, as a file exported with tokens would."""

_HUMAN = "How do the paths of garden number {i} fork, and where do they meet again?"
_WORDS = ["The", " paths", " fork", " at", " every", " bench", ",", " and", " meet", "."]


def chain_document(size: int) -> dict[str, Any]:
    """An export document holding one `size`-long chain (see the module docstring)."""
    responses: list[dict[str, Any]] = []
    parent: str | None = None
    for i in range(size):
        rid = f"{i:032x}"
        minute, second = divmod(i, 60)
        stamp = f"2026-01-01T{minute // 60 % 24:02d}:{minute % 60:02d}:{second:02d}.000000Z"
        human = i % 2 == 0
        message = _HUMAN.format(i=i) if human else "".join(_WORDS) + f" Reply {i}."
        tokens = None
        if not human and (i // 2) % TOKENS_EVERY == 0:
            texts = [*_WORDS, f" Reply {i}."]
            tokens = [
                {"text": t, "logprob": -0.25, "top": [[t, -0.25], [" other", -2.5]]} for t in texts
            ]
        responses.append(
            {
                "response_id": rid,
                "parent_response_id": parent,
                "sender": "human" if human else "model",
                "message": message,
                "create_time": stamp,
                "manual": False,
                "partial": False,
                "shared": False,
                "query": "",
                "query_type": "",
                "model_name": "" if human else "grove-offline",
                "sampling_params": None
                if human
                else {"temperature": 0.7, "top_p": 0.95, "max_tokens": 256, "seed": i},
                "token_count": 0 if human else 11,
                "time_to_first_token_seconds": 0.0 if human else 0.01,
                "total_time_seconds": 0.0 if human else 0.2,
                "prefix_length": 0,
                "start_time": stamp,
                "finish_reason": "" if human else "stop",
                "annotation": {"bookmarked": True, "tags": ["kept"], "rating": 1, "note": ""}
                if i % 997 == 0
                else None,
                "tokens": None if human else tokens,
            }
        )
        parent = rid
    return {
        "format": "grove.conversation",
        "version": 1,
        "conversation_id": "c" * 32,
        "title": "a long chain",
        "starred": False,
        "create_time": "2026-01-01T00:00:00.000000Z",
        "update_time": "2026-01-01T00:00:00.000000Z",
        "response_count": size,
        "responses": responses,
    }


def _process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) process `pid` has used so far; None without /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    """CPU seconds used by this process's finished children (`grove` commands run here)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _command_environment() -> dict[str, str]:
    """This process's environment without PYTHONDONTWRITEBYTECODE.

    Set in some shells and CI images (this one's too), it makes every launch compile all
    of Grove's modules again: `grove` as installed (pip compiles them) or once run writes
    its bytecode caches, so the timed command runs after one untimed import (`_warm`).
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


async def _command_seconds(args: list[str]) -> tuple[float, str]:
    """Runs `grove ARGS` (this environment's); returns its wall time and its stdout."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "grove"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_command_environment(),
    )
    out, err = await process.communicate()
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"grove {' '.join(args)} failed: {err.decode(errors='replace')}")
    return elapsed, out.decode()


def _check_same_chain(document: dict[str, Any], responses: list[Any]) -> None:
    """The import kept every response, in order, each under the parent it had, at its time."""
    expected = document["responses"]
    if len(responses) != len(expected):
        raise RuntimeError(f"imported {len(responses)} responses, the file has {len(expected)}")
    position = {r.response_id: i for i, r in enumerate(responses)}
    for i, (got, want) in enumerate(zip(responses, expected, strict=True)):
        parent = position.get(got.parent_response_id) if got.parent_response_id else None
        if got.message != want["message"] or parent != (i - 1 if i else None):
            raise RuntimeError(f"response {i} differs from the file after import")
        stored = got.node.create_time
        if stored is None or stored != datetime.fromisoformat(want["create_time"]):
            raise RuntimeError(f"response {i} lost its time: {stored} for {want['create_time']}")


def _database_cpu(postgres: PostgresCpu | None) -> tuple[float | None, float | None]:
    """PostgreSQL's CPU seconds so far: the cluster's, its sessions on the run's database
    (None, None on SQLite or a remote server)."""
    return (None, None) if postgres is None else (postgres.cpu(), postgres.sessions_cpu())


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f} s"


def _database_goals(command: _Command, index: float | None) -> list[Goal]:
    """Figures of PostgreSQL's own work (none on SQLite, `index` None): its CPU during the
    timed command, and its time in the search index's function per import of the chain."""
    if index is None:
        return []
    return [
        Goal(
            "  CPU: PostgreSQL sessions of the server / every process of the cluster",
            f"{_seconds(command.sessions_cpu)} / {_seconds(command.database_cpu)}",
            "",
            None,
        ),
        Goal(
            "  PostgreSQL in grove_search_document per import (pg_stat_user_functions)",
            f"{index:.2f} s",
            "",
            None,
        ),
    ]


@dataclass(slots=True)
class _Command:
    """The timed `grove import` command: its wall time, CPU, and the id it printed."""

    whole: float
    start_only: float
    client_cpu: float
    server_cpu: float | None
    database_cpu: float | None
    sessions_cpu: float | None
    imported_id: str


def _spent(before: float | None, after: float | None) -> float | None:
    """`after - before`, None when either was not known."""
    return None if before is None or after is None else after - before


async def _time_command(
    server: ServerProcess, path: Path, small: Path, postgres: PostgresCpu | None
) -> _Command:
    """`grove import PATH` against `server`, after an untimed import of `small`."""
    # Untimed: the modules `grove import` loads get their bytecode caches, and the
    # server its first import, as on any machine where grove ran before.
    await _command_seconds(["import", str(small), "--server", server.address])
    start_only, _ = await _command_seconds(["import", "--help"])
    server_before, client_before = _process_cpu(server.pid), _children_cpu()
    (database_before, sessions_before) = await asyncio.to_thread(_database_cpu, postgres)
    whole, out = await _command_seconds(["import", str(path), "--server", server.address])
    server_after, client_cpu = _process_cpu(server.pid), _children_cpu() - client_before
    (database_after, sessions_after) = await asyncio.to_thread(_database_cpu, postgres)
    return _Command(
        whole,
        start_only,
        client_cpu,
        _spent(server_before, server_after),
        _spent(database_before, database_after),
        _spent(sessions_before, sessions_after),
        out.strip(),
    )


async def run(quick: bool, db: str | None = None) -> list[Goal]:
    """Times `grove import` of a chain and its phases; `quick` imports 2,000 responses.

    `db`: None for a temporary SQLite file, else PostgreSQL (`--db`, bench/store/database.py).
    """
    size = QUICK_SIZE if quick else FULL_SIZE
    document = chain_document(size)
    with tempfile.TemporaryDirectory(prefix="grove-bench-import-") as tmp:
        path = Path(tmp) / "chain.json"
        path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
        megabytes = path.stat().st_size / 1e6
        small = Path(tmp) / "small.json"
        small.write_text(json.dumps(chain_document(10)), encoding="utf-8")
        async with bench_database(db, Path(tmp)) as (location, postgres):
            async with ServerProcess(location) as server:
                command = await _time_command(server, path, small, postgres)
                async with Client(api_host=server.address) as client:
                    began = time.perf_counter()
                    data = orjson.loads(path.read_bytes())
                    parsed = time.perf_counter()
                    created = await client.grok.import_conversation_chunks(
                        import_chunks(data, summary_only=True, keep_times=True)
                    )
                    stored = time.perf_counter()
                    conversation = await client.grok.get_conversation(created.conversation_id)
                    loaded = time.perf_counter()
                    _check_same_chain(document, conversation.responses)
                    first = await client.grok.get_conversation(command.imported_id)
                    _check_same_chain(document, first.responses)
                    # The same without keeping the file's times (`--no-keep-times`): the
                    # part of the import that keeping them costs, shown beside it.
                    plain_began = time.perf_counter()
                    await client.grok.import_conversation_chunks(
                        import_chunks(data, summary_only=True, keep_times=False)
                    )
                    plain = time.perf_counter() - plain_began
            # Read once the server's backends have exited: a backend hands its function
            # statistics over when idle, up to ten seconds later, or when it exits.
            index = None
            if postgres is not None:  # the chain was imported twice (command, in process)
                functions = await asyncio.to_thread(postgres.function_seconds)
                index = functions.get("grove_search_document", 0.0) / 2
    store = "SQLite" if postgres is None else "PostgreSQL"
    server_cpu = "?" if command.server_cpu is None else f"{command.server_cpu:.2f} s"
    return [
        Goal(
            f"grove import of a {size:,}-response chain ({megabytes:.0f} MB, {store})",
            f"{command.whole:.2f} s",
            f"< {GOAL_SECONDS:g} s",
            command.whole < GOAL_SECONDS,
        ),
        Goal(
            "  of which process start (grove import --help)",
            f"{command.start_only:.2f} s",
            "",
            None,
        ),
        Goal(
            "  CPU: grove import / server (less noisy when busy)",
            f"{command.client_cpu:.2f} s / {server_cpu}",
            "",
            None,
        ),
        *_database_goals(command, index),
        Goal("  read the file (in process)", f"{parsed - began:.2f} s", "", None),
        Goal(
            "  check, send and store it (ImportConversationStream)",
            f"{stored - parsed:.2f} s",
            "",
            None,
        ),
        Goal(
            "  the same without keeping the file's times (--no-keep-times)",
            f"{plain:.2f} s",
            "",
            None,
        ),
        Goal("  get_conversation of the import", f"{loaded - stored:.2f} s", "", None),
    ]
