"""`grove db …`: maintenance of a server's database; today `grove db migrate-to URL`.

`migrate-to` copies the SQLite database (`--db`, else `$GROVE_DB`, else the default file)
into an empty PostgreSQL database and prints the rows per table it verified; the work is
server/store/migrate_to.py. Exit codes: 0 copied, 1 refused or failed (nothing kept),
2 usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grove_explorer.server.config import default_db_path
from grove_explorer.server.database_location import (
    PostgresUrl,
    database_argument,
    database_from_environment,
)


def add_db_arguments(parser: argparse.ArgumentParser) -> None:
    """Declares the `db` actions on `parser`."""
    commands = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    migrate = commands.add_parser(
        "migrate-to",
        help="copy the SQLite database into an empty PostgreSQL database",
        description="Copy every conversation, response, token, annotation, place, "
        "judgement, vote, checkpoint, user and API key of the SQLite database into an "
        "empty PostgreSQL database, in one transaction, and verify the counts per table. "
        "Keys keep working. Then serve it with: grove serve --db URL",
    )
    migrate.add_argument(
        "url",
        type=database_argument,
        metavar="postgresql://USER@HOST:PORT/DBNAME",
        help="the empty target database",
    )
    migrate.add_argument(
        "--db",
        dest="db_source",
        type=Path,
        metavar="FILE",
        default=argparse.SUPPRESS,
        help=f"the SQLite file to copy (default: $GROVE_DB, else {default_db_path()})",
    )


def _source(args: argparse.Namespace) -> Path:
    """`--db` of the action, else `grove --db`, else $GROVE_DB, else the default file."""
    given = getattr(args, "db_source", None) or getattr(args, "db", None)
    if given is None:
        given = database_from_environment() or default_db_path()
    if isinstance(given, PostgresUrl):
        raise SystemExit("grove db migrate-to: the source (--db / $GROVE_DB) must be a SQLite file")
    return Path(given)


def run_db(args: argparse.Namespace) -> int:
    """Runs the parsed `db` command; 1 with a sentence on stderr when it fails."""
    # Here, not at the top: `grove` builds this command's parser for every subcommand's
    # --help, and the store package loads both stores.
    import asyncio
    import sqlite3

    from grove_explorer.server.store.migrate_to import migrate_to_postgres
    from grove_explorer.server.store.migrations import SchemaVersionError
    from grove_explorer.server.store.protocol import StoreError

    target = args.url
    if not isinstance(target, PostgresUrl):
        print(
            f"grove db migrate-to: {target} is not a PostgreSQL URL "
            "(postgresql://USER@HOST:PORT/DBNAME).",
            file=sys.stderr,
        )
        return 2
    try:
        source = _source(args)
    except SystemExit as error:
        print(error, file=sys.stderr)
        return 2
    try:
        report = asyncio.run(
            migrate_to_postgres(source, target, progress=lambda text: print(text, file=sys.stderr))
        )
    except (StoreError, SchemaVersionError) as error:
        print(f"grove db migrate-to: {error}", file=sys.stderr)
        return 1
    except (OSError, sqlite3.Error) as error:
        print(f"grove db migrate-to: cannot read {source}: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # psycopg's own errors: the copy was rolled back
        print(
            f"grove db migrate-to: the copy failed and was rolled back (nothing kept in "
            f"{target}): {str(error).strip().splitlines()[0] if str(error).strip() else error!r}",
            file=sys.stderr,
        )
        return 1
    print(f"Copied {source} into {target}; rows per table, verified:")
    print(report.table())
    print(f"Serve it with: grove serve --db {target}")
    return 0
