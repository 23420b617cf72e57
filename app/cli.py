"""The `grove` command: the explorer by default, plus subcommands.

`grove serve` runs a server, `grove keys` manages API keys, and the headless commands for
scripts (`ls`, `show`, `search`, `sample`, `select`, `export`, `import`) live in `app.headless`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from grove_explorer.app.config import ConfigError, load_config
from grove_explorer.server.database_location import database_argument


class _KeepLineBreaks(argparse.HelpFormatter):
    """Wraps each line of a text on its own, so the epilog keeps one fact per line."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        fill = super()._fill_text
        return "\n".join(fill(line, width, indent) for line in text.splitlines())


def database_location() -> str:
    """Where the embedded server keeps its database, and what chose it (for --help)."""
    from grove_explorer.server.config import default_db_path

    default = default_db_path()
    if os.environ.get("GROVE_DB"):
        return f"{os.environ['GROVE_DB']} (from $GROVE_DB; the default is {default})"
    try:
        chosen = load_config().db
    except ConfigError:
        chosen = None
    if chosen is not None:
        return f"{chosen} (db in the config file; the default is {default})"
    return f"{default} (--db, $GROVE_DB or db in the config file choose another)"


class _GroveParser(argparse.ArgumentParser):
    """The `grove` parser; its epilog (where the database is) is found only for --help.

    Finding it reads the config file and the environment: work every `grove` would
    otherwise do before its first frame.
    """

    lazy_epilog = False
    """Set on the top-level parser (subcommands' parsers are of this class too)."""

    def format_help(self) -> str:
        if self.lazy_epilog and self.epilog is None:
            from grove_explorer.app.config import default_config_path

            self.epilog = (
                f"Database:    {database_location()}\n"
                f"Config file: {default_config_path()} (see README for [keymap])"
            )
        return super().format_help()


