"""ImportConversation's input: an exported forest checked like live requests, as records.

An import may not store what no live request could: every response is checked for size,
NUL characters, senders, parents that come first, sampling provenance and sharing.

The checks are one pass over the responses, each a few set lookups and comparisons:
`_plain_item` takes a response that is plainly valid straight to its store item, and
anything it is not sure of goes through `_checked_item`, which aborts with the sentence
that names the first problem (both accept the same responses; the plain reading only
skips building the sentences). `import_reply` answers ImportConversation; `import_parts`
takes the responses in parts as they arrive, which ImportConversationStream uses
(import_stream.py): the same checks and sentences, the parts counted against the count
the import announced, each part's tokens naming its own responses. An import that keeps
its file's times (keep_times) has each response's settled by `import_times.py` (none in
the future, none before its parent, missing ones at the import's time, all counted).
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping
from datetime import datetime

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import (
    FINISH_FROM_WIRE,
    conversation_to_proto,
    new_response_from_fields,
    new_response_from_proto,
    token_rows_from_proto,
)
from grove_explorer.server.judging.wire import attach_judgements
from grove_explorer.server.servicer.import_fields import (
    import_field_problem,
    merge_problem,
    replay_problem,
)
from grove_explorer.server.servicer.import_times import KeptTimes, TimeProblem
from grove_explorer.server.servicer.judging_import import imported_judgements
from grove_explorer.server.servicer.status import abort, quote
from grove_explorer.server.servicer.validation import annotation_from_wire, check_text
from grove_explorer.server.store import (
    ImportItem,
    ImportStream,
    ResponseRecord,
    SamplingRecord,
    Store,
)
from grove_explorer.server.store.trusted import trusted_init

MAX_IMPORT_RESPONSES = 100_000
BATCH = 1_000
"""Items checked per batch handed to the store (its insert statements' size)."""
IMPORTED_SUFFIX = " (imported)"
"""Ends the title of an imported conversation, so a copy is told apart from its original."""


class _Where:
    """Names a response of the import in error sentences, formatted only when one is sent."""

    __slots__ = ("index", "response_id")

    def __init__(self, index: int, response_id: str) -> None:
        self.index = index
        self.response_id = response_id

    def __format__(self, spec: str) -> str:
        return f"Response {self.index + 1} ({quote(self.response_id)})"


def imported_title(title: str, max_chars: int) -> str:
    """`title` marked as imported, cut to fit `max_chars`; an import's import is not re-marked.

    The server marks it (not the client that reads the file), so every importer — `grove
    import`, the SDK, a script — gets a copy that the sidebar, `grove ls` and search show
    apart from the conversation it was exported from.
    """
    base = title.strip()
    if base.endswith(IMPORTED_SUFFIX.strip()) and base != IMPORTED_SUFFIX.strip():
        return title[:max_chars]
    if not base:
        return IMPORTED_SUFFIX.strip()[:max_chars]
    return title[: max(0, max_chars - len(IMPORTED_SUFFIX))].rstrip() + IMPORTED_SUFFIX


async def import_reply(
    store: Store,
    user: str,
    request: chat_pb2.ImportConversationRequest,
    *,
    max_title_chars: int,
    max_message_bytes: int,
    context: grpc.aio.ServicerContext,
) -> chat_pb2.Conversation:
    """ImportConversation: the new conversation, with its responses unless `summary_only`.

    The stored responses come back from the import itself (not read again); a summary
    (`grove import`, which prints the id) needs neither their records nor their protos.
    """
    await check_request(request, len(request.responses), max_title_chars, context)
    with collector_paused():
        return await import_parts(
            store,
            user,
            request,
            len(request.responses),
            _one(request),
            max_title_chars=max_title_chars,
            max_message_bytes=max_message_bytes,
            context=context,
        )


async def _one(
    request: chat_pb2.ImportConversationRequest,
) -> AsyncIterator[chat_pb2.ImportConversationRequest]:
    yield request


async def import_parts(
    store: Store,
    user: str,
    head: chat_pb2.ImportConversationRequest,
    count: int,
    parts: AsyncIterable[chat_pb2.ImportConversationRequest],
    *,
    max_title_chars: int,
    max_message_bytes: int,
    context: grpc.aio.ServicerContext,
) -> chat_pb2.Conversation:
    """An import whose `count` responses arrive in `parts` (after `check_request`).

    `head` (the first part) names the title, starred, summary_only, keep_times and the
    conversation's create_time. ImportConversation passes its request as the one part;
    ImportConversationStream its chunks as they come.
    """
    title = imported_title(head.title, max_title_chars)
    times = created = None
    if head.keep_times:  # the import's time for responses without one: now, after any write
        times = KeptTimes(store.reserve_start_time())
        try:
            created = times.conversation(head)
        except TimeProblem as problem:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"The conversation: {problem}")
    # The store takes the items a batch at a time as they are checked: it inserts one
    # batch on its thread while the next is checked here. A check that fails ends the
    # call from inside the store's transaction, which then stores nothing.
    items = ImportStream(
        count,
        _checked_batches(
            parts, count, max_message_bytes=max_message_bytes, context=context, times=times
        ),
    )
    if head.summary_only:
        record = await store.import_conversation(
            user, title, head.starred, items, create_time=created
        )
        wire = conversation_to_proto(record)
    else:
        record, responses = await store.import_forest(
            user, title, head.starred, items, create_time=created
        )
        annotations = await store.annotations(user, record.conversation_id)
        wire = conversation_to_proto(record, responses, annotations)
        attach_judgements(wire, await store.judgements(user, record.conversation_id))
        # The request's order is the order of insertion (`seq`), whatever the times say.
        wire.imported_ids.extend(r.response_id for r in sorted(responses, key=_seq))
    if times is not None:
        wire.import_times.CopyFrom(times.report())
    return wire


