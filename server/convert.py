"""Conversions between store records, sampler types and protobuf messages.

This is the one place on the server where a Response's fields are named one by one on
their way to and from the wire (`response_to_proto`, `new_response_from_proto`); the
store's side is derived from the records in server/store/records.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import cast

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
from google.protobuf.timestamp_pb2 import Timestamp

from grove_explorer.protos import chat_pb2, sampler_public_pb2
from grove_explorer.server.sampler.base import (
    FinishReason,
    ModelDescription,
    RequestedParams,
    ResolvedParams,
    SampledToken,
    SamplingMode,
)
from grove_explorer.server.store import (
    AnnotationRecord,
    ConversationRecord,
    LeafRecord,
    NewResponse,
    ResponseRecord,
    SamplingRecord,
    TokenRow,
)
from grove_explorer.server.store.trusted import trusted_init

FINISH_TO_WIRE: dict[str, chat_pb2.FinishReason] = {
    reason.value: cast(
        "chat_pb2.FinishReason", chat_pb2.FinishReason.Value(f"FINISH_REASON_{reason.name}")
    )
    for reason in FinishReason
}
"""Stored finish reasons → the wire enum (a reason missing from the proto fails at import)."""
FINISH_FROM_WIRE: dict[int, str] = {
    chat_pb2.FINISH_REASON_UNSPECIFIED: "",
    **{wire: value for value, wire in FINISH_TO_WIRE.items()},
}
"""The wire enum → stored finish reasons ("" for UNSPECIFIED); other numbers are unknown."""
MODE_TO_WIRE: dict[SamplingMode, chat_pb2.SamplingMode] = {
    mode: cast("chat_pb2.SamplingMode", chat_pb2.SamplingMode.Value(f"SAMPLING_MODE_{mode.name}"))
    for mode in SamplingMode
}
"""Sampling modes → the wire enum (a mode missing from the proto fails at import)."""
MODE_FROM_WIRE: dict[int, SamplingMode] = {wire: mode for mode, wire in MODE_TO_WIRE.items()}
"""The wire enum → sampling modes (UNSPECIFIED and unknown numbers are absent)."""
MERGE_TO_WIRE: dict[str, chat_pb2.MergeMode] = {
    name: cast("chat_pb2.MergeMode", chat_pb2.MergeMode.Value(f"MERGE_MODE_{name.upper()}"))
    for name in ("fuse", "checklist", "custom")
}
"""Stored merge modes → the wire enum ("" is UNSPECIFIED: not a fused reply)."""
MERGE_FROM_WIRE: dict[int, str] = {wire: name for name, wire in MERGE_TO_WIRE.items()}
"""The wire enum → stored merge modes (UNSPECIFIED and unknown numbers are absent)."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(value: datetime) -> Timestamp:
    """Converts an aware datetime (naive: UTC) to a protobuf Timestamp."""
    ts = Timestamp()
    set_time(ts, value)
    return ts


def set_time(target: Timestamp, value: datetime) -> None:
    """Writes an aware datetime (naive: UTC) into a Timestamp field, in place (and sets it).

    The store's times are UTC: their seconds and nanos come straight from the difference
    with the epoch, the numbers `Timestamp.FromDatetime` computes through a time tuple
    and `calendar.timegm` at several times the cost (a conversation's reply converts two
    per response). Another zone takes `FromDatetime` itself.
    """
    zone = value.tzinfo
    if zone is UTC or zone is None:
        delta = value.replace(tzinfo=UTC) - _EPOCH if zone is None else value - _EPOCH
        target.seconds = delta.days * 86_400 + delta.seconds
        target.nanos = delta.microseconds * 1000
    else:
        target.FromDatetime(value)


def response_to_proto(
    record: ResponseRecord, annotation: AnnotationRecord | None = None
) -> chat_pb2.Response:
    """Builds the wire form of a stored response (with the caller's annotation, if any)."""
    message = chat_pb2.Response()
    _fill_response(message, record, annotation)
    return message