def explorer_parser() -> argparse.ArgumentParser:
    """The parser of `grove` without a subcommand: the explorer's flags only.

    `main` parses with it first and builds the whole parser (`build_parser`, which imports
    every subcommand's module) only for a subcommand, --help or an unknown flag.
    """
    from grove_explorer.server.config import default_db_path

    db_default = default_db_path()
    parser = _GroveParser(
        prog="grove",
        formatter_class=_KeepLineBreaks,
        # No abbreviations: `--mode` of a subcommand would else be refused as an ambiguous
        # prefix of --model / --model-path before the subcommand's parser sees it.
        allow_abbrev=False,
        description=(
            "Explore branching LLM conversations as trees. With no --server, Grove starts "
            "a local server in-process (the offline demo model plus any backends of your config "
            "file or of --sampler openai; SQLite in your data dir). The subcommands ls, show, "
            "search, sample, judge, fuse, stats, replay, sweep, arena, share, select, export and "
            "import work without the UI, for scripts (exit codes: 0 ok, 1 failure, 2 usage)."
        ),
    )
    parser.add_argument(
        "--server",
        metavar="HOST:PORT",
        help="use a running Grove server, or several replicas (a:1,b:2: round robin, "
        "retries, resumed streams); default: $XAI_API_HOST, else the embedded one",
    )
    parser.add_argument(
        "--db",
        type=database_argument,
        metavar="FILE|URL",
        help=f"SQLite file or postgresql:// URL of the embedded server (default: {db_default})",
    )
    parser.add_argument(
        "--token-delay-ms",
        type=float,
        help="pace of the embedded offline model in ms per token (default: 12)",
    )
    parser.add_argument("--config", type=Path, help="config file to read instead of the default")
    from grove_explorer.server.cli import add_database_arguments, add_model_arguments

    add_database_arguments(parser)
    add_model_arguments(parser)
    parser.lazy_epilog = True
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The `grove` argument parser (explorer flags plus its subcommands)."""
    parser = explorer_parser()
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the Grove Chat server in the foreground",
        description="Run the Grove Chat server (gRPC, SQLite; the offline demo model plus "
        "OpenAI-compatible backends).",
    )
    from grove_explorer.server.cli import add_serve_arguments

    add_serve_arguments(serve)
    keys = commands.add_parser(
        "keys",
        help="create, list and revoke the API keys of a server's database",
        description="Manage users and API keys of a Grove server's database. Once a key "
        "exists, every call needs one (XAI_API_KEY=<key> grove --server HOST:PORT).",
    )
    from grove_explorer.server.keys_arguments import add_keys_arguments

    add_keys_arguments(keys)
    database = commands.add_parser(
        "db",
        help="database maintenance: migrate-to postgresql://… copies SQLite into PostgreSQL",
        description="Maintain a Grove server's database.",
    )
    from grove_explorer.server.db_command import add_db_arguments

    add_db_arguments(database)
    from grove_explorer.app.headless import add_headless_commands

    add_headless_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `grove` console script."""
    argv = sys.argv[1:] if argv is None else argv
    # Help goes to the full parser at once: the explorer's own parser would answer
    # `grove keys list --help` with the explorer's help before the subcommand saw it.
    if any(arg in ("-h", "--help") for arg in argv):
        args = build_parser().parse_args(argv)
    else:
        args, rest = explorer_parser().parse_known_args(argv)
        if rest:
            args = build_parser().parse_args(argv)
        else:
            args.command = None
    if args.command == "serve":
        from grove_explorer.server.cli import run_serve

        return run_serve(args)
    if args.command == "keys":
        from grove_explorer.server.keys import run_keys

        return run_keys(args)
    if args.command == "db":
        from grove_explorer.server.db_command import run_db

        return run_db(args)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"grove: {error}", file=sys.stderr)
        return 2
    from grove_explorer.server.cli import apply_model_flags

    try:
        models = apply_model_flags(config.models, args)
    except SystemExit as error:
        print(f"grove: {error}", file=sys.stderr)
        return 2
    if args.server and (args.sampler or args.default_model):
        print("grove: model flags configure the embedded server; drop --server", file=sys.stderr)
        return 2
    overrides: dict[str, Any] = {
        "models": models,
        "server": args.server or config.server,
        "db": args.db or config.db,
        "read_only": args.read_only,
        "allow_damaged_db": args.allow_damaged_db,
        "token_delay_ms": config.token_delay_ms
        if args.token_delay_ms is None
        else args.token_delay_ms,
    }
    if overrides["server"]:
        from grove_explorer.client.addresses import check_addresses

        try:  # "a:1,b:2": several replicas, balanced by the client (client/addresses.py)
            check_addresses(overrides["server"])
        except ValueError as error:
            print(f"grove: {error}", file=sys.stderr)
            return 2
    from dataclasses import replace

    if args.command is not None:  # a headless command (serve and keys returned above)
        from grove_explorer.app.headless import HEADLESS_COMMANDS, run_headless

        assert args.command in HEADLESS_COMMANDS, args.command
        return run_headless(args, replace(config, **overrides))
    return run_app(replace(config, **overrides))


def run_app(config: Any) -> int:
    """Runs the explorer; a database it cannot use is refused before the UI starts."""
    if not config.server:
        from grove_explorer.app.embedded import DATABASE_ERRORS, check_database

        try:
            check_database(
                config.db,
                read_only=config.read_only,
                allow_damaged_db=config.allow_damaged_db,
            )
        except DATABASE_ERRORS as error:
            print(f"grove: {error}", file=sys.stderr)
            return 1
    # Importing and building the UI allocates a lot: the app's collector policy from here
    # on, rather than hundreds of young collections before the first frame.
    from grove_explorer.app.memory import tune_collector

    tune_collector()
    from grove_explorer.app.grove_app import GroveApp

    app = GroveApp(config)
    app.run()
    if app.startup_error is not None:
        print(f"grove: {app.startup_error}", file=sys.stderr)
        return 1
    return app.return_code or 0