_pausing = 0
"""How many imports run with the cyclic collector paused (`collector_paused`)."""
_resume = False
"""Whether the collector ran before the first of them paused it."""


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while an import runs (the last one resumes it).

    An import makes a few objects per response, all kept until it ends, and none in a
    cycle: the collector's passes over them while they pile up (the older generations
    rescanned as they grow) free nothing and were a fifth of the checks' time. They are
    freed by reference counting when the import ends; any other garbage meanwhile waits
    for the collector's next pass.
    """
    global _pausing, _resume
    if _pausing == 0:
        _resume = gc.isenabled()
        gc.disable()
    _pausing += 1
    try:
        yield
    finally:
        _pausing -= 1
        if _pausing == 0 and _resume:
            gc.enable()


async def items_from_import(
    request: chat_pb2.ImportConversationRequest,
    *,
    max_title_chars: int,
    max_message_bytes: int,
    context: grpc.aio.ServicerContext,
) -> list[ImportItem]:
    """The responses of an import as store items (parents first), or the call ends."""
    count = len(request.responses)
    await check_request(request, count, max_title_chars, context)
    items: list[ImportItem] = []
    async for batch in _checked_batches(
        _one(request), count, max_message_bytes=max_message_bytes, context=context
    ):
        items.extend(batch)
    return items


async def check_request(
    request: chat_pb2.ImportConversationRequest,
    count: int,
    max_title_chars: int,
    context: grpc.aio.ServicerContext,
) -> None:
    """The checks of the import as a whole (`count` responses), before any response's."""
    if len(request.title) > max_title_chars or "\x00" in request.title:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The title must be at most {max_title_chars} characters, without NUL.",
        )
    if count > MAX_IMPORT_RESPONSES:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"An import may hold at most {MAX_IMPORT_RESPONSES} responses, not {count}.",
        )