def _fill_response(
    message: chat_pb2.Response, record: ResponseRecord, annotation: AnnotationRecord | None
) -> None:
    """Writes a stored response into an empty Response message, in place.

    In place, sub-messages included: building the times and sampling parameters as
    messages of their own and handing them to a constructor copied each, and a
    conversation's reply then copied every response again into its list (GetConversation
    of 10,000 responses: half the conversion, bench.store --part exporting).
    """
    message.response_id = record.response_id
    message.message = record.message
    message.sender = record.sender
    set_time(message.create_time, record.create_time)
    if record.parent_response_id:
        message.parent_response_id = record.parent_response_id
    message.manual = record.manual
    message.partial = record.partial
    message.shared = record.shared
    message.query = record.query
    message.query_type = record.query_type
    message.model_name = record.model_name
    message.token_count = record.token_count
    message.time_to_first_token_seconds = record.time_to_first_token_seconds
    message.total_time_seconds = record.total_time_seconds
    message.prefix_length = record.prefix_length
    set_time(message.start_time, record.start_time)
    message.finish_reason = FINISH_TO_WIRE.get(
        record.finish_reason, chat_pb2.FINISH_REASON_UNSPECIFIED
    )
    if record.reported_completion_tokens is not None:
        usage = message.reported_usage
        usage.completion_tokens = record.reported_completion_tokens
        usage.prompt_tokens = record.reported_prompt_tokens or 0
    if record.merged_from:  # a fused reply (rare)
        message.merged_from.extend(record.merged_from)
        message.merge_mode = MERGE_TO_WIRE.get(record.merge_mode, chat_pb2.MERGE_MODE_UNSPECIFIED)
        message.merge_instruction = record.merge_instruction
    if record.replay_of:  # a replayed turn
        message.replay_of = record.replay_of
    if record.system_prompt_name is not None:  # a sampled chat reply
        message.system_prompt_name = record.system_prompt_name
    if record.author:  # made by a writer the conversation is shared with
        message.author_user_id = record.author
    sampling = record.sampling
    if sampling is not None:
        params = message.sampling_params
        params.SetInParent()  # present even with every field unset, as the record is
        if sampling.temperature is not None:
            params.temperature = sampling.temperature
        if sampling.top_p is not None:
            params.top_p = sampling.top_p
        if sampling.max_tokens is not None:
            params.max_tokens = sampling.max_tokens
        if sampling.seed is not None:
            params.seed = sampling.seed
    if annotation is not None and not annotation.empty:
        message.annotation.CopyFrom(annotation_to_proto(annotation))


def new_response_from_proto(
    wire: chat_pb2.Response,
    *,
    sampling: SamplingRecord | None,
    tokens: Sequence[sampler_public_pb2.Token] | None,
    start_time: datetime | None = None,
) -> NewResponse:
    """An imported response as the store inserts it: not linked yet, with its tokens.

    The caller has validated `wire` and passes its sampling parameters and tokens checked;
    counts and durations that cannot be true are stored as 0 (`new_response_from_fields`).
    `start_time`: the start the import keeps (None: the store's clock).
    """
    return new_response_from_fields(
        wire,
        wire.message,
        wire.sender,
        wire.manual,
        wire.partial,
        wire.query,
        wire.query_type,
        wire.model_name,
        sampling,
        wire.prefix_length,
        wire.finish_reason,
        token_rows_from_proto(tokens) if tokens is not None else None,
        start_time,
    )


