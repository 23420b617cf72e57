"""Running one headless command: connect (or start the embedded server), run, print, exit code."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from grove_explorer.app.headless.arguments import check_usage
from grove_explorer.app.headless.common import (
    CommandError,
    Outcome,
    UsageError,
    sentence,
)
from grove_explorer.app.safe_text import clean

if TYPE_CHECKING:
    from grove_explorer.app.config import AppConfig
    from grove_explorer.client import AsyncGrok

Command = Callable[["AsyncGrok", argparse.Namespace], Coroutine[Any, Any, Outcome]]
"""A headless command's work: it talks to the server through the SDK and says the outcome."""


def command_of(name: str) -> Command:
    """The run function of command `name`, importing its module only now.

    Each command's module loads the SDK parts it needs (and some the app's widgets): a
    table of every command's function would import all of them for any one (issue 13:
    start-up; `grove ls --help` paid for `grove stats`' spread analysis).
    """
    if name in ("ls", "show", "search"):
        from grove_explorer.app.headless import reading

        return {"ls": reading.cmd_ls, "show": reading.cmd_show, "search": reading.cmd_search}[name]
    if name == "export":
        from grove_explorer.app.headless.transfer import cmd_export

        return cmd_export
    if name == "import":  # apart: an import loads no export writer (nor the SDK's models)
        from grove_explorer.app.headless.importing import cmd_import

        return cmd_import
    if name == "sample":
        from grove_explorer.app.headless.sampling import cmd_sample

        return cmd_sample
    if name == "judge":
        from grove_explorer.app.headless.judging import cmd_judge

        return cmd_judge
    if name == "select":
        from grove_explorer.app.headless.placing import cmd_select

        return cmd_select
    if name == "stats":
        from grove_explorer.app.headless.stats import cmd_stats

        return cmd_stats
    if name == "fuse":
        from grove_explorer.app.headless.fusing import cmd_fuse

        return cmd_fuse
    if name == "sweep":
        from grove_explorer.app.headless.sweeping import cmd_sweep

        return cmd_sweep
    if name == "replay":
        from grove_explorer.app.headless.replaying import cmd_replay

        return cmd_replay
    if name == "arena":
        from grove_explorer.app.headless.arena import cmd_arena

        return cmd_arena
    if name == "share":
        from grove_explorer.app.headless.sharing import cmd_share

        return cmd_share
    raise KeyError(name)


def run_headless(args: argparse.Namespace, config: AppConfig) -> int:
    """Runs one headless command and returns its exit code."""
    try:
        check_usage(args)
    except UsageError as error:
        print(f"grove {args.command}: error: {error}", file=sys.stderr)
        return 2
    command = command_of(args.command)
    import asyncio  # here, as the SDK: `grove COMMAND --help` imports this module too

    try:
        if args.command == "import":
            from grove_explorer.app.headless.importing import prepare_import

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
    from grove_explorer.client import GroveError

    try:
        async with _connect(config) as grok:
            return await work(grok)
    except GroveError as error:  # the server's own sentence (or "cannot reach …")
        raise CommandError(sentence(error.message)) from None


@contextlib.asynccontextmanager
async def _connect(config: AppConfig) -> AsyncIterator[AsyncGrok]:
    """The configured server, or an embedded one on the app's database for this command."""
    from grove_explorer.client import Client

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
