"""ExtractPoints: the points a batch of replies makes, merged across replies.

A language model is asked for {"points": [{"text", "replies": [labels]}]} (prompts.py)
and its labels are mapped back to the replies. The offline demo model gets a heuristic
instead (marked `heuristic`): every sentence of every reply is a candidate point, and
sentences whose word sets overlap by at least `NEAR_IDENTICAL` (Jaccard) are one point,
made by every reply that has one of them. Either way points made by more replies come
first (ties: in order of first appearance).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from grove_explorer.server.judging.parsing import UnusableOutput, parse_points
from grove_explorer.server.judging.prompts import POINTS_SCHEMA, POINTS_SYSTEM, label, points_prompt
from grove_explorer.server.sampler.base import (
    FinishReason,
    HeuristicJudge,
    ResolvedParams,
    Sampler,
)

log = logging.getLogger(__name__)

NEAR_IDENTICAL = 0.6
"""Jaccard overlap of two sentences' word sets from which they make one point."""
_SENTENCE_RE = re.compile(r"[^.!?\n]+[.!?]?")
_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True, slots=True)
class ExtractedPoint:
    """One point and the indexes of the replies that make it."""

    text: str
    replies: tuple[int, ...]


@dataclass(slots=True)
class _Group:
    text: str
    words: frozenset[str]
    first: int
    replies: list[int] = field(default_factory=list)


def heuristic_points(replies: Sequence[str]) -> list[ExtractedPoint]:
    """Shared sentences as points (see the module); deterministic."""
    groups: list[_Group] = []
    order = 0
    for index, reply in enumerate(replies):
        for match in _SENTENCE_RE.finditer(reply):
            sentence = " ".join(match.group(0).split())
            words = frozenset(_WORD_RE.findall(sentence.lower()))
            if not words:
                continue
            group = next((g for g in groups if _overlap(g.words, words) >= NEAR_IDENTICAL), None)
            if group is None:
                group = _Group(sentence, words, order)
                groups.append(group)
                order += 1
            if index not in group.replies:
                group.replies.append(index)
    groups.sort(key=lambda g: (-len(g.replies), g.first))
    return [ExtractedPoint(g.text, tuple(g.replies)) for g in groups]


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard overlap of two word sets."""
    return len(a & b) / len(a | b)


async def extract_points(
    sampler: Sampler, replies: Sequence[str], params: ResolvedParams
) -> tuple[list[ExtractedPoint], bool]:
    """The points of `replies` (more replies first) and whether the heuristic found them.

    Raises UnusableOutput when a model's answer has no points list or was cut at
    max_tokens; SamplerError when the backend fails.
    """
    if isinstance(sampler, HeuristicJudge):
        return heuristic_points(replies), True
    labels = [label(i) for i in range(len(replies))]
    completion = await sampler.complete(
        POINTS_SYSTEM, points_prompt(replies), params, json_schema=POINTS_SCHEMA
    )
    if completion.finish is FinishReason.LENGTH:
        raise UnusableOutput(
            f"its answer was cut at max_tokens ({params.max_tokens}); ask again with a "
            "larger max_tokens"
        )
    parsed = parse_points(completion.text, labels)
    points = [
        ExtractedPoint(text, tuple(labels.index(name) for name in names))
        for text, names in parsed
        if text and names
    ]
    if len(points) < len(parsed):
        log.info(
            "ExtractPoints: %d of %d points had no text or no known reply label and were left out",
            len(parsed) - len(points),
            len(parsed),
        )
    order = {id(p): i for i, p in enumerate(points)}
    points.sort(key=lambda p: (-len(p.replies), order[id(p)]))
    return points, False
