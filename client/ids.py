"""Short ids: the first characters of a response or conversation id, accepted back as a prefix.

Ids are 32 hex digits. Headers show the first 8 (`SHORT_ID_LENGTH`); anything that takes an
id also takes a unique prefix of at least `MIN_PREFIX` characters. One rule, resolved where
the candidates are: responses against the loaded forest (`Conversation.get_response`),
conversations against the user's listing (`AsyncGrok.get_conversation`, `grove CONV`).
"""

from __future__ import annotations

from collections.abc import Iterable

SHORT_ID_LENGTH = 8
"""Id characters headers and search hits show."""

MIN_PREFIX = 4
"""Shortest prefix accepted (fewer would rarely be unique)."""

FULL_ID_LENGTH = 32
"""Characters of a whole id (a uuid4 in hex)."""

SHOWN_CANDIDATES = 10
"""Candidates an ambiguity error names (it counts them all)."""


def short_id(identifier: str) -> str:
    """The first `SHORT_ID_LENGTH` characters of an id."""
    return identifier[:SHORT_ID_LENGTH]


class AmbiguousIdError(KeyError):
    """A prefix matches several ids; `candidates` holds them all, the message a few.

    A KeyError (and so a LookupError), like the lookups that accept a prefix raise for an
    unknown id, so code catching those keeps working.
    """

    def __init__(self, prefix: str, kind: str, candidates: Iterable[str]) -> None:
        self.prefix = prefix
        self.kind = kind
        self.candidates = tuple(candidates)
        shown = ", ".join(self.candidates[:SHOWN_CANDIDATES])
        more = len(self.candidates) - SHOWN_CANDIDATES
        tail = f" and {more} more" if more > 0 else ""
        self.message = (
            f"{prefix!r} matches {len(self.candidates)} {kind}s: {shown}{tail}. "
            "Give more of the id."
        )
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def resolve_id(wanted: str, ids: Iterable[str], kind: str) -> str | None:
    """The id `wanted` names among `ids`: itself, or the one it is a prefix of; None: none.

    A prefix shorter than `MIN_PREFIX` matches only a whole id. Raises AmbiguousIdError
    when it is a prefix of several.
    """
    exact = wanted.strip()
    known = list(ids)
    if exact in known:
        return exact
    wanted = exact.lower()
    if len(wanted) < MIN_PREFIX:
        return None
    matches = [identifier for identifier in known if identifier.startswith(wanted)]
    if len(matches) > 1:
        raise AmbiguousIdError(wanted, kind, matches)
    return matches[0] if matches else None
