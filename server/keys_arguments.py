"""The arguments of `grove keys` (create, list, revoke), apart from the commands' work.

`grove` declares every subcommand's parser for any subcommand's --help (and for a
subcommand it does not know yet), so this module imports no store: `server.keys` runs the
commands and opens the database (issue 13: start-up).
"""

from __future__ import annotations

import argparse

from grove_explorer.server.config import default_db_path
from grove_explorer.server.database_location import database_argument


def add_keys_arguments(parser: argparse.ArgumentParser) -> None:
    """Declares `create`, `list` and `revoke` (each with `--db`) on `parser`."""
    db_help = (
        "the server's database: a SQLite file or a postgresql:// URL "
        f"(default: $GROVE_DB, else {default_db_path()})"
    )
    # SUPPRESS: an unset --db leaves no attribute, so a subcommand's default cannot hide
    # a --db given before the subcommand name.
    parser.add_argument(
        "--db", dest="keys_db", type=database_argument, default=argparse.SUPPRESS, help=db_help
    )
    commands = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    create = commands.add_parser(
        "create",
        help="create a key for a user and print it once",
        description="Create an API key for USER. The key is printed once; only its hash is "
        "stored. Conversations belong to the key's user.",
    )
    create.add_argument("--user", required=True, metavar="NAME", help="owner of the key")
    create.add_argument("--label", default="", metavar="TEXT", help="a note, e.g. 'laptop'")

    listing = commands.add_parser(
        "list", help="list keys (id, user, label, created, revoked)", description="List keys."
    )
    listing.add_argument("--json", action="store_true", help="print a JSON list")

    revoke = commands.add_parser(
        "revoke",
        help="revoke a key by its id",
        description="Revoke a key: a running server refuses it from its next call.",
    )
    revoke.add_argument("key_id", metavar="KEY_ID", help="the id shown by 'list'")

    for sub in (create, listing, revoke):
        sub.add_argument(
            "--db", dest="keys_db", type=database_argument, default=argparse.SUPPRESS, help=db_help
        )
