"""A search's filters and reach as SQL conditions, for either store's dialect.

Which filters a query may carry (sender, model, tags, rating, bookmarked, partial) and whose
rows a user may read (their own and those of conversations shared with them) are the same
for both stores; only the SQL words differ — the parameter marks (`:name` / `%(name)s`),
how a JSON tag list is searched, how a flag is tested. Each store gives those
(`SqlDialect`) and reads the conditions from here, so a new filter is written once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grove_explorer.server.store.records import SearchFilters


@dataclass(frozen=True, slots=True)
class SqlDialect:
    """The words of one store's SQL that the filters' conditions need."""

    parameter: Callable[[str], str]
    """The mark of a named parameter (`:name` in SQLite, `%(name)s` in psycopg)."""
    has_tag: Callable[[str], str]
    """The condition that annotation `a`'s JSON tag list holds the given parameter mark."""
    is_set: Callable[[str], str]
    """The condition that a flag column is set (SQLite stores 0/1, PostgreSQL booleans)."""


def filter_sql(filters: SearchFilters, dialect: SqlDialect) -> tuple[str, dict[str, Any]]:
    """SQL conditions (on `r` responses and `a` annotations) for a query's filters.

    Each condition comes with " AND " before it (none: ""); the parameters they name.
    """
    mark = dialect.parameter
    conditions: list[str] = []
    parameters: dict[str, Any] = {}
    if filters.sender:
        conditions.append(f"r.sender = {mark('sender')}")
        parameters["sender"] = filters.sender
    if filters.model:
        conditions.append(f"r.model_name = {mark('model')}")
        parameters["model"] = filters.model
    for i, tag in enumerate(filters.tags):
        conditions.append(dialect.has_tag(mark(f"tag{i}")))
        parameters[f"tag{i}"] = tag
    if filters.rating is not None:
        conditions.append(f"a.rating = {mark('rating')}")
        parameters["rating"] = filters.rating
    if filters.bookmarked:
        conditions.append(dialect.is_set("a.bookmarked"))
    if filters.partial:
        conditions.append(dialect.is_set("r.partial"))
    return "".join(f" AND {c}" for c in conditions), parameters


def readable(table: str, dialect: SqlDialect) -> str:
    """The condition that a row of `table` is in a conversation the user `uid` may read.

    Owned (the row's user_id is the conversation's owner: `r` responses, `c`
    conversations) or shared with them (the shares_user index gives the few shared
    conversation ids). Never an index row's own user_id: a tag or note row names who set
    it, a writer too, and the owner must find it (and a revoked writer not).
    """
    uid = dialect.parameter("uid")
    return (
        f"({table}.user_id = {uid} OR {table}.conversation_id IN"
        f" (SELECT conversation_id FROM shares WHERE user_id = {uid}))"
    )
