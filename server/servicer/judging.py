"""JudgeResponses and ExtractPoints: checking the request, calling the judge, storing.

Every check runs before any model call (unknown, duplicate or human replies, an empty or
too long list, an unknown rubric or model, bad parameters), each with its own sentence.
A judge that gives no usable score for any reply fails the whole call with
FAILED_PRECONDITION, naming the judge and the reply, and nothing is stored; the
judgements of one call are stored in one transaction (`Store.add_judgements`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import NoReturn

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import requested_params, resolved_to_record
from grove_explorer.server.judging.parsing import UnusableOutput
from grove_explorer.server.judging.points import extract_points
from grove_explorer.server.judging.rubrics import DEFAULT_RUBRIC_NAME, MAX_RUBRIC_CHARS
from grove_explorer.server.judging.running import (
    JudgedItem,
    UnusableVerdict,
    Verdicts,
    judge_each,
    judge_table,
)
from grove_explorer.server.judging.wire import MODE_FROM_WIRE, judgement_to_proto
from grove_explorer.server.sampler.base import (
    InvalidParamsError,
    RequestedParams,
    ResolvedParams,
    Sampler,
    SamplerError,
)
from grove_explorer.server.servicer.lookups import conversation_id_or_abort, sampler_or_abort
from grove_explorer.server.servicer.reply_streaming import (
    BACKEND_ERROR_KEY,
    RETRY_AFTER_KEY,
    UPSTREAM_STATUS,
)
from grove_explorer.server.servicer.status import abort, abort_not_found, check_id, quote
from grove_explorer.server.store import (
    NewJudgement,
    ResponseRecord,
    Store,
    UnknownConversationError,
    UnknownParentError,
)

JUDGE_ERROR_KEY = "grove-judge-error"
"""Trailing metadata marking unusable judge output (the SDK raises UnusableJudgementError)."""
MAX_JUDGED_REPLIES = 32
"""Most replies one JudgeResponses or ExtractPoints call takes (a larger batch is refused
with the count, never cut)."""
JUDGE_MAX_TOKENS = 1024
"""A judge call's max_tokens when the request gives none (the backend's limit permitting)."""


class Judging:
    """The bodies of JudgeResponses and ExtractPoints (rpcs.py calls them)."""

    def __init__(
        self,
        store: Store,
        samplers: Mapping[str, Sampler],
        default_model: str,
        rubrics: Mapping[str, str],
    ) -> None:
        self._store = store
        self._samplers = samplers
        self._default_model = default_model
        self._rubrics = dict(rubrics)

    @property
    def rubrics(self) -> Mapping[str, str]:
        """The rubrics by name, "default" first."""
        return self._rubrics

    async def judge(
        self,
        user: str,
        request: chat_pb2.JudgeResponsesRequest,
        context: grpc.aio.ServicerContext,
        *,
        author: str = "",
    ) -> chat_pb2.JudgeResponsesResponse:
        """Scores the requested replies and stores the judgements (see the module).

        `user` owns the conversation; the judgements are `author`'s ("": the owner's).
        """
        conversation_id = await conversation_id_or_abort(
            self._store, user, request.conversation_id, context
        )
        ids = await _reply_ids(request.response_ids, "judge", context)
        mode = MODE_FROM_WIRE.get(request.mode)
        if mode is None:
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Unknown judge mode {request.mode}; use EACH or TABLE.",
            )
        rubric_name, rubric = await self._rubric(request.rubric_name, request.criteria, context)
        judge_name, sampler = await self._sampler(request.model_name, context)
        params = await _params(sampler, requested_params(request.sampling_params), context)
        replies = await self._replies(user, conversation_id, ids, "judged", context)
        items = [
            JudgedItem(_prompt_of(reply, replies), reply.message) for reply in ids_of(ids, replies)
        ]
        try:
            if mode == "table":
                prompts = {item.prompt for item in items}
                if len(prompts) > 1:
                    await abort(
                        context,
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"Table mode compares replies to one prompt; these {len(items)} "
                        f"replies answer {len(prompts)} different prompts. Judge them in "
                        "EACH mode, or choose siblings.",
                    )
                verdicts = await judge_table(
                    sampler, rubric, items[0].prompt, [i.reply for i in items], params
                )
            else:
                verdicts = await judge_each(sampler, rubric, items, params)
        except UnusableVerdict as error:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"The judge model {quote(judge_name)} gave no usable score for reply "
                f"{quote(ids[error.index])}: {error.why}. Nothing was stored.",
                trailing_metadata=((JUDGE_ERROR_KEY, "unusable"),),
            )
        except SamplerError as error:
            await _abort_backend(context, error)
        new = _judgements(ids, verdicts, judge_name, rubric_name, rubric, params, mode)
        try:
            stored = await self._store.add_judgements(user, conversation_id, new, author=author)
        except UnknownConversationError:
            await abort_not_found(context, conversation_id)
        except UnknownParentError as error:
            await abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                f"Reply {quote(str(error))} was deleted while it was judged; nothing was stored.",
            )
        return chat_pb2.JudgeResponsesResponse(
            judgements=[judgement_to_proto(record) for record in stored]
        )

    async def extract_points(
        self, user: str, request: chat_pb2.ExtractPointsRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.ExtractPointsResponse:
        """The points the requested replies make (more replies first); nothing is stored."""
        conversation_id = await conversation_id_or_abort(
            self._store, user, request.conversation_id, context
        )
        ids = await _reply_ids(request.response_ids, "read", context)
        name, sampler = await self._sampler(request.model_name, context)
        params = await _params(sampler, RequestedParams(), context)
        replies = await self._replies(user, conversation_id, ids, "read", context)
        texts = [reply.message for reply in ids_of(ids, replies)]
        try:
            points, heuristic = await extract_points(sampler, texts, params)
        except UnusableOutput as error:
            await abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"The model {quote(name)} gave no usable list of points: {error.why}.",
            )
        except SamplerError as error:
            await _abort_backend(context, error)
        return chat_pb2.ExtractPointsResponse(
            points=[
                chat_pb2.Point(text=point.text, response_ids=[ids[i] for i in point.replies])
                for point in points
            ],
            heuristic=heuristic,
        )

    async def _rubric(
        self, name: str, criteria: str, context: grpc.aio.ServicerContext
    ) -> tuple[str, str]:
        """(rubric name, its text): typed criteria win ("" name), else the named rubric."""
        if criteria.strip():
            if len(criteria) > MAX_RUBRIC_CHARS or "\x00" in criteria:
                await abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"criteria has {len(criteria)} characters; the limit is "
                    f"{MAX_RUBRIC_CHARS}, with no NUL.",
                )
            return "", criteria.strip()
        chosen = name or DEFAULT_RUBRIC_NAME
        text = self._rubrics.get(chosen)
        if text is None:
            known = ", ".join(self._rubrics)
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Unknown rubric {quote(name)}; this server has: {known}.",
            )
        return chosen, text

    async def _sampler(
        self, model_name: str, context: grpc.aio.ServicerContext
    ) -> tuple[str, Sampler]:
        """The named model (the default for ""), or INVALID_ARGUMENT naming the known ones."""
        return await sampler_or_abort(self._samplers, self._default_model, model_name, context)

    async def _replies(
        self,
        user: str,
        conversation_id: str,
        ids: Sequence[str],
        verb: str,
        context: grpc.aio.ServicerContext,
    ) -> dict[str, ResponseRecord]:
        """Every response of the conversation by id, after checking the requested ones.

        One read of the conversation: the prompts are found by walking up from each reply.
        """
        stored = await self._store.list_responses(user, conversation_id)
        responses = {r.response_id: r for r in stored}
        for response_id in ids:
            found = responses.get(response_id)
            if found is None:
                await abort(
                    context,
                    grpc.StatusCode.NOT_FOUND,
                    f"Reply {quote(response_id)} is not in conversation {quote(conversation_id)}.",
                )
            if found.sender != "model":
                await abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Response {quote(response_id)} is a human message; only model replies "
                    f"are {verb}.",
                )
        return responses


def ids_of(ids: Sequence[str], replies: Mapping[str, ResponseRecord]) -> list[ResponseRecord]:
    """The requested replies' records, in the order asked."""
    return [replies[response_id] for response_id in ids]