def new_response_from_fields(
    wire: chat_pb2.Response,
    message: str,
    sender: str,
    manual: bool,
    partial: bool,
    query: str,
    query_type: str,
    model_name: str,
    sampling: SamplingRecord | None,
    prefix_length: int,
    finish_reason: int,
    tokens: tuple[TokenRow, ...] | None,
    start_time: datetime | None = None,
    *,
    plain: bool = False,
) -> NewResponse:
    """`new_response_from_proto` of fields the caller has already read from `wire`.

    An import's checks read most fields once and pass them on (an import converts one
    response per row); the rest are read here. `plain`: the caller found no fusion,
    replay or system prompt fields (an import's plain reading refuses them), so those are
    not read again. Built with `trusted_init`, positionally (in `NewResponse`'s field
    order: a call per imported response, keywords cost a fifth of it).
    """
    usage = wire.reported_usage if wire.HasField("reported_usage") else None
    if plain:
        merged_from: tuple[str, ...] = ()
        merge_mode = merge_instruction = replay_of = ""
        prompt_name = None
    else:
        merged_from = tuple(wire.merged_from)
        merge_mode = MERGE_FROM_WIRE.get(wire.merge_mode, "") if merged_from else ""
        merge_instruction = wire.merge_instruction if merged_from else ""
        replay_of = wire.replay_of
        prompt_name = wire.system_prompt_name if wire.HasField("system_prompt_name") else None
    first = wire.time_to_first_token_seconds
    total = wire.total_time_seconds
    return _TRUSTED_NEW_RESPONSE(
        "",  # conversation_id
        message,
        sender,
        None,  # parent_response_id
        manual,
        partial,
        query,
        query_type,
        model_name,
        sampling,
        max(0, wire.token_count),
        first if first >= 0 and first != _INFINITY else 0.0,  # NaN fails `>=`: 0.0
        total if total >= 0 and total != _INFINITY else 0.0,
        prefix_length,
        FINISH_FROM_WIRE.get(finish_reason, ""),
        None if usage is None else max(0, usage.prompt_tokens),
        None if usage is None else max(0, usage.completion_tokens),
        merged_from,
        merge_mode,
        merge_instruction,
        replay_of,
        prompt_name,
        "",  # author: who made it is this server's record, not the importer's word
        "",  # request_id: the stream that made it was on the exporting server
        tokens,
        start_time,
    )


_TRUSTED_NEW_RESPONSE = trusted_init(NewResponse)
_INFINITY = math.inf


def annotation_to_proto(annotation: AnnotationRecord) -> chat_pb2.Annotation:
    """The wire form of an annotation."""
    return chat_pb2.Annotation(
        bookmarked=annotation.bookmarked,
        tags=list(annotation.tags),
        rating=annotation.rating,
        note=annotation.note,
        set_by_user_id=annotation.set_by,
    )


def token_rows_to_proto(rows: Sequence[TokenRow]) -> list[sampler_public_pb2.Token]:
    """Stored tokens as wire tokens (an unknown logprob is flagged, never 0)."""
    holder = chat_pb2.GetResponseTokensResponse()
    fill_token_rows(holder.tokens, rows)
    return list(holder.tokens)


def fill_token_rows(
    target: RepeatedCompositeFieldContainer[sampler_public_pb2.Token], rows: Sequence[TokenRow]
) -> None:
    """Appends stored tokens to a reply's repeated `tokens` field, built in place.

    In place, with only the fields that differ from their defaults set (an unknown logprob
    is flagged, never 0): building each Token (and an intermediate `SampledToken`) and
    copying it into the reply cost twice as much, and an export of a 5,000-reply path
    converts 65,000 tokens (bench.store --part exporting).
    """
    add = target.add
    for text, logprob, top in rows:
        token = add()
        final = token.final_logit
        final.string_token = text
        if logprob is None:
            token.logprob_unknown = True
        else:
            final.logprob = logprob
        add_alternative = token.top_logits.add
        for alternative, alternative_logprob in top:
            add_alternative(string_token=alternative, logprob=alternative_logprob)


def token_rows_from_proto(tokens: Sequence[sampler_public_pb2.Token]) -> tuple[TokenRow, ...]:
    """Wire tokens (an import) as stored tokens."""
    rows = []
    for t in tokens:
        final = t.final_logit
        rows.append(
            (
                final.string_token,
                None if t.logprob_unknown else final.logprob,
                tuple([(a.string_token, a.logprob) for a in t.top_logits]),
            )
        )
    return tuple(rows)


