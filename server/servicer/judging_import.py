"""Checking the judgements an imported response carries (ImportConversation)."""

from __future__ import annotations

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.judging.wire import imported_judgement
from grove_explorer.server.servicer.status import abort
from grove_explorer.server.servicer.validation import check_text
from grove_explorer.server.store import NewJudgement

MAX_IMPORTED_JUDGEMENT_TEXT_BYTES = 64_000
"""Most bytes of an imported judgement's rationale, rubric or names (each)."""


async def imported_judgements(
    where: str, wire: chat_pb2.Response, context: grpc.aio.ServicerContext
) -> tuple[NewJudgement, ...]:
    """The response's judgements as the store inserts them, or INVALID_ARGUMENT saying why.

    Judgements are a model reply's only; each has a score within 0-10, a known mode, and
    texts of bounded size without NUL. Their ids are new; time and batch are kept.
    """
    if wire.sender != "model":
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{where}: only model replies carry judgements.",
        )
    found: list[NewJudgement] = []
    for index, judgement in enumerate(wire.judgements):
        at = f"{where}, judgement {index + 1}"
        for name in ("rationale", "rubric", "judge_model", "rubric_name", "batch_id"):
            await check_text(
                f"{at}: {name}",
                getattr(judgement, name),
                MAX_IMPORTED_JUDGEMENT_TEXT_BYTES,
                context,
            )
        record = imported_judgement(judgement)
        if record is None:
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{at}: its score must lie within 0-10 and its mode be EACH or TABLE "
                f"(score {judgement.score}, mode {judgement.mode}).",
            )
        found.append(record)
    return tuple(found)
