"""Judgements to and from protobuf: replies' judgements, GetConversation, imports."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import set_time
from grove_explorer.server.store import JudgementRecord, NewJudgement, SamplingRecord

MODE_TO_WIRE: dict[str, chat_pb2.JudgeMode] = {
    "each": chat_pb2.JUDGE_MODE_EACH,
    "table": chat_pb2.JUDGE_MODE_TABLE,
}
"""Stored judge modes → the wire enum."""
MODE_FROM_WIRE: dict[int, str] = {
    chat_pb2.JUDGE_MODE_UNSPECIFIED: "each",
    chat_pb2.JUDGE_MODE_EACH: "each",
    chat_pb2.JUDGE_MODE_TABLE: "table",
}
"""The wire enum → stored modes (UNSPECIFIED is EACH); other numbers are unknown."""


def judgement_to_proto(record: JudgementRecord) -> chat_pb2.Judgement:
    """The wire form of a stored judgement."""
    judgement = record.judgement
    wire = chat_pb2.Judgement(
        judgement_id=record.judgement_id,
        response_id=judgement.response_id,
        score=judgement.score,
        rationale=judgement.rationale,
        judge_model=judgement.judge_model,
        rubric_name=judgement.rubric_name,
        rubric=judgement.rubric,
        mode=MODE_TO_WIRE.get(judgement.mode, chat_pb2.JUDGE_MODE_EACH),
        batch_id=record.batch_id,
        heuristic=judgement.heuristic,
        asked_by_user_id=record.asked_by,
    )
    sampling = judgement.sampling
    if sampling is not None:
        params = wire.sampling_params
        params.temperature = sampling.temperature
        params.top_p = sampling.top_p
        params.max_tokens = sampling.max_tokens
        params.seed = sampling.seed
    set_time(wire.create_time, record.create_time)
    return wire


def attach_judgements(
    conversation: chat_pb2.Conversation, judgements: Mapping[str, Sequence[JudgementRecord]]
) -> None:
    """Adds each response's judgements (oldest first) to a conversation's wire form.

    Nothing at all is done for a conversation without judgements, so loading a large one
    that was never judged costs no pass over its responses.
    """
    if not judgements:
        return
    for response in conversation.responses:
        found = judgements.get(response.response_id)
        if found:
            response.judgements.extend(judgement_to_proto(j) for j in found)


def imported_judgement(wire: chat_pb2.Judgement) -> NewJudgement | None:
    """A judgement of an imported response as the store inserts it; None if unusable.

    The caller has checked its texts; a score that is not within 0-10 or an unknown
    mode makes it None (the importer refuses the file then, with a sentence).
    """
    if not (math.isfinite(wire.score) and 0.0 <= wire.score <= 10.0):
        return None
    mode = MODE_FROM_WIRE.get(wire.mode)
    if mode is None:
        return None
    sampling = None
    params = wire.sampling_params
    if wire.HasField("sampling_params") and all(
        params.HasField(name) for name in ("temperature", "top_p", "max_tokens", "seed")
    ):
        sampling = SamplingRecord(
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
            seed=params.seed,
        )
    return NewJudgement(
        response_id="",
        score=wire.score,
        rationale=wire.rationale,
        judge_model=wire.judge_model,
        rubric_name=wire.rubric_name,
        rubric=wire.rubric,
        sampling=sampling,
        mode=mode,
        heuristic=wire.heuristic,
        create_time=wire.create_time.ToDatetime(tzinfo=UTC)
        if wire.HasField("create_time")
        else None,
        batch_id=wire.batch_id,
    )