ROLE_TO_WIRE: dict[str, chat_pb2.ShareRole] = {
    "owner": chat_pb2.SHARE_ROLE_OWNER,
    "writer": chat_pb2.SHARE_ROLE_WRITER,
    "reader": chat_pb2.SHARE_ROLE_READER,
}
"""A user's role on a conversation (sharing_records.py) as the wire's ShareRole."""


def conversation_to_proto(
    record: ConversationRecord,
    responses: Sequence[ResponseRecord] = (),
    annotations: Mapping[str, AnnotationRecord] | None = None,
    leaf: LeafRecord | None = None,
) -> chat_pb2.Conversation:
    """Builds the wire form of a conversation, with its responses in creation order.

    `leaf` is the caller's stored place (None: never chosen, so the field stays unset).
    """
    marks = annotations or {}
    wire = chat_pb2.Conversation(
        conversation_id=record.conversation_id,
        title=record.title,
        starred=record.starred,
        create_time=timestamp(record.create_time),
        update_time=timestamp(record.update_time),
        response_count=record.response_count,
        owner_user_id=record.user_id,
        role=ROLE_TO_WIRE.get(record.role, chat_pb2.SHARE_ROLE_OWNER),
    )
    add = wire.responses.add
    for response in responses:
        _fill_response(add(), response, marks.get(response.response_id))
    if leaf is not None:
        wire.leaf_response_id = leaf.response_id or ""
    return wire


def requested_params(message: sampler_public_pb2.SamplingParams) -> RequestedParams:
    """Reads the optional sampling fields, keeping "not given" distinct from zero."""
    return RequestedParams(
        temperature=message.temperature if message.HasField("temperature") else None,
        top_p=message.top_p if message.HasField("top_p") else None,
        max_tokens=message.max_tokens if message.HasField("max_tokens") else None,
        seed=message.seed if message.HasField("seed") else None,
    )


def resolved_to_record(params: ResolvedParams) -> SamplingRecord:
    """Converts resolved sampler parameters to what the store keeps."""
    return SamplingRecord(
        temperature=params.temperature,
        top_p=params.top_p,
        max_tokens=params.max_tokens,
        seed=params.seed,
    )


class _AlternativesWire:
    """The serialized alternatives of `top` tuples a sampler hands out again and again.

    The offline sampler's tokens share their step's `top` tuple (its sampling tables are
    shared), so the same five alternatives are built into a message for token after
    token: 5.9 µs a token message, against 2.4 µs when they are parsed from bytes kept
    for that tuple. A tuple is serialized the second time it is seen (a remote model's
    tuples, new every token, cost one dict entry). Both tables are keyed by id: `_seen`
    holds the tuples, so an id is not reused while it is a key, and `_wire` has a key only
    while `_seen` has it (both are emptied together). Bytes alone as `_wire`'s values: a
    (tuple, bytes) pair would be one more object for the garbage collector a table.
    """

    LIMIT = 4096

    def __init__(self) -> None:
        self._seen: dict[int, tuple[tuple[str, float], ...]] = {}
        self._wire: dict[int, bytes] = {}

    def get(self, top: tuple[tuple[str, float], ...]) -> bytes | None:
        """`top` as a serialized Token holding only its alternatives, or None (not yet)."""
        key = id(top)
        if self._seen.get(key) is not top:
            if len(self._seen) >= self.LIMIT:
                self._seen.clear()
                self._wire.clear()
            self._seen[key] = top
            return None
        found = self._wire.get(key)
        if found is not None:
            return found
        holder = sampler_public_pb2.Token()
        _add_alternatives(holder, top)
        wire = self._wire[key] = holder.SerializeToString()
        return wire


_ALTERNATIVES = _AlternativesWire()


