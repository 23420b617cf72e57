"""Where a store lives: the names of `server.database_location`, under the store package.

The code is in `server/database_location.py` so that parsing `--db` does not import the
store package; this module keeps the store's own modules (and tests) importing it here.
"""

from grove_explorer.server.database_location import (
    POSTGRES_SCHEMES,
    DatabaseLocation,
    PostgresUrl,
    database_argument,
    database_from_environment,
    is_postgres_url,
    parse_database,
)

__all__ = [
    "POSTGRES_SCHEMES",
    "DatabaseLocation",
    "PostgresUrl",
    "database_argument",
    "database_from_environment",
    "is_postgres_url",
    "parse_database",
]
