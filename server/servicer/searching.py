"""The Search RPC's body: checks the query's limits, runs it, attaches the caller's marks.

Apart from the servicer so that `rpcs.py` stays a list of short methods.
"""

from __future__ import annotations

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import response_to_proto
from grove_explorer.server.search import parse_query
from grove_explorer.server.servicer.status import abort
from grove_explorer.server.store import AnnotationRecord, Store

MAX_QUERY_CHARS = 1_000
DEFAULT_SEARCH_HITS = 50
MAX_SEARCH_HITS = 10_000
"""Most hits one Search answers; more are read page by page (`offset`)."""


async def search_reply(
    store: Store, user: str, request: chat_pb2.SearchRequest, context: grpc.aio.ServicerContext
) -> chat_pb2.SearchResponse:
    """Searches `user`'s messages, titles, tags and notes (best matches first)."""
    if len(request.query) > MAX_QUERY_CHARS:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The query is {len(request.query)} characters long; the limit is {MAX_QUERY_CHARS}.",
        )
    if not 0 <= request.limit <= MAX_SEARCH_HITS:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"limit must be between 0 (the default, {DEFAULT_SEARCH_HITS}) and "
            f"{MAX_SEARCH_HITS}, not {request.limit}; read more hits page by page "
            "with offset.",
        )
    if request.offset < 0:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"offset cannot be negative ({request.offset}).",
        )
    limit = request.limit or DEFAULT_SEARCH_HITS
    try:
        parsed = parse_query(request.query)
        total = await store.count_search(user, parsed.match, parsed.filters)
        hits = []
        if request.offset < total:
            hits = await store.search(user, parsed.match, parsed.filters, limit, request.offset)
    except ValueError as error:  # QueryError, or FTS5's own complaint
        # A sentence even from FTS5, whose messages have no full stop.
        reason = str(error)[:200].rstrip(".")
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The search query is not valid: {reason}.",
        )
    annotations: dict[str, dict[str, AnnotationRecord]] = {}
    # Never fewer than the hits sent (a response added between the two reads).
    if hits:
        total = max(total, request.offset + len(hits))
    reply = chat_pb2.SearchResponse(total=total)
    for hit in hits:
        wire = reply.hits.add(
            conversation_id=hit.conversation_id,
            conversation_title=hit.conversation_title,
            field=hit.field,
            snippet=hit.snippet,
            highlights=[chat_pb2.TextSpan(start=a, end=b) for a, b in hit.highlights],
            branch_index=hit.branch[0],
            branch_count=hit.branch[1],
        )
        if hit.response is not None:
            marks = annotations.get(hit.conversation_id)
            if marks is None:
                marks = annotations[hit.conversation_id] = await _marks(
                    store, user, hit.conversation_id
                )
            wire.response.CopyFrom(
                response_to_proto(hit.response, marks.get(hit.response.response_id))
            )
    return reply


async def _marks(store: Store, user: str, conversation_id: str) -> dict[str, AnnotationRecord]:
    """The annotations of a hit's conversation: the user's own, or its owner's if shared.

    The store found the hit among the conversations the user may read; annotations are
    kept under the owner, so a shared conversation (none found under the user) is asked
    who owns it — one more read only then.
    """
    marks = await store.annotations(user, conversation_id)
    if marks:
        return marks
    access = await store.access(user, conversation_id)
    if access is None or access.owner_id == user:
        return marks
    return await store.annotations(access.owner_id, conversation_id)
