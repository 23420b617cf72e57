"""Reading a judge model's answer: strict about scores, tolerant about wrapping.

JSON is looked for where models put it — the whole answer, a ``` fence, or the first
object after some prose (a <think> block is dropped first). Without JSON, a "Score: 7"
or "7/10" line still counts for a pointwise judgement. A score outside 0-10, not a
number, or missing is never clamped or guessed: `UnusableOutput` says why, and the
servicer then stores nothing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_THINK_RE = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_FENCE_RE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_SCORE_LINE_RE = re.compile(
    r"\bscore\s*[:=]?\s*\**\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*10\b|out of 10\b)?", re.IGNORECASE
)
_OUT_OF_TEN_RE = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:/\s*10\b|out of 10\b)", re.IGNORECASE)
_LABEL_PREFIX_RE = re.compile(r"^\s*(?:reply|response|answer)\s+", re.IGNORECASE)
_SHOWN_CHARS = 80


class UnusableOutput(ValueError):
    """A judge's answer gave no usable score; `why` says what was wrong, `label` for whom.

    `label` is the reply's label in a table answer ("" when the whole answer is unusable).
    """

    def __init__(self, why: str, label: str = "") -> None:
        super().__init__(why)
        self.why = why
        self.label = label


@dataclass(frozen=True, slots=True)
class Verdict:
    """One score (0-10) and its rationale."""

    score: float
    rationale: str


def shown(text: str) -> str:
    """The start of a model's answer, quoted for an error sentence."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= _SHOWN_CHARS else flat[:_SHOWN_CHARS] + "…")


def json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in `text` (whole, fenced, or after prose); None if none."""
    body = _THINK_RE.sub("", text).strip()
    candidates = [body, *(m.group(1).strip() for m in _FENCE_RE.finditer(body))]
    for candidate in candidates:
        try:
            found = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(found, dict):
            return found
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", body):
        try:
            found, _ = decoder.raw_decode(body, match.start())
        except ValueError:
            continue
        if isinstance(found, dict):
            return found
    return None


def score_of(value: object) -> float:
    """A score given as a JSON number (or a numeric string), checked to lie in 0-10."""
    if isinstance(value, bool) or value is None:
        raise UnusableOutput(f"its score {value!r} is not a number")
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*10)?\s*", value)
        if match is None:
            raise UnusableOutput(f"its score {value!r} is not a number")
        value = float(match.group(1))
    if not isinstance(value, int | float):
        raise UnusableOutput(f"its score {value!r} is not a number")
    score = float(value)
    if not math.isfinite(score) or not 0.0 <= score <= 10.0:
        raise UnusableOutput(f"its score {value} is outside 0-10")
    return score


def parse_each(text: str) -> Verdict:
    """A pointwise answer: {"score", "rationale"}, or a "Score: N" line with prose."""
    found = json_object(text)
    if found is not None:
        if "score" not in found:
            raise UnusableOutput(f'its JSON has no "score": {shown(text)}')
        return Verdict(score_of(found["score"]), _rationale(found.get("rationale")))
    body = _THINK_RE.sub("", text).strip()
    match = _SCORE_LINE_RE.search(body) or _OUT_OF_TEN_RE.search(body)
    if match is None:
        raise UnusableOutput(f'no JSON object and no "Score: N" in its answer {shown(text)}')
    line_start = body.rfind("\n", 0, match.start()) + 1
    line_end = body.find("\n", match.end())
    line_end = len(body) if line_end < 0 else line_end
    left = body[line_start : match.start()] + " " + body[match.end() : line_end]
    left = left.lstrip(" \t:-*.,;").rstrip(" \t:-*")
    rest = [body[:line_start], left if left.strip(".") else "", body[line_end:]]
    return Verdict(score_of(float(match.group(1))), " ".join(" ".join(rest).split()))


def parse_table(text: str, labels: Sequence[str]) -> list[Verdict]:
    """A table answer: {"scores": [{"label", "score", "rationale"}, ...]}, in `labels` order.

    Also read: "scores" as an object from label to {score, rationale} or to a number.
    A label missing from the answer, or given twice, is unusable output.
    """
    found = json_object(text)
    if found is None:
        raise UnusableOutput(f"no JSON object in its answer {shown(text)}")
    raw = found.get("scores")
    entries: list[tuple[object, object, object]] = []
    if isinstance(raw, list):
        for item in raw:
            if not isinstance(item, dict):
                raise UnusableOutput(f'an entry of "scores" is not an object: {item!r}')
            entries.append((item.get("label"), item.get("score"), item.get("rationale")))
    elif isinstance(raw, dict):
        for key, item in raw.items():
            if isinstance(item, dict):
                entries.append((key, item.get("score"), item.get("rationale")))
            else:
                entries.append((key, item, ""))
    else:
        raise UnusableOutput(f'its JSON has no "scores" list: {shown(text)}')
    by_label: dict[str, Verdict] = {}
    for given, score, rationale in entries:
        name = _LABEL_PREFIX_RE.sub("", str(given or "")).strip().upper()
        if name not in labels:
            continue  # a label that was never asked about is ignored
        if name in by_label:
            raise UnusableOutput(f"it scored reply {name} twice", name)
        try:
            by_label[name] = Verdict(score_of(score), _rationale(rationale))
        except UnusableOutput as error:
            raise UnusableOutput(error.why, name) from None
    for name in labels:
        if name not in by_label:
            raise UnusableOutput(f"its answer has no score for reply {name}", name)
    return [by_label[name] for name in labels]


def parse_points(text: str, labels: Sequence[str]) -> list[tuple[str, list[str]]]:
    """A points answer: {"points": [{"text", "replies": [labels]}]}; unknown labels dropped.

    Every entry is returned (its text may be empty, its labels none); points.py leaves
    those out and says how many.
    """
    found = json_object(text)
    if found is None or not isinstance(found.get("points"), list):
        raise UnusableOutput(f'no JSON object with a "points" list in its answer {shown(text)}')
    points: list[tuple[str, list[str]]] = []
    for item in found["points"]:
        if not isinstance(item, dict):
            continue
        point = " ".join(str(item.get("text") or "").split())
        replies = item.get("replies")
        names = [
            _LABEL_PREFIX_RE.sub("", str(r)).strip().upper()
            for r in (replies if isinstance(replies, list) else [])
        ]
        known = list(dict.fromkeys(n for n in names if n in labels))
        points.append((point, known))
    return points


def _rationale(value: object) -> str:
    """A rationale as plain text (whitespace collapsed); "" when absent."""
    if value is None:
        return ""
    return " ".join(str(value).split())
