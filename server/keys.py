"""Users and API keys: `grove keys create/list/revoke` (or `python -m grove_explorer.server keys`).

A key is `grove_` followed by 32 random bytes in URL-safe base64. It is printed once, when
it is created, and only its SHA-256 digest is stored. Operators name a key by its key id:
the first 12 hex digits of that digest, which identifies the key without revealing it.

The commands open the store `--db` (or `$GROVE_DB`) names, as `grove serve` does: a SQLite
file through `SqliteStore` (WAL mode, busy timeout, one short transaction per change), or
a team server's PostgreSQL database (`postgresql://…`) through `PostgresStore`. Either is
safe while servers run on it; they check every call's key in the database, so a
revocation applies to the very next call of every replica.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sqlite3
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from grove_explorer.server.auth import hash_key
from grove_explorer.server.config import default_db_path
from grove_explorer.server.database_location import DatabaseLocation, database_from_environment
from grove_explorer.server.keys_arguments import add_keys_arguments
from grove_explorer.server.store.migrations import SchemaVersionError
from grove_explorer.server.store.opening import store_at
from grove_explorer.server.store.protocol import DuplicateApiKeyError, StorageFailure
from grove_explorer.server.store.records import ApiKeyRecord
from grove_explorer.server.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from grove_explorer.server.store.postgres import PostgresStore

KEY_PREFIX = "grove_"
KEY_ID_LENGTH = 12
MAX_USER_NAME_CHARS = 64
MAX_LABEL_CHARS = 100


class KeyCommandError(Exception):
    """A key command cannot do what was asked; the message is a sentence for the user."""


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key: the secret (shown once, never stored) and its stored record."""

    key: str
    record: ApiKeyRecord
    first_active_key: bool


