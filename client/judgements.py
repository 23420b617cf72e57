"""The research loop's records: judges' scores of replies, points of replies, fusions.

Plain frozen models (no protobuf at import), so the app, export and scripts read them
without gRPC. A `Judgement` is one judge's score of one reply with its provenance (who
judged, by which rubric, with which parameters, when), kept per user on the server next
to the reply; `ExtractedPoints` are the points a batch of replies makes (the checklist of
a checklist fusion); `Merge` describes a fused reply's sources and mode.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from grove_explorer.client.models import SamplingInfo
from grove_explorer.client.research_modes import JUDGE_MODE_NUMBERS as JUDGE_MODE_NUMBERS
from grove_explorer.client.research_modes import JUDGE_MODES as JUDGE_MODES
from grove_explorer.client.research_modes import MERGE_MODE_NUMBERS as MERGE_MODE_NUMBERS
from grove_explorer.client.research_modes import MERGE_MODES as MERGE_MODES
from grove_explorer.client.research_modes import JudgeMode as JudgeMode
from grove_explorer.client.research_modes import MergeMode as MergeMode

if TYPE_CHECKING:
    from grove_explorer.protos import chat_pb2

_JUDGE_MODE_NAMES = {number: name for name, number in JUDGE_MODE_NUMBERS.items()}
_MERGE_MODE_NAMES = {number: name for name, number in MERGE_MODE_NUMBERS.items()}

MERGE_MARK = "⊕"
"""How a fused reply is marked wherever replies are listed (tree, headers, show)."""


def merge_mode_name(number: int) -> str:
    """The mode's name for a wire number; "" for UNSPECIFIED (not a fused reply)."""
    return _MERGE_MODE_NAMES.get(number, "")


def judge_mode_name(number: int) -> JudgeMode:
    """The mode's name for a wire number (UNSPECIFIED means `each`, as the server reads it)."""
    name = _JUDGE_MODE_NAMES.get(number, "each")
    return "table" if name == "table" else "each"


class Judgement(BaseModel):
    """One judge's score (0-10) of one reply, with a short rationale and its provenance.

    `heuristic` marks the offline demo judge (keyword coverage and fluency), whose score
    is not a language model's opinion: the UI says so wherever the score is shown.
    """

    model_config = ConfigDict(frozen=True)

    judgement_id: str
    response_id: str
    score: float
    rationale: str = ""
    judge_model: str = ""
    rubric_name: str = ""
    rubric: str = ""
    sampling: SamplingInfo | None = None
    mode: JudgeMode = "each"
    create_time: datetime | None = None
    batch_id: str = ""
    heuristic: bool = False
    asked_by: str = ""
    """Who asked for it (a user id; "" when an older server does not say)."""

    @classmethod
    def from_proto(cls, wire: chat_pb2.Judgement) -> Judgement:
        """Reads the wire form."""
        return cls(
            judgement_id=wire.judgement_id,
            response_id=wire.response_id,
            score=wire.score,
            rationale=wire.rationale,
            judge_model=wire.judge_model,
            rubric_name=wire.rubric_name,
            rubric=wire.rubric,
            sampling=SamplingInfo(
                temperature=_optional(wire.sampling_params, "temperature"),
                top_p=_optional(wire.sampling_params, "top_p"),
                max_tokens=_optional(wire.sampling_params, "max_tokens"),
                seed=_optional(wire.sampling_params, "seed"),
            )
            if wire.HasField("sampling_params")
            else None,
            mode=judge_mode_name(wire.mode),
            create_time=wire.create_time.ToDatetime(tzinfo=UTC)
            if wire.HasField("create_time")
            else None,
            batch_id=wire.batch_id,
            heuristic=wire.heuristic,
            asked_by=wire.asked_by_user_id,
        )

    @property
    def rubric_label(self) -> str:
        """The rubric's name, or "custom" for criteria typed by the user."""
        return self.rubric_name or "custom"


class Point(BaseModel):
    """One point a batch of replies makes, and which replies make it."""

    model_config = ConfigDict(frozen=True)

    text: str
    response_ids: tuple[str, ...] = ()


class ExtractedPoints(BaseModel):
    """The points of a batch, those made by more replies first.

    `heuristic` marks the offline demo extraction (sentences shared by the replies).
    """

    model_config = ConfigDict(frozen=True)

    points: tuple[Point, ...] = ()
    heuristic: bool = False

    @classmethod
    def from_proto(cls, wire: chat_pb2.ExtractPointsResponse) -> ExtractedPoints:
        """Reads the wire form."""
        return cls(
            points=tuple(
                Point(text=point.text, response_ids=tuple(point.response_ids))
                for point in wire.points
            ),
            heuristic=wire.heuristic,
        )


def _optional(message: Any, name: str) -> Any:
    """An optional proto field's value, None when unset."""
    return getattr(message, name) if message.HasField(name) else None


def latest_judgement(judgements: tuple[Judgement, ...]) -> Judgement | None:
    """The newest of a reply's judgements (they are kept oldest first); None when none."""
    return judgements[-1] if judgements else None
