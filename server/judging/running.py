"""The judge calls: one per reply in parallel (EACH), or one for the whole table (TABLE).

A sampler that is a `HeuristicJudge` (the offline demo model) is not asked at all: its
heuristic scores each reply, marked `heuristic`. Any other sampler is asked through
`Sampler.complete` with the JSON schema, and its answer read by parsing.py; an answer cut
at max_tokens is unusable (a truncated verdict is no verdict).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from grove_explorer.server.judging.parsing import UnusableOutput, Verdict, parse_each, parse_table
from grove_explorer.server.judging.prompts import (
    EACH_SCHEMA,
    EACH_SYSTEM,
    TABLE_SCHEMA,
    TABLE_SYSTEM,
    each_prompt,
    label,
    table_prompt,
)
from grove_explorer.server.sampler.base import (
    Completion,
    FinishReason,
    HeuristicJudge,
    ResolvedParams,
    Sampler,
)

MAX_PARALLEL_CALLS = 8
"""Judge calls of one EACH request in flight at once (the rest wait their turn)."""


class UnusableVerdict(Exception):
    """The judge gave no usable score for the reply at `index`; `why` says what was wrong."""

    def __init__(self, index: int, why: str) -> None:
        super().__init__(why)
        self.index = index
        self.why = why


@dataclass(frozen=True, slots=True)
class JudgedItem:
    """One reply to judge: the prompt it answers (the path's last human message) and it."""

    prompt: str
    reply: str


@dataclass(frozen=True, slots=True)
class Verdicts:
    """The scores of a batch, in order, and whether the heuristic made them."""

    verdicts: list[Verdict]
    heuristic: bool


def _checked(completion: Completion, params: ResolvedParams) -> str:
    """The answer's text; UnusableOutput when it was cut at max_tokens."""
    if completion.finish is FinishReason.LENGTH:
        raise UnusableOutput(
            f"its answer was cut at max_tokens ({params.max_tokens}) before it was complete; "
            "judge again with a larger max_tokens"
        )
    return completion.text


async def judge_each(
    sampler: Sampler, rubric: str, items: Sequence[JudgedItem], params: ResolvedParams
) -> Verdicts:
    """One judge call per reply, at most `MAX_PARALLEL_CALLS` at once.

    Every call runs to its end; the first reply (in order) without a usable score raises
    UnusableVerdict, a failing backend its SamplerError.
    """
    if isinstance(sampler, HeuristicJudge):
        return Verdicts(_heuristic(sampler, rubric, items), heuristic=True)
    gate = asyncio.Semaphore(MAX_PARALLEL_CALLS)

    async def one(item: JudgedItem) -> Verdict:
        async with gate:
            completion = await sampler.complete(
                EACH_SYSTEM,
                each_prompt(rubric, item.prompt, item.reply),
                params,
                json_schema=EACH_SCHEMA,
            )
        return parse_each(_checked(completion, params))

    results = await asyncio.gather(*(one(item) for item in items), return_exceptions=True)
    verdicts: list[Verdict] = []
    for index, result in enumerate(results):
        if isinstance(result, UnusableOutput):
            raise UnusableVerdict(index, result.why)
        if isinstance(result, BaseException):
            raise result
        verdicts.append(result)
    return Verdicts(verdicts, heuristic=False)


async def judge_table(
    sampler: Sampler, rubric: str, prompt: str, replies: Sequence[str], params: ResolvedParams
) -> Verdicts:
    """One judge call that sees every reply (labelled A, B, C …) and scores each."""
    if isinstance(sampler, HeuristicJudge):
        items = [JudgedItem(prompt, reply) for reply in replies]
        return Verdicts(_heuristic(sampler, rubric, items), heuristic=True)
    labels = [label(i) for i in range(len(replies))]
    completion = await sampler.complete(
        TABLE_SYSTEM, table_prompt(rubric, prompt, replies), params, json_schema=TABLE_SCHEMA
    )
    try:
        return Verdicts(parse_table(_checked(completion, params), labels), heuristic=False)
    except UnusableOutput as error:
        index = labels.index(error.label) if error.label in labels else 0
        raise UnusableVerdict(index, error.why) from None


def _heuristic(judge: HeuristicJudge, rubric: str, items: Sequence[JudgedItem]) -> list[Verdict]:
    """The demo judge's scores: no call, deterministic."""
    return [Verdict(*judge.heuristic_judgement(rubric, item.prompt, item.reply)) for item in items]
