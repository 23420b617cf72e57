"""`grove import FILE`: a new conversation from an export, or trees from other tools.

Apart from `grove export` (`transfer.py`) so that an import loads only what reads a file
and sends it: the file's checks (`client.export.importing`), the JSON writer for `--json`
(`client.export.json_format`), the chunked import call; not the export writers, nor the
conversation client and the SDK's pydantic models they read (issue 13: a command's
start-up; tests/app/test_start_lazy.py pins it).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path
from typing import Any

import orjson

from grove_explorer.app.headless.common import CommandError, Outcome
from grove_explorer.app.headless.foreign_import import (
    foreign_requested,
    import_foreign,
    plan_foreign,
)
from grove_explorer.client import AsyncGrok
from grove_explorer.client.export.import_reply import (
    imported_metadata,
    reply_times,
    times_counts,
    times_sentences,
)
from grove_explorer.client.export.importing import import_chunks
from grove_explorer.client.export.json_format import dumps
from grove_explorer.client.foreign import GROVE, detect


def _read_import_file(name: str) -> Any:
    """The JSON of FILE (or stdin), or a CommandError saying why it cannot be used.

    Read with orjson, twice as fast as the standard reader on a long export (the read
    comes before the first chunk is sent, so it is the import's wait). A file it refuses
    is read again by the standard reader, whose sentences (line and column, not UTF-8,
    too deeply nested) and leniency (integers of any size, NaN) stay as they were.
    """
    label = "stdin" if name == "-" else name
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {label}: {error.strerror or error}.") from None
    # A 60,000-response export is ~2 million objects, all kept: the collector's passes over
    # them while they are made find nothing to free (a fifth of the reading's time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _read_json_text(raw, label)
    finally:
        if collecting:
            gc.enable()


def _read_json_text(raw: bytes, label: str) -> Any:
    """The standard reader's JSON of `raw`, or the CommandError that says what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{label} is not UTF-8 text.") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(
            f"{label} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})."
        ) from None
    except RecursionError:
        # Python's JSON reader recurses once per nesting level; an export nests a handful.
        raise CommandError(
            f"{label} nests arrays or objects deeper than Grove reads JSON (about 1,000 levels); a "
            "`grove export --format json` file nests only a few, so this is not one."
        ) from None


def prepare_import(args: argparse.Namespace) -> None:
    """Reads the import file and checks its own fields before any server starts.

    A file that is not JSON, or not an export, costs no server start. Its responses are
    read and checked a chunk at a time while the import runs (`import_chunks`), so the
    server stores the first chunks while the rest is read; a problem found there cancels
    the import, which then stores nothing.
    """
    data = _read_import_file(args.file)
    name = getattr(args, "from_format", "auto")
    if name == "auto":
        try:
            name = detect(data)
        except ValueError as error:
            raise CommandError(f"{_label(args.file)}: {error}") from None
    if name != GROVE:  # a tree from another tool: every conversation checked here
        args.foreign_plan = plan_foreign(data, name, _label(args.file), keep_times=args.keep_times)
        return
    try:
        args.import_chunks = import_chunks(data, summary_only=True, keep_times=args.keep_times)
    except ValueError as error:
        raise CommandError(f"{_label(args.file)}: {error}") from None


def _label(name: str) -> str:
    return "stdin" if name == "-" else name


async def cmd_import(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove import FILE`: a new conversation from an export; prints its id.

    The server's reply is read as it came: the new id and metadata need no forest built
    from every imported response (`import_conversation` would load one), nor the responses
    sent back at all (`summary_only`; a server from before the flag sends them, unread).
    """
    if foreign_requested(args):
        return await import_foreign(grok, args.foreign_plan, as_json=args.json)
    # The chunks are made from the ~2 million objects the file was read into, all kept
    # until the end: the collector's passes over them meanwhile free nothing (a tenth of
    # making the chunks), as while reading them (`_read_import_file`).
    collecting = gc.isenabled()
    gc.disable()
    try:
        created = await grok.import_conversation_chunks(args.import_chunks)
    except ValueError as error:  # a response of the file, read while the import ran
        raise CommandError(f"{_label(args.file)}: {error}") from None
    finally:
        if collecting:
            gc.enable()
    times = reply_times(created)
    told = times_sentences(times, asked=args.keep_times)
    errors = [f"{_label(args.file)}: {line}" for line in told]
    if args.json:
        metadata = imported_metadata(created)
        counts = times_counts(times)
        if counts is not None:
            metadata["times"] = counts
        return Outcome(dumps(metadata) + "\n", errors)
    return Outcome(created.conversation_id + "\n", errors)
