"""A response's whole write in one statement: the insert, tokens, place and checkpoint.

Every AddResponse writes twice (its human message, then its reply), and a team server's
replicas start and end hundreds of streams at once. As a transaction, a write was five
round trips on a pooled connection (BEGIN, the insert, the place, the checkpoint, COMMIT),
each psycopg's Python work on the event loop and a wake-up. Here the parts are
data-modifying CTEs of one statement, run in autocommit: one round trip, atomic as a
statement is, each part conditioned on the insert having stored its row (a refused insert
writes nothing at all). The parts' statements are those of responses.py and leaves.py.
(Under bench.scale's start burst the acknowledgements did not get measurably faster: the
replicas' time there goes to gRPC's writes of the streams already running.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

from grove_explorer.server.store.postgres.leaves import FOLLOW, UPSERT_TAIL

PlaceWrite = Literal["none", "follow", "start"]
"""What the write does to the author's place: nothing, follow the stream's reply (a
reply ends the following), or start following it at this human message."""


@dataclass(frozen=True, slots=True)
class PlaceChange:
    """The place part of a response's write: whose place, how, and the stream it follows."""

    kind: PlaceWrite
    user_id: str = ""
    stream_id: str = ""


NO_PLACE = PlaceChange("none")
"""A write that leaves every place alone."""


@functools.cache
def statement(insert: str, tokens: bool, place: PlaceWrite, checkpoint: bool) -> str:
    """The one statement for a write with these parts; `insert` returns `seq, response_id`.

    Cached per combination: psycopg prepares a statement it sees often, by its text.
    Parameters, in order: the insert's, then the tokens' blob, the place's, the
    checkpoint's id (each only when its part is there).
    """
    parts = [f"inserted AS ({insert})"]
    if tokens:
        parts.append(
            "tokens AS (INSERT INTO response_tokens (response_id, data)"
            " SELECT response_id, %s::bytea FROM inserted)"
        )
    if place == "follow":
        # leaves.py's follow, only once the response is stored.
        parts.append(f"place AS ({FOLLOW} AND EXISTS (SELECT 1 FROM inserted))")
    elif place == "start":
        # The place on the stored row, following the stream (what set_leaf at the parent
        # then follow at this message would leave).
        parts.append(
            "place AS (INSERT INTO leaves"
            " (user_id, conversation_id, response_id, follows, update_time)"
            f" SELECT %s, %s, response_id, %s, %s FROM inserted{UPSERT_TAIL})"
        )
    if checkpoint:
        parts.append(
            "done AS (DELETE FROM checkpoints WHERE checkpoint_id = %s"
            " AND EXISTS (SELECT 1 FROM inserted))"
        )
    return "WITH " + ",\n".join(parts) + "\nSELECT seq FROM inserted"


def parameters(
    insert: tuple[Any, ...],
    *,
    tokens: bytes | None,
    place: PlaceChange,
    response_id: str,
    conversation_id: str,
    now: Any,
    is_reply: bool,
    checkpoint_id: str | None,
) -> tuple[Any, ...]:
    """The statement's parameters, in the order `statement` reads them."""
    values: list[Any] = list(insert)
    if tokens is not None:
        values.append(tokens)
    if place.kind == "follow":
        values += [response_id, now, is_reply, place.user_id, conversation_id, place.stream_id]
    elif place.kind == "start":
        values += [place.user_id, conversation_id, place.stream_id, now]
    if checkpoint_id is not None:
        values.append(checkpoint_id)
    return tuple(values)