async def _checked_batches(
    parts: AsyncIterable[chat_pb2.ImportConversationRequest],
    count: int,
    *,
    max_message_bytes: int,
    context: grpc.aio.ServicerContext,
    times: KeptTimes | None = None,
) -> AsyncIterator[list[ImportItem]]:
    """The responses of `parts` as store items, `BATCH` at a time, checked in order.

    Each part's tokens map names responses of that part (one part: the whole request).
    The maps are checked after every response, before the last batch, and the parts
    must hold `count` responses; the call ends at the first problem. `times` (keep_times)
    settles each response's times; a time it refuses ends the call after the response's
    other checks.
    """
    batch: list[ImportItem] = []
    seen: set[str] = set()
    shared: set[str] = set()
    strays: list[str] = []
    index = 0
    async for part in parts:
        tokens = part.tokens
        if len(part.responses) > count - index:
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"The import sent more responses than the {count} its first chunk announced.",
            )
        for wire in part.responses:
            created = start = problem = None
            if times is not None:
                try:
                    created, start = times.settle(wire)
                except TimeProblem as refused:
                    problem = refused
            item = _plain_item(wire, tokens, seen, shared, max_message_bytes, created, start)
            if item is None:
                item = await _checked_item(
                    _Where(index, wire.response_id),
                    wire,
                    part,
                    seen,
                    shared,
                    max_message_bytes,
                    context,
                    created,
                    start,
                )
            if problem is not None:
                where = _Where(index, wire.response_id)
                await abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"{where}: {problem}")
            seen.add(item.local_id)
            if item.shared:
                shared.add(item.local_id)
            batch.append(item)
            index += 1
            if len(batch) == BATCH:
                yield batch
                batch = []
        if tokens:
            strays.extend(sorted(set(tokens) - {wire.response_id for wire in part.responses}))
    if strays:
        stray = strays[0]
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The tokens of response {quote(stray)} came in another chunk than the "
            "response: a chunk carries the tokens of its own responses."
            if stray in seen
            else f"The tokens map names response {quote(stray)}, which is not in the import.",
        )
    if index != count:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The import sent {index} responses, not the {count} its first chunk announced.",
        )
    if batch:
        yield batch


async def _checked_item(
    where: _Where,
    wire: chat_pb2.Response,
    request: chat_pb2.ImportConversationRequest,
    seen: set[str],
    shared: set[str],
    max_message_bytes: int,
    context: grpc.aio.ServicerContext,
    created: datetime | None,
    start: datetime | None,
) -> ImportItem:
    """One response checked field by field: the call ends at its first problem.

    `created` and `start`: the times it is kept at (None: the store's clock).
    """
    if not wire.response_id or wire.response_id in seen:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{where} needs a response_id unique within the import.",
        )
    if wire.parent_response_id and wire.parent_response_id not in seen:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{where} names parent {quote(wire.parent_response_id)}, which does not "
            "come before it in the import.",
        )
    if wire.sender not in ("human", "model"):
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{where}: sender must be human or model, not {quote(wire.sender)}.",
        )
    if wire.merged_from or wire.merge_mode or wire.merge_instruction:
        problem = merge_problem(where, wire, seen)
        if problem is not None:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, problem)
    if wire.replay_of or wire.HasField("system_prompt_name"):
        problem = replay_problem(where, wire, seen)
        if problem is not None:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, problem)
    message = wire.message
    if len(message) * 4 > max_message_bytes or "\x00" in message:  # else it fits
        await check_text(f"{where}: the message", message, max_message_bytes, context)
    problem = import_field_problem(where, wire, request, shared)
    if problem is not None:
        await abort(context, grpc.StatusCode.INVALID_ARGUMENT, problem)
    if not 0 <= wire.prefix_length <= len(wire.message):
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{where}: prefix_length is outside the message.",
        )
    sampling = None
    if wire.HasField("sampling_params"):
        params = wire.sampling_params
        values = (params.temperature, params.top_p, params.max_tokens)
        if not all(map(math.isfinite, values)) or min(values) < 0:
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{where}: sampling parameters must be finite and non-negative.",
            )
        sampling = _SAMPLING(params.temperature, params.top_p, params.max_tokens, params.seed)
    annotation = None
    if wire.HasField("annotation"):
        annotation = await annotation_from_wire(wire.annotation, context)
    token_list = request.tokens.get(wire.response_id)
    if token_list is not None and token_list.tokens:
        spelled = "".join(t.final_logit.string_token for t in token_list.tokens)
        if spelled != wire.message:
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{where}: its tokens do not spell its message.",
            )
    return _ITEM(
        wire.response_id,
        wire.parent_response_id or None,
        new_response_from_proto(
            wire,
            sampling=sampling,
            tokens=token_list.tokens if token_list is not None else None,
            start_time=start,
        ),
        wire.shared,
        annotation,
        await imported_judgements(f"{where}", wire, context) if wire.judgements else (),
        created,
    )


