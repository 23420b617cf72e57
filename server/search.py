"""The search query language: words for FTS5 plus filters, parsed into a safe expression.

    apple "pruning shears" graft*  sender:model model:grove-offline-ngram tag:idea rated:+
    bookmarked partial

Words become quoted FTS5 strings (so `-`, `:` or `(` in a word are text, not syntax);
`word*` stays a prefix query; quoted phrases stay phrases; `OR` and `NOT` between words
keep their FTS5 meaning. Filters narrow the hits to responses with those properties.
An operator needs a word on each side (FTS5 has no unary NOT): one dangling at either end
is dropped, so a query still being typed searches, except a leading NOT, whose meaning
("without") would silently turn into its opposite; two operators in a row and an
unmatched double quote are refused with a sentence rather than FTS5's syntax error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from grove_explorer.server.store import SearchFilters

_TERM = re.compile(r'"([^"]*)"|(\S+)')
_OPERATORS = frozenset({"OR", "NOT", "AND"})


class QueryError(ValueError):
    """The query cannot be searched; the message says why."""


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """An FTS5 MATCH expression (None: filters only) and the filters."""

    match: str | None
    filters: SearchFilters


def parse_query(text: str) -> ParsedQuery:
    """Splits a query into an FTS5 expression and filters; QueryError when it is unusable."""
    if "\x00" in text:
        raise QueryError("The query contains a NUL character.")
    if text.count('"') % 2:
        raise QueryError('The query has an unmatched double quote: close the phrase with ".')
    sender: str | None = None
    model: str | None = None
    tags: list[str] = []
    rating: int | None = None
    bookmarked = partial = False
    parts: list[str] = []
    for found in _TERM.finditer(text):
        phrase, word = found.group(1), found.group(2)
        if phrase is not None:
            if phrase.strip():
                parts.append(_quote(phrase))
            continue
        key, colon, value = word.partition(":")
        lowered = key.lower()
        if colon and lowered == "sender":
            if value not in ("human", "model"):
                raise QueryError(f"sender: takes human or model, not {_shown(value)}.")
            sender = value
        elif colon and lowered == "model":
            if not value:
                raise QueryError("model: needs a model name, e.g. model:grove-offline-ngram.")
            model = value
        elif colon and lowered == "tag":
            if not value:
                raise QueryError("tag: needs a tag, e.g. tag:idea.")
            tags.append(value)
        elif colon and lowered == "rated":
            if value not in ("+", "-", "+1", "-1"):
                raise QueryError(f"rated: takes + or -, not {_shown(value)}.")
            rating = 1 if value.startswith("+") else -1
        elif word.lower() == "bookmarked":
            bookmarked = True
        elif word.lower() == "partial":
            partial = True
        elif word in _OPERATORS:
            parts.append(word)
        elif word.endswith("*") and len(word) > 1:
            parts.append(_quote(word[:-1]) + "*")
        else:
            parts.append(_quote(word))
    for left, right in pairwise(parts):
        if left in _OPERATORS and right in _OPERATORS:
            raise QueryError(
                f"{left} {right}: an operator needs a word or phrase on each side, "
                "as in apple OR pear."
            )
    if parts and parts[0] == "NOT":
        raise QueryError(
            "NOT needs a word before it (apple NOT pear): FTS5 cannot search for what is "
            "absent alone."
        )
    while parts and parts[0] in _OPERATORS:
        parts.pop(0)
    while parts and parts[-1] in _OPERATORS:
        parts.pop()
    filters = SearchFilters(sender, model, tuple(tags), rating, bookmarked, partial)
    if not parts and not filters.on_responses:
        raise QueryError("The search is empty: type words to find, or a filter.")
    return ParsedQuery(" ".join(parts) if parts else None, filters)


def _shown(value: str, limit: int = 40) -> str:
    """`value` quoted for an error sentence, cut short so a long query cannot flood it."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _quote(text: str) -> str:
    """A literal FTS5 string (double quotes doubled)."""
    return '"' + text.replace('"', '""') + '"'
