"""Wire messages → client models, in one place.

Every proto the SDK receives becomes a client model here and nowhere else: a `Response`
becomes a `ResponseNode` (which the forest holds and the SDK's `Response` handle reads), a
`Conversation` a `ConversationSummary`, a sampled `Token` a `TokenInfo`. A new field of a
Response is read in `node_from_proto` and declared on `ResponseNode`; every reader (the
SDK handle, the service, the widgets, export) then sees it.
"""

from __future__ import annotations

import datetime
import gc
from collections.abc import Iterable

from grove_explorer.client.finish import finish_reason_from_proto
from grove_explorer.client.judgements import Judgement, merge_mode_name
from grove_explorer.client.models import (
    ConversationSummary,
    ReportedUsage,
    ResponseNode,
    SamplingInfo,
    TokenInfo,
)
from grove_explorer.client.research import Annotation
from grove_explorer.client.timestamps import utc_datetime as utc_datetime
from grove_explorer.protos import chat_pb2, sampler_public_pb2

_NO_ANNOTATION = Annotation()


def sampling_from_proto(wire: sampler_public_pb2.SamplingParams) -> SamplingInfo:
    """Sampling parameters as recorded on a response; absent fields become None.

    What `SamplingInfo(temperature=…, top_p=…, max_tokens=…, seed=…)` returns, without the
    validation: the wire's types are the fields' own (float, float, int, int), and a loaded
    conversation converts one per reply (a test compares the two).
    """
    info = _new_sampling(SamplingInfo)
    _set_attribute(
        info,
        "__dict__",
        {
            "temperature": wire.temperature if wire.HasField("temperature") else None,
            "top_p": wire.top_p if wire.HasField("top_p") else None,
            "max_tokens": wire.max_tokens if wire.HasField("max_tokens") else None,
            "seed": wire.seed if wire.HasField("seed") else None,
        },
    )
    _set_attribute(info, "__pydantic_fields_set__", set(_SAMPLING_FIELDS))
    _set_attribute(info, "__pydantic_extra__", None)
    _set_attribute(info, "__pydantic_private__", None)
    return info


_SAMPLING_FIELDS = ("temperature", "top_p", "max_tokens", "seed")
_new_sampling = SamplingInfo.__new__
_set_attribute = object.__setattr__


def nodes_from_proto(wires: Iterable[chat_pb2.Response]) -> list[ResponseNode]:
    """`node_from_proto` of each, with the cyclic garbage collector paused meanwhile.

    Every node brings several new containers (its dicts and sets) and none is garbage: a
    10,000-response conversation set off collection after collection of the growing young
    generations, which took about as long as the conversion itself (bench.store
    --part exporting). It resumes at the end, to collect as it would have.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return [node_from_proto(wire) for wire in wires]
    finally:
        if paused:
            gc.enable()


def node_from_proto(wire: chat_pb2.Response) -> ResponseNode:
    """The forest node of a wire response (it keeps the message for `Response.proto`).

    Built with `ResponseNode.trusted` (every field given): a loaded conversation converts
    every one of its responses here.
    """
    created = utc_datetime(wire.create_time)
    # Every field, in declaration order (a test compares with `model_construct`).
    fields = {
        "response_id": wire.response_id,
        "parent_id": wire.parent_response_id or None,
        "sender": wire.sender,
        "message": wire.message,
        "create_time": created,
        "manual": wire.manual,
        "partial": wire.partial,
        "shared": wire.shared,
        "query": wire.query,
        "query_type": wire.query_type,
        "model_name": wire.model_name,
        "sampling": sampling_from_proto(wire.sampling_params)
        if wire.HasField("sampling_params")
        else None,
        "token_count": wire.token_count,
        "time_to_first_token": wire.time_to_first_token_seconds,
        "total_time": wire.total_time_seconds,
        "streaming": False,
        "mean_logprob": None,
        "prefix_length": wire.prefix_length,
        "finish_reason": finish_reason_from_proto(wire.finish_reason),
        "annotation": Annotation.from_proto(wire.annotation)
        if wire.HasField("annotation")
        else _NO_ANNOTATION,
        "start_time": _start_time(wire, created),
        "reported_usage": ReportedUsage(
            prompt_tokens=wire.reported_usage.prompt_tokens,
            completion_tokens=wire.reported_usage.completion_tokens,
        )
        if wire.HasField("reported_usage")
        else None,
        "judgements": tuple(Judgement.from_proto(j) for j in wire.judgements)
        if wire.judgements
        else (),
        "merged_from": tuple(wire.merged_from) if wire.merged_from else (),
        "merge_mode": merge_mode_name(wire.merge_mode),
        "merge_instruction": wire.merge_instruction,
        "replay_of": wire.replay_of,
        "system_prompt_name": wire.system_prompt_name
        if wire.HasField("system_prompt_name")
        else None,
        "made_by": None,
        "author": wire.author_user_id,
    }
    node = ResponseNode.trusted(fields)
    node._proto = wire
    return node


def _start_time(wire: chat_pb2.Response, created: datetime.datetime) -> datetime.datetime | None:
    """The response's start time; the creation time's datetime when the two are equal.

    The store gives a response stored at once (a human message, a manual reply) its
    creation time as start time: one conversion instead of two.
    """
    if not wire.HasField("start_time"):
        return None
    start, create = wire.start_time, wire.create_time
    if start.seconds == create.seconds and start.nanos == create.nanos:
        return created
    return utc_datetime(start)


def summary_from_proto(conversation: chat_pb2.Conversation) -> ConversationSummary:
    """A conversation's metadata from the wire form (listing or loaded conversation).

    `response_count` counts the stored responses when the message carries them.
    """
    return ConversationSummary(
        conversation_id=conversation.conversation_id,
        title=conversation.title,
        starred=conversation.starred,
        create_time=conversation.create_time.ToDatetime()
        if conversation.HasField("create_time")
        else None,
        update_time=conversation.update_time.ToDatetime()
        if conversation.HasField("update_time")
        else None,
        response_count=conversation.response_count or len(conversation.responses),
        owner_user_id=conversation.owner_user_id,
        role=role_name(conversation.role),
        caller_user_id=conversation.caller_user_id,
    )


_ROLE_NAMES: dict[int, str] = {
    chat_pb2.SHARE_ROLE_WRITER: "writer",
    chat_pb2.SHARE_ROLE_READER: "reader",
}


def role_name(role: int) -> str:
    """A wire ShareRole as "owner", "writer" or "reader" (unset, from older servers: owner)."""
    return _ROLE_NAMES.get(role, "owner")


def token_from_proto(token: sampler_public_pb2.Token) -> TokenInfo:
    """A wire token as a TokenInfo (an unknown logprob becomes None, never 0)."""
    return TokenInfo(
        token.final_logit.string_token,
        None if token.logprob_unknown else token.final_logit.logprob,
        tuple((a.string_token, a.logprob) for a in token.top_logits),
    )