def _seq(record: ResponseRecord) -> int:
    return record.seq


_SAMPLING = trusted_init(SamplingRecord)
_ITEM = trusted_init(ImportItem)
_SENDERS = frozenset(("human", "model"))
_isfinite = math.isfinite


def _plain_item(
    wire: chat_pb2.Response,
    tokens: Mapping[str, chat_pb2.TokenList],
    seen: set[str],
    shared: set[str],
    max_message_bytes: int,
    created: datetime | None,
    start: datetime | None,
) -> ImportItem | None:
    """A plainly valid response's store item; None if in any doubt (`_checked_item` says).

    Accepts only what `_checked_item` accepts without a word: everything it checks, in
    one expression per rule and without a sentence built. An annotation always goes the
    checked way (rare, and its checks are the live request's).
    """
    rid = wire.response_id
    parent = wire.parent_response_id
    sender = wire.sender
    message = wire.message
    prefix_length = wire.prefix_length
    finish_reason = wire.finish_reason
    is_shared = wire.shared
    model_name = wire.model_name
    query = wire.query
    query_type = wire.query_type
    if (
        not rid
        or rid in seen
        or (parent and parent not in seen)
        or sender not in _SENDERS
        or len(message) * 4 > max_message_bytes
        or "\x00" in message
        or not 0 <= prefix_length <= len(message)
        or finish_reason not in FINISH_FROM_WIRE
        or (is_shared and parent and parent not in shared)
        or "\x00" in model_name
        or "\x00" in query
        or "\x00" in query_type
        or wire.HasField("annotation")
        or wire.judgements
        or wire.merged_from  # a fused reply always goes the checked way (rare)
        or wire.merge_mode
        or wire.merge_instruction
        or wire.replay_of  # a replayed turn and a reply's prompt go the checked way
        or wire.HasField("system_prompt_name")
    ):
        return None
    has_sampling = wire.HasField("sampling_params")
    token_list = tokens.get(rid) if tokens else None
    manual = wire.manual
    partial = wire.partial
    if (sender == "human" or manual) and (  # a human message or a manual reply
        not message.strip()
        or model_name
        or has_sampling
        or prefix_length
        or finish_reason
        or token_list is not None
        or (sender == "human" and (manual or partial))
    ):
        return None
    sampling = None
    if has_sampling:
        params = wire.sampling_params
        temperature, top_p, max_tokens = params.temperature, params.top_p, params.max_tokens
        if not (
            _isfinite(temperature)
            and _isfinite(top_p)
            and temperature >= 0
            and top_p >= 0
            and max_tokens >= 0
        ):
            return None
        sampling = _SAMPLING(temperature, top_p, max_tokens, params.seed)
    rows = None
    if token_list is not None:
        rows = token_rows_from_proto(token_list.tokens)
        if rows and "".join([row[0] for row in rows]) != message:
            return None
    return _ITEM(
        rid,
        parent or None,
        new_response_from_fields(
            wire,
            message,
            sender,
            manual,
            partial,
            query,
            query_type,
            model_name,
            sampling,
            prefix_length,
            finish_reason,
            rows,
            start,
            plain=True,
        ),
        is_shared,
        None,
        (),
        created,
    )