def _add_alternatives(target: sampler_public_pb2.Token, top: Sequence[tuple[str, float]]) -> None:
    add = target.top_logits.add
    for text, logprob in top:
        add(string_token=text, logprob=logprob)


def _fill_token(
    target: sampler_public_pb2.Token,
    text: str,
    logprob: float | None,
    top: tuple[tuple[str, float], ...],
) -> None:
    """Writes one sampled token (its text, logprob, alternatives) into `target`, in place.

    In place rather than by building Logit messages and passing them to constructors
    (which copy them): this runs for every token of every stream, and it halves the cost
    of a token message (bench.load --profile-server). Alternatives a sampler repeats are
    parsed from their kept bytes (`_AlternativesWire`).
    """
    if top:
        wire = _ALTERNATIVES.get(top)
        if wire is not None:
            target.MergeFromString(wire)
        else:
            _add_alternatives(target, top)
    target.logprob_unknown = logprob is None
    final = target.final_logit
    final.string_token = text
    final.logprob = logprob or 0.0


def token_batch_message(batch: Sequence[SampledToken]) -> chat_pb2.AddResponseResponse:
    """Packs one or more tokens into a single streamed message.

    A single token travels as the seed expects. Several tokens travel as one `token` whose
    text is their concatenation (so a client reading only that field loses nothing) plus
    `tokens` with each token's own text, logprob and alternatives.
    """
    if len(batch) == 1:
        message = chat_pb2.AddResponseResponse()
        token = batch[0]
        _fill_token(message.token.token, token.text, token.logprob, token.top)
        return message
    return token_rows_message(
        [t.text for t in batch], [t.logprob for t in batch], [t.top for t in batch]
    )


def token_rows_message(
    texts: Sequence[str],
    logprobs: Sequence[float | None],
    tops: Sequence[tuple[tuple[str, float], ...]],
) -> chat_pb2.AddResponseResponse:
    """`token_batch_message` of tokens given as three parallel lists (their values).

    A resumable reply's log keeps its tokens so (servicer/reply_log.py): values in lists
    rather than an object a token, which the collector would scan until the log ends.
    """
    message = chat_pb2.AddResponseResponse()
    sample = message.token
    if len(texts) == 1:
        _fill_token(sample.token, texts[0], logprobs[0], tops[0])
        return message
    unknown = None in logprobs
    combined = sample.token
    combined.final_logit.string_token = "".join(texts)
    combined.final_logit.logprob = 0.0 if unknown else sum(lp or 0.0 for lp in logprobs)
    combined.logprob_unknown = unknown
    add = sample.tokens.add
    for text, logprob, top in zip(texts, logprobs, tops, strict=True):
        _fill_token(add(), text, logprob, top)
    return message


def budget_message(
    prompt_tokens: int, sampled: int, max_tokens: int
) -> chat_pb2.AddResponseResponse:
    """A budget update: how many tokens the prompt took and the reply has used."""
    return chat_pb2.AddResponseResponse(
        token=sampler_public_pb2.SampleTokensResponse(
            budget=sampler_public_pb2.Budget(
                prompt_tokens=prompt_tokens, sampled_tokens=sampled, max_tokens=max_tokens
            )
        )
    )


def model_info(description: ModelDescription, *, is_default: bool) -> chat_pb2.ModelInfo:
    """One ListModels entry from a sampler's self-description."""
    info = chat_pb2.ModelInfo(
        name=description.name,
        backend=description.backend,
        upstream_model=description.upstream_model,
        description=description.description,
        default_sampling_params=sampler_public_pb2.SamplingParams(
            temperature=description.default_temperature,
            top_p=description.default_top_p,
            max_tokens=description.default_max_tokens,
        ),
        is_default=is_default,
    )
    if description.supports_logprobs is not None:
        info.supports_logprobs = description.supports_logprobs
    info.modes.extend(MODE_TO_WIRE[mode] for mode in description.modes)
    info.supports_embeddings = bool(description.embeddings_model)
    info.embeddings_model = description.embeddings_model
    return info
