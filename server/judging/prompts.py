"""What a judge model is asked, and the JSON schemas its answers are constrained by.

Every prompt describes the answer's format in words as well as by schema, so an endpoint
that refuses structured output (or a local model without a grammar) still knows what to
write. Texts are fenced with <<< >>> so a reply that itself contains "Score: 3" is read
as the reply, not as an instruction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

EACH_SYSTEM = (
    "You are a strict, fair judge. You score one reply to a prompt from 0 to 10 against a "
    "rubric. Answer with one JSON object only, no prose around it: "
    '{"score": <number from 0 to 10>, "rationale": "<one or two sentences>"}.'
)
TABLE_SYSTEM = (
    "You are a strict, fair judge. You compare several replies to one prompt and score "
    "each from 0 to 10 against a rubric, using the whole range to separate them. Answer "
    "with one JSON object only, no prose around it: "
    '{"scores": [{"label": "<the reply\'s label>", "score": <number from 0 to 10>, '
    '"rationale": "<one or two sentences>"}, ...]} with one entry for every label.'
)
POINTS_SYSTEM = (
    "You list the distinct points that several replies make. A point is one short "
    "sentence; a point made by several replies is listed once with all their labels. "
    "Answer with one JSON object only, no prose around it: "
    '{"points": [{"text": "<the point>", "replies": ["<label>", ...]}, ...]}.'
)

EACH_SCHEMA: Mapping[str, Any] = {
    "name": "judgement",
    "schema": {
        "type": "object",
        "properties": {"score": {"type": "number"}, "rationale": {"type": "string"}},
        "required": ["score", "rationale"],
        "additionalProperties": False,
    },
}
TABLE_SCHEMA: Mapping[str, Any] = {
    "name": "judgements",
    "schema": {
        "type": "object",
        "properties": {
            "scores": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "label": {"type": "string"},
                        "score": {"type": "number"},
                        "rationale": {"type": "string"},
                    },
                    "required": ["label", "score", "rationale"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["scores"],
        "additionalProperties": False,
    },
}
POINTS_SCHEMA: Mapping[str, Any] = {
    "name": "points",
    "schema": {
        "type": "object",
        "properties": {
            "points": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string"},
                        "replies": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["text", "replies"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["points"],
        "additionalProperties": False,
    },
}


def label(index: int) -> str:
    """The label of the index-th reply: A … Z, then AA, AB … (as spreadsheet columns)."""
    text = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        text = chr(ord("A") + rest) + text
    return text


def each_prompt(rubric: str, prompt: str, reply: str) -> str:
    """The user message of one pointwise judge call."""
    return (
        f"Rubric:\n{rubric}\n\nPrompt:\n<<<\n{prompt}\n>>>\n\nReply:\n<<<\n{reply}\n>>>\n\n"
        'Answer with the JSON object {"score": ..., "rationale": ...} only.'
    )


def table_prompt(rubric: str, prompt: str, replies: Sequence[str]) -> str:
    """The user message of one call that scores every reply, each under its label."""
    blocks = "\n\n".join(f"Reply {label(i)}:\n<<<\n{reply}\n>>>" for i, reply in enumerate(replies))
    labels = ", ".join(label(i) for i in range(len(replies)))
    return (
        f"Rubric:\n{rubric}\n\nPrompt:\n<<<\n{prompt}\n>>>\n\n{blocks}\n\n"
        f'Answer with the JSON object {{"scores": [...]}} only, one entry for each of {labels}.'
    )


def points_prompt(replies: Sequence[str]) -> str:
    """The user message asking for the points of the labelled replies."""
    blocks = "\n\n".join(f"Reply {label(i)}:\n<<<\n{reply}\n>>>" for i, reply in enumerate(replies))
    return f'{blocks}\n\nAnswer with the JSON object {{"points": [...]}} only.'
