"""Where a store lives: a SQLite file (the embedded default) or a PostgreSQL database.

`--db` and `GROVE_DB` take either a path or a `postgresql://` URL; this module is the one
place that tells them apart, so every command that opens a store agrees on the syntax.
The URL is kept whole for connecting but shown without its password (`str()`), because it
ends up in logs, banners and error messages.

It lives outside the `server.store` package on purpose: importing anything of that
package runs its `__init__`, which loads both stores (SQLite, aiosqlite, the records),
while every `grove` command parses `--db` and most never open a store (issue 13: start-up).
`server.store.location` re-exports these names for the store's own modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql", "postgres")
"""URL schemes libpq (and so psycopg) accepts for a PostgreSQL connection."""


@dataclass(frozen=True, slots=True)
class PostgresUrl:
    """A PostgreSQL connection URL, e.g. ``postgresql://grove@db.lab:5432/grove``."""

    url: str = field(repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in POSTGRES_SCHEMES:
            raise ValueError(f"not a PostgreSQL URL (postgresql://…): {self.shown}")
        if not parts.path.strip("/"):
            raise ValueError(
                f"the PostgreSQL URL names no database: {self.shown} "
                "(write postgresql://user@host:port/dbname)"
            )

    @property
    def shown(self) -> str:
        """The URL with its password replaced by ``***`` (for logs and messages)."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        user = parts.username or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        netloc = f"{user}:***@{host}{port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    @property
    def database(self) -> str:
        """The database name the URL connects to."""
        return urlsplit(self.url).path.strip("/")

    def __str__(self) -> str:
        return self.shown


DatabaseLocation = Path | PostgresUrl
"""What `--db` names: a SQLite file or a PostgreSQL database."""


def is_postgres_url(text: str) -> bool:
    """True when `text` is written as a PostgreSQL URL rather than a file path."""
    return urlsplit(text).scheme in POSTGRES_SCHEMES


def parse_database(text: str | Path) -> DatabaseLocation:
    """`--db`'s value as a location: a `PostgresUrl` for postgresql:// URLs, else a path.

    Raises ValueError for a PostgreSQL URL without a database name.
    """
    if isinstance(text, Path):
        return text
    if is_postgres_url(text):
        return PostgresUrl(text)
    return Path(text).expanduser()


def database_argument(text: str) -> DatabaseLocation:
    """The argparse `type=` of `--db`: a bad URL is a usage error with the reason."""
    import argparse

    try:
        return parse_database(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def database_from_environment() -> DatabaseLocation | None:
    """`$GROVE_DB` as a location, or None when it is unset or empty.

    Raises SystemExit with the reason for a malformed URL (it is the operator's setting).
    """
    import os

    text = os.environ.get("GROVE_DB", "").strip()
    if not text:
        return None
    try:
        return parse_database(text)
    except ValueError as error:
        raise SystemExit(f"$GROVE_DB: {error}") from error