async def _reply_ids(
    given: Sequence[str], verb: str, context: grpc.aio.ServicerContext
) -> list[str]:
    """The requested ids: at least one, at most `MAX_JUDGED_REPLIES`, well formed, distinct."""
    ids = list(given)
    if not ids:
        await abort(
            context, grpc.StatusCode.INVALID_ARGUMENT, f"Give at least one reply to {verb}."
        )
    if len(ids) > MAX_JUDGED_REPLIES:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{len(ids)} replies were given; one call takes at most {MAX_JUDGED_REPLIES}.",
        )
    seen: set[str] = set()
    for response_id in ids:
        await check_id("response id", response_id, context)
        if response_id in seen:
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Reply {quote(response_id)} is listed twice.",
            )
        seen.add(response_id)
    return ids


async def _params(
    sampler: Sampler, requested: RequestedParams, context: grpc.aio.ServicerContext
) -> ResolvedParams:
    """The judge's parameters: temperature 0 and `JUDGE_MAX_TOKENS` unless given.

    The seed is drawn when none is given (and stored). A backend whose limit is below
    `JUDGE_MAX_TOKENS` gets its own default instead.
    """
    if requested.temperature is None:
        requested = replace(requested, temperature=0.0)
    try:
        if requested.max_tokens is None:
            try:
                return sampler.resolve_params(replace(requested, max_tokens=JUDGE_MAX_TOKENS))
            except InvalidParamsError:
                pass
        return sampler.resolve_params(requested)
    except InvalidParamsError as error:
        await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))


def _prompt_of(reply: ResponseRecord, responses: Mapping[str, ResponseRecord]) -> str:
    """The last human message on the reply's path ("" when there is none)."""
    parent = reply.parent_response_id
    while parent:
        node = responses.get(parent)
        if node is None:
            return ""
        if node.sender == "human":
            return node.message
        parent = node.parent_response_id
    return ""


def _judgements(
    ids: Sequence[str],
    verdicts: Verdicts,
    judge: str,
    rubric_name: str,
    rubric: str,
    params: ResolvedParams,
    mode: str,
) -> list[NewJudgement]:
    """The judgements to store, one per reply in the order asked."""
    sampling = resolved_to_record(params)
    return [
        NewJudgement(
            response_id=response_id,
            score=verdict.score,
            rationale=verdict.rationale,
            judge_model=judge,
            rubric_name=rubric_name,
            rubric=rubric,
            sampling=sampling,
            mode=mode,
            heuristic=verdicts.heuristic,
        )
        for response_id, verdict in zip(ids, verdicts.verdicts, strict=True)
    ]


async def _abort_backend(context: grpc.aio.ServicerContext, error: SamplerError) -> NoReturn:
    """Ends the call as the judge's backend failed (the status AddResponse gives it)."""
    trailing = [(BACKEND_ERROR_KEY, error.kind.value)]
    if error.retry_after_seconds is not None:
        trailing.append((RETRY_AFTER_KEY, f"{error.retry_after_seconds:g}"))
    await context.abort(
        UPSTREAM_STATUS[error.kind], error.message, trailing_metadata=tuple(trailing)
    )
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover
