"""Running one headless command: connect (or start the embedded server), run, print, exit code."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from grove_explorer.app.config import AppConfig
from grove_explorer.app.headless.arena import cmd_arena
from grove_explorer.app.headless.arguments import check_usage
from grove_explorer.app.headless.common import (
    CommandError,
    Outcome,
    UsageError,
    sentence,
)
from grove_explorer.app.headless.fusing import cmd_fuse
from grove_explorer.app.headless.judging import cmd_judge
from grove_explorer.app.headless.placing import cmd_select
from grove_explorer.app.headless.reading import cmd_ls, cmd_search, cmd_show
from grove_explorer.app.headless.replaying import cmd_replay
from grove_explorer.app.headless.sampling import cmd_sample
from grove_explorer.app.headless.sharing import cmd_share
from grove_explorer.app.headless.stats import cmd_stats
from grove_explorer.app.headless.sweeping import cmd_sweep
from grove_explorer.app.headless.transfer import cmd_export, cmd_import, prepare_import
from grove_explorer.app.safe_text import clean
from grove_explorer.client import (
    AsyncGrok,
    Client,
    GroveError,
)

COMMANDS: dict[str, Callable[[AsyncGrok, argparse.Namespace], Coroutine[Any, Any, Outcome]]] = {
    "ls": cmd_ls,
    "show": cmd_show,
    "search": cmd_search,
    "sample": cmd_sample,
    "judge": cmd_judge,
    "select": cmd_select,
    "export": cmd_export,
    "import": cmd_import,
    "stats": cmd_stats,
    "fuse": cmd_fuse,
    "sweep": cmd_sweep,
    "replay": cmd_replay,
    "arena": cmd_arena,
    "share": cmd_share,
}


def run_headless(args: argparse.Namespace, config: AppConfig) -> int:
    """Runs one headless command and returns its exit code."""
    try:
        check_usage(args)
    except UsageError as error:
        print(f"grove {args.command}: error: {error}", file=sys.stderr)
        return 2
    command = COMMANDS[args.command]
    try:
        if args.command == "import":
            prepare_import(args)
        outcome = asyncio.run(_with_grok(config, lambda grok: command(grok, args)))
    except CommandError as error:
        print(f"grove: {sentence(str(error))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("grove: interrupted.", file=sys.stderr)
        return 130
    try:
        emit(outcome)
    except CommandError as error:
        print(f"grove: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`grove ls | head -1`): nothing more to say.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141
    return outcome.code


def emit(outcome: Outcome) -> None:
    """Writes the outcome; document formats are cleaned only when shown on a terminal."""
    text = outcome.stdout
    if outcome.output_file is not None:
        try:
            outcome.output_file.write_text(text, encoding="utf-8")
        except OSError as error:
            raise CommandError(
                f"cannot write {outcome.output_file}: {error.strerror or error}."
            ) from None
    else:
        if outcome.raw_text and sys.stdout.isatty():
            text = clean(text)
        sys.stdout.write(text)
        sys.stdout.flush()
    for line in outcome.errors:
        print(f"grove: {line}", file=sys.stderr)


async def _with_grok(
    config: AppConfig, work: Callable[[AsyncGrok], Coroutine[Any, Any, Outcome]]
) -> Outcome:
    """Runs `work` against the configured server, turning SDK errors into sentences."""
    try:
        async with _connect(config) as grok:
            return await work(grok)
    except GroveError as error:  # the server's own sentence (or "cannot reach …")
        raise CommandError(sentence(error.message)) from None


@contextlib.asynccontextmanager
async def _connect(config: AppConfig) -> AsyncIterator[AsyncGrok]:
    """The configured server, or an embedded one on the app's database for this command."""
    if config.server:
        try:
            client = Client(api_key=config.api_key, api_host=config.server)
        except ValueError as error:
            raise CommandError(str(error)) from None
        try:
            yield client.grok
        finally:
            await client.close()
        return
    from grove_explorer.app.embedded import DATABASE_ERRORS, start_embedded_server

    try:
        server = await start_embedded_server(
            config.db,
            token_delay_ms=0,
            models=config.models,
            read_only=config.read_only,
            allow_damaged_db=config.allow_damaged_db,
        )
    except DATABASE_ERRORS as error:  # the sentence says what to do; the file is untouched
        raise CommandError(str(error)) from None
    except Exception as error:  # StartupError, OSError, sqlite3 errors: all say why
        where = f" on {config.db}" if config.db else ""
        raise CommandError(f"cannot start the embedded server{where}: {error}") from None
    try:
        client = Client(api_key=config.api_key, api_host=server.address)
        try:
            yield client.grok
        finally:
            await client.close()
    finally:
        await server.stop()
