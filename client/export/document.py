"""The export document: a loaded conversation as a lossless, JSON-ready dict.

`export_json(conversation, tokens_by_id)` turns a loaded SDK `Conversation` (plus the
tokens of its model replies, see `collect_tokens`) into the *export document*: every field
the API exposes, tokens with their logprobs and alternatives included, so
`import_request(document)` rebuilds the same forest on any server. `dumps` writes it.

Floats that travel as float32 on the wire (temperature, top-p, logprobs) are written as the
shortest decimal that reads back as the same float32 (0.7 rather than 0.699999988079071):
no information is lost and an export → import → export round trip is byte-stable.

A shared conversation's document also says whose each part is where it is not the owner's
(`owner_user_id`, a response's `author_user_id`, its marks' `set_by_user_id`). An import
does not take those over: the imported tree is its importer's, who made all of it.

The format's name and version, `dumps` and `shortest_float32` live in `json_format` (which
loads no SDK model: `grove import` needs them, not this module) and are re-exported here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from grove_explorer.client.conversation import Conversation
from grove_explorer.client.export.json_format import FORMAT_NAME as FORMAT_NAME
from grove_explorer.client.export.json_format import FORMAT_VERSION as FORMAT_VERSION
from grove_explorer.client.export.json_format import Document as Document
from grove_explorer.client.export.json_format import TokenLines, token_lines
from grove_explorer.client.export.json_format import dumps as dumps
from grove_explorer.client.export.json_format import shortest_float32 as shortest_float32
from grove_explorer.client.export.json_format import utc_iso as _iso
from grove_explorer.client.judgements import Judgement
from grove_explorer.client.models import ResponseNode, TokenInfo
from grove_explorer.client.research import Annotation
from grove_explorer.client.response import Response
from grove_explorer.protos import sampler_public_pb2


def token_to_dict(token: TokenInfo) -> dict[str, Any]:
    """One sampled token: `text`, `logprob` (None when unknown) and `top` [[text, logprob]]."""
    return {
        "text": token.text,
        "logprob": None if token.logprob is None else shortest_float32(token.logprob),
        "top": [[text, shortest_float32(logprob)] for text, logprob in token.top],
    }


def response_to_dict(
    response: Response | ResponseNode,
    tokens: Sequence[TokenInfo] | None = None,
    owner_user_id: str = "",
) -> dict[str, Any]:
    """Every field of one response, named as in `protos/chat.proto`.

    `tokens` is None when they were not fetched (always for human messages); a model reply
    whose tokens were fetched gets a list, empty for manual replies. Who made a response
    (`author_user_id`) and who set its marks (`annotation.set_by_user_id`) are written
    only when that was not the conversation's owner (`owner_user_id`): a shared
    conversation's export says whose they are, and the owner's own documents (every
    single-user one) are unchanged.
    """
    node = response.node if isinstance(response, Response) else response
    params = node.sampling
    annotation = node.annotation
    data: dict[str, Any] = {
        "response_id": node.response_id,
        "parent_response_id": node.parent_id,
        "sender": node.sender,
        "message": node.message,
        "create_time": _iso(node.create_time),
        "manual": node.manual,
        "partial": node.partial,
        "shared": node.shared,
        "query": node.query,
        "query_type": node.query_type,
        "model_name": node.model_name,
        "sampling_params": None
        if params is None
        else {
            "temperature": None
            if params.temperature is None
            else shortest_float32(params.temperature),
            "top_p": None if params.top_p is None else shortest_float32(params.top_p),
            "max_tokens": params.max_tokens,
            "seed": params.seed,
        },
        "token_count": node.token_count,
        "time_to_first_token_seconds": node.time_to_first_token,
        "total_time_seconds": node.total_time,
        "prefix_length": node.prefix_length,
        "start_time": _iso(node.start_time),
        "finish_reason": node.finish_reason,
        "annotation": None if annotation.empty else _annotation_dict(annotation, owner_user_id),
        "tokens": None if tokens is None else [token_to_dict(t) for t in tokens],
    }
    if node.author:  # a writer's response only ("" is the owner's)
        data["author_user_id"] = node.author
    if node.judgements:  # only then: documents of unjudged replies are unchanged
        data["judgements"] = [judgement_to_dict(j) for j in node.judgements]
    usage = node.reported_usage
    if usage is not None:  # only then: documents of replies without one are unchanged
        data["reported_usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
        }
    if node.merged_from:  # a fused reply only: other documents are unchanged
        data["merged_from"] = list(node.merged_from)
        data["merge_mode"] = node.merge_mode
        data["merge_instruction"] = node.merge_instruction
    if node.replay_of:  # a replayed turn only: other documents are unchanged
        data["replay_of"] = node.replay_of
    if node.system_prompt_name is not None:  # only where recorded (golden files have none)
        data["system_prompt_name"] = node.system_prompt_name
    return data


def _annotation_dict(annotation: Annotation, owner_user_id: str) -> dict[str, Any]:
    marks: dict[str, Any] = {
        "bookmarked": annotation.bookmarked,
        "tags": list(annotation.tags),
        "rating": annotation.rating,
        "note": annotation.note,
    }
    if annotation.set_by and annotation.set_by != owner_user_id:
        marks["set_by_user_id"] = annotation.set_by  # a writer's marks (see response_to_dict)
    return marks


def judgement_to_dict(judgement: Judgement) -> dict[str, Any]:
    """Every field of one judgement, named as in `protos/chat.proto` (`Judgement`)."""
    params = judgement.sampling
    return {
        "judgement_id": judgement.judgement_id,
        "score": judgement.score,
        "rationale": judgement.rationale,
        "judge_model": judgement.judge_model,
        "rubric_name": judgement.rubric_name,
        "rubric": judgement.rubric,
        "sampling_params": None
        if params is None
        else {
            "temperature": None
            if params.temperature is None
            else shortest_float32(params.temperature),
            "top_p": None if params.top_p is None else shortest_float32(params.top_p),
            "max_tokens": params.max_tokens,
            "seed": params.seed,
        },
        "mode": judgement.mode,
        "create_time": _iso(judgement.create_time),
        "batch_id": judgement.batch_id,
        "heuristic": judgement.heuristic,
    }


def conversation_metadata(conversation: Conversation) -> dict[str, Any]:
    """Id, title, star, times and response count of a loaded conversation."""
    return {
        "conversation_id": conversation.conversation_id,
        "title": conversation.title,
        "starred": conversation.starred,
        "create_time": _iso(conversation.create_time),
        "update_time": _iso(conversation.update_time),
        "response_count": len(conversation.responses),
    }


def export_json(
    conversation: Conversation, tokens_by_id: Mapping[str, Sequence[TokenInfo]]
) -> Document:
    """The lossless export document of a loaded conversation.

    Responses are in creation order (parents always before their children), which is
    also the order `import_request` needs. Model replies missing from `tokens_by_id` get
    `tokens: null` (not fetched), which an import treats like an empty list.
    """
    document: Document = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
    document.update(conversation_metadata(conversation))
    owner = conversation.owner_user_id
    responses = [
        response_to_dict(r, tokens_by_id.get(r.response_id) if r.sender == "model" else None, owner)
        for r in conversation.responses
    ]
    if owner and any(_names_another_user(r) for r in responses):
        # Whose the rest is, where the document names another user (a shared tree).
        document["owner_user_id"] = owner
    document["responses"] = responses
    return document


def _names_another_user(entry: Mapping[str, Any]) -> bool:
    marks = entry["annotation"]
    return "author_user_id" in entry or (marks is not None and "set_by_user_id" in marks)


async def collect_tokens(conversation: Conversation) -> dict[str, list[TokenInfo]]:
    """Fetches the tokens of every model reply (a thousand replies per call).

    A manual reply has no tokens (the server stores none for one, and an import refuses
    them), so it gets [] without being asked for.
    """
    replies = [r for r in conversation.responses if r.sender == "model"]
    fetched = await Response.tokens_of([r for r in replies if not r.manual])
    return {r.response_id: fetched.get(r.response_id, []) for r in replies}


TOKEN_REPLIES_PER_CALL = 250
"""Replies whose tokens `json_text` asks for per call (~6,000 tokens of 25-token replies)."""


async def json_text(conversation: Conversation) -> str:
    """`dumps(export_json(conversation, await collect_tokens(conversation)))`, faster.

    The same text, but each token is written straight from its wire message: building a
    `TokenInfo` and then a dict for each of a 5,000-reply path's 65,000 tokens, only to
    write them once, cost most of its export (bench.store --part exporting). And the
    tokens are asked for a few hundred replies at a time, the next call under way while
    the last batch is written (in a thread, so the event loop sends the call meanwhile):
    the server reads and converts the next batch while this process writes the last,
    instead of each waiting for the other.
    """
    replies = [r for r in conversation.responses if r.sender == "model"]
    sampled = [r for r in replies if not r.manual]
    batches = [
        sampled[start : start + TOKEN_REPLIES_PER_CALL]
        for start in range(0, len(sampled), TOKEN_REPLIES_PER_CALL)
    ]
    lines: dict[str, list[str]] = {r.response_id: [] for r in replies}
    pending = asyncio.ensure_future(Response.wire_tokens_of(batches[0])) if batches else None
    try:
        document = export_json(conversation, {})  # while the first batch is read
        for index in range(len(batches)):
            assert pending is not None
            found = await pending
            pending = None
            if index + 1 < len(batches):
                pending = asyncio.ensure_future(Response.wire_tokens_of(batches[index + 1]))
            # In a thread, so that the loop sends the next call (and reads its reply) now.
            lines.update(await asyncio.to_thread(_replies_token_lines, found))
    finally:
        if pending is not None and not pending.cancel() and not pending.cancelled():
            pending.exception()  # it had finished: a failure of its own is not news now
    for entry in document["responses"]:
        written = lines.get(entry["response_id"])
        if written is not None:
            entry["tokens"] = TokenLines(written)
    return dumps(document)


def _replies_token_lines(
    found: Mapping[str, Iterable[sampler_public_pb2.Token]],
) -> dict[str, list[str]]:
    return {response_id: token_lines(tokens) for response_id, tokens in found.items()}