def generate_key() -> str:
    """A new random bearer key (256 bits of entropy, recognisable by its prefix)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_id_of(key: str) -> str:
    """The public id of `key`: derived from its digest, so it reveals nothing usable."""
    return hash_key(key)[:KEY_ID_LENGTH]


def validate_user_name(name: str) -> str:
    """Returns the user name if it is usable as an owner id; KeyCommandError otherwise.

    Names become the owner of conversations and appear in `grove keys list`, so they must
    be visible (no control characters, no surrounding blanks) and short.
    """
    if not name or not name.strip():
        raise KeyCommandError("The user name cannot be empty.")
    if name != name.strip():
        raise KeyCommandError("The user name cannot start or end with a blank.")
    if not name.isprintable():
        raise KeyCommandError("The user name must be printable (no control characters).")
    if len(name) > MAX_USER_NAME_CHARS:
        raise KeyCommandError(f"The user name is longer than {MAX_USER_NAME_CHARS} characters.")
    return name


def validate_label(label: str) -> str:
    """Returns the label (may be empty) if printable and short; KeyCommandError otherwise."""
    if not label.isprintable():
        raise KeyCommandError("The label must be printable (no control characters).")
    if len(label) > MAX_LABEL_CHARS:
        raise KeyCommandError(f"The label is longer than {MAX_LABEL_CHARS} characters.")
    return label.strip()


def key_store(db: DatabaseLocation) -> SqliteStore | PostgresStore:
    """The store holding the keys of `db` (not open yet): the one `grove serve --db` opens."""
    return store_at(db)


async def _missing(db: DatabaseLocation) -> bool:
    """True when `db` is a SQLite file that does not exist yet.

    A URL names a database that exists, or fails to connect with its own reason.
    """
    return isinstance(db, Path) and not await asyncio.to_thread(db.exists)


async def create_key(db: DatabaseLocation, user: str, label: str = "") -> CreatedKey:
    """Creates a key for `user` in the database `db` (a SQLite file is created if missing)."""
    user = validate_user_name(user)
    label = validate_label(label)
    async with key_store(db) as store:
        first = not await store.has_active_api_keys()
        for _ in range(3):  # a 48-bit key id collision is astronomically rare; retry anyway
            key = generate_key()
            try:
                record = await store.create_api_key(user, hash_key(key), key_id_of(key), label)
            except DuplicateApiKeyError:
                continue
            return CreatedKey(key=key, record=record, first_active_key=first)
    raise KeyCommandError("Could not generate a unique key; try again.")


async def list_keys(db: DatabaseLocation) -> list[ApiKeyRecord]:
    """Every key of `db`, oldest first; [] when its SQLite file does not exist yet."""
    if await _missing(db):
        return []
    async with key_store(db) as store:
        return await store.list_api_keys()


async def revoke_key(db: DatabaseLocation, key_id: str) -> tuple[ApiKeyRecord, bool, bool]:
    """Revokes the key `key_id` in `db`.

    Returns the key, whether this call revoked it (False: it already was), and whether
    any active key is left. Raises KeyCommandError for an unknown id.
    """
    key_id = key_id.strip()
    if key_id.startswith(KEY_PREFIX):
        raise KeyCommandError(
            "Give the key id shown by 'grove keys list', not the key itself "
            "(and keep the key out of your shell history)."
        )
    if await _missing(db):
        raise KeyCommandError(f"No API key has the id {key_id!r}: {db} does not exist.")
    async with key_store(db) as store:
        before = await store.get_api_key(key_id)
        record = None if before is None else await store.revoke_api_key(key_id)
        if before is None or record is None:
            raise KeyCommandError(
                f"No API key has the id {key_id!r} in {db} (see 'grove keys list')."
            )
        return record, not before.revoked, await store.has_active_api_keys()


# -- command line ------------------------------------------------------------------------


def _db_from_args(args: argparse.Namespace) -> DatabaseLocation:
    """The database `grove serve` would open.

    `--db` of the keys command, else a `--db` given to `grove` itself, else `$GROVE_DB`,
    else the default file.
    """
    chosen: DatabaseLocation | None = getattr(args, "keys_db", None) or getattr(args, "db", None)
    return chosen or database_from_environment() or default_db_path()


def _format_time(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _record_json(record: ApiKeyRecord) -> dict[str, object]:
    return {
        "key_id": record.key_id,
        "user": record.user_id,
        "label": record.label,
        "create_time": record.create_time.isoformat(),
        "revoked": record.revoked,
        "revoke_time": None if record.revoke_time is None else record.revoke_time.isoformat(),
    }


def format_key_table(records: list[ApiKeyRecord]) -> str:
    """The table `grove keys list` prints: one key per line under a header."""
    rows = [("ID", "USER", "LABEL", "CREATED", "REVOKED")]
    rows += [
        (
            r.key_id,
            r.user_id,
            r.label,
            _format_time(r.create_time),
            _format_time(r.revoke_time) if r.revoked else "no",
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _run_create(args: argparse.Namespace, db: DatabaseLocation) -> int:
    created = asyncio.run(create_key(db, args.user, args.label))
    record = created.record
    print(f"Created API key {record.key_id} for user {record.user_id!r} in {db}:")
    print(created.key)
    print(
        "The key is shown only this once (only its hash is stored). "
        "Use it as: XAI_API_KEY=<key> grove --server HOST:PORT"
    )
    if created.first_active_key:
        print(
            "This is the first active key of this database: from now on every call to a "
            "server using it needs a key."
        )
    return 0


def _run_list(args: argparse.Namespace, db: DatabaseLocation) -> int:
    records = asyncio.run(list_keys(db))
    if args.json:
        print(json.dumps([_record_json(r) for r in records], indent=2))
    elif not records:
        print(f"No API keys in {db}: a server using it on 127.0.0.1 accepts every caller.")
    else:
        print(format_key_table(records))
    return 0


def _run_revoke(args: argparse.Namespace, db: DatabaseLocation) -> int:
    record, changed, any_left = asyncio.run(revoke_key(db, args.key_id))
    if not changed:
        print(
            f"Key {record.key_id} of user {record.user_id!r} was already revoked "
            f"({_format_time(record.revoke_time)})."
        )
        return 0
    print(
        f"Revoked key {record.key_id} of user {record.user_id!r}; servers using {db} "
        "refuse it from their next call."
    )
    if not any_left:
        print(
            "No active key is left: a server on 127.0.0.1 accepts every caller again; one on "
            "a network address accepts none until a key is created."
        )
    return 0


def run_keys(args: argparse.Namespace) -> int:
    """Runs the parsed `keys` command; 1 with a sentence on stderr when it fails."""
    db = _db_from_args(args)
    handlers = {"create": _run_create, "list": _run_list, "revoke": _run_revoke}
    try:
        return handlers[args.keys_command](args, db)
    except KeyCommandError as error:
        print(f"grove keys: {error}", file=sys.stderr)
    except SchemaVersionError as error:
        print(f"grove keys: {db}: {error}", file=sys.stderr)
    except StorageFailure as error:  # not SQLite, damaged, read-only, full: what to do
        print(f"grove keys: {error}", file=sys.stderr)
    except (OSError, sqlite3.Error) as error:
        print(f"grove keys: cannot use the database {db}: {error}", file=sys.stderr)
    return 1


def build_keys_parser(prog: str = "grove keys") -> argparse.ArgumentParser:
    """A standalone parser of the keys commands (for `python -m grove_explorer.server keys`)."""
    parser = argparse.ArgumentParser(prog=prog, description="Manage users and API keys.")
    add_keys_arguments(parser)
    return parser


def main(argv: list[str] | None = None, prog: str = "grove keys") -> int:
    """Entry point of `python -m grove_explorer.server keys …`."""
    return run_keys(build_keys_parser(prog).parse_args(argv))
