"""Running a sweep: every sample a sibling reply, at most `concurrency` streams at once.

Samples a sibling already holds are skipped (counted, and their stored figures reported
beside the new ones). One failing sample (a backend down, a refused parameter) is kept
with its error and the others go on; a judge that fails leaves the scores empty and says
why. The progress callback hears every finished sample.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from grove_explorer.client.catalog import ModelInfo
from grove_explorer.client.conversation import Conversation
from grove_explorer.client.errors import GroveError
from grove_explorer.client.response import Response
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.streams import ModelResponseEvent, TokensEvent
from grove_explorer.client.sweeps.done import find_done
from grove_explorer.client.sweeps.plan import SweepSample, SweepSpec, plan


@dataclass(frozen=True, slots=True)
class SweepProgress:
    """Where a running sweep is.

    `done` of `total` samples to make have finished, `failed` of them with an error;
    `skipped` were done before this run.
    """

    done: int
    total: int
    failed: int
    skipped: int


@dataclass(slots=True)
class SampleOutcome:
    """One sample's reply and figures, or its error."""

    sample: SweepSample
    response_id: str | None = None
    skipped: bool = False
    tokens: int = 0
    mean_logprob: float | None = None
    words: int = 0
    time_to_first_token: float | None = None
    total_time: float | None = None
    score: float | None = None
    error: str | None = None


@dataclass(slots=True)
class SweepResult:
    """Every sample of the grid in plan order, and what the run says about itself."""

    parent_id: str | None
    outcomes: list[SampleOutcome]
    skipped: int = 0
    failed: int = 0
    peak_concurrency: int = 0
    judge_error: str | None = None
    judged: int = 0
    notes: list[str] = field(default_factory=list)


ProgressCallback = Callable[[SweepProgress], None]
SampleCallback = Callable[[SampleOutcome], None]


def sweep_parent(conversation: Conversation, node_id: str) -> str | None:
    """The parent a sweep at `node_id` samples under.

    A reply's parent (its samples are the reply's siblings), or the human message itself.
    """
    node = conversation.get_response(node_id)
    return node.parent_response_id if node.sender == "model" else node.response_id


def _siblings(conversation: Conversation, parent_id: str | None) -> list[Response]:
    if parent_id is None:
        return list(conversation.root_responses)
    return list(conversation.get_children(parent_id))


def _fill(outcome: SampleOutcome, response: Response) -> None:
    outcome.response_id = response.response_id
    outcome.tokens = response.token_count
    outcome.words = len(response.message.split())
    outcome.time_to_first_token = response.time_to_first_token or None
    outcome.total_time = response.total_time or None


class _Gauge:
    """Counts streams running now and the most at once (what the bound must hold)."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            yield
        finally:
            self.now -= 1


async def _sample_one(
    conversation: Conversation,
    parent_id: str | None,
    spec: SweepSpec,
    outcome: SampleOutcome,
) -> None:
    sample = outcome.sample
    params = SamplingParams(
        temperature=sample.temperature,
        top_p=sample.top_p,
        max_tokens=spec.max_tokens,
        seed=sample.seed,
    )
    stream = conversation.sample(
        "",
        parent_response_id=parent_id,
        sampling=params,
        model_name=sample.model,
        system_prompt=None if sample.system_prompt is None else (True, sample.system_prompt),
    )
    logprobs: list[float] = []
    response: Response | None = None
    try:
        async for event in stream:
            if isinstance(event, TokensEvent):
                logprobs += [t.logprob for t in event.tokens if t.logprob is not None]
            elif isinstance(event, ModelResponseEvent):
                response = event.response
    finally:
        await stream.aclose()
    if response is None:
        response = await stream.future
    _fill(outcome, response)
    if logprobs:
        outcome.mean_logprob = sum(logprobs) / len(logprobs)


async def _stored_logprobs(conversation: Conversation, outcomes: Sequence[SampleOutcome]) -> None:
    """Mean logprobs of replies whose stream did not carry them (skipped samples)."""
    wanted = [o for o in outcomes if o.response_id and o.mean_logprob is None]
    if not wanted:
        return
    responses = [conversation.get_response(o.response_id or "") for o in wanted]
    tokens = await Response.tokens_of(responses)
    for outcome in wanted:
        found = tokens.get(outcome.response_id or "", [])
        known = [t.logprob for t in found if t.logprob is not None]
        if known:
            outcome.mean_logprob = sum(known) / len(known)


async def _judge(
    conversation: Conversation,
    result: SweepResult,
    *,
    rubric_name: str,
    criteria: str,
    judge_model: str,
) -> None:
    """Scores every reply of the sweep.

    A reply judged before under this rubric keeps its score (a re-run does not judge it
    again).
    """
    unjudged: list[SampleOutcome] = []
    for outcome in result.outcomes:
        if not outcome.response_id:
            continue
        previous = [
            j
            for j in conversation.get_response(outcome.response_id).judgements
            if (j.rubric.strip() == criteria.strip() if criteria else j.rubric_name == rubric_name)
        ]
        if previous:
            outcome.score = previous[-1].score
        else:
            unjudged.append(outcome)
    if not unjudged:
        return
    try:
        judgements = await conversation.judge(
            [o.response_id or "" for o in unjudged],
            model_name=judge_model,
            rubric_name=rubric_name,
            criteria=criteria,
        )
    except GroveError as error:
        result.judge_error = str(error)
        return
    scores = {j.response_id: j.score for j in judgements}
    for outcome in unjudged:
        outcome.score = scores.get(outcome.response_id or "")
    result.judged = len(judgements)


async def run_sweep(
    conversation: Conversation,
    node_id: str,
    spec: SweepSpec,
    *,
    models: Mapping[str, ModelInfo] | None = None,
    rubric_name: str = "",
    criteria: str = "",
    judge_model: str = "",
    on_progress: ProgressCallback | None = None,
    on_sample: SampleCallback | None = None,
) -> SweepResult:
    """Samples the grid of `spec` at `node_id` (see the module's docstring).

    `models` (the server's catalog by name) resolves unset temperatures and top-ps to
    each model's defaults, so a re-run recognises samples made with them. With a
    `rubric_name` or `criteria` every reply is judged once all samples are in.
    `on_sample` hears each sample made (a UI shows the new reply at once). Raises
    `SweepError` for a spec that cannot run (nothing is sampled then).
    """
    samples = plan(spec)
    known = dict(models or {})
    parent_id = sweep_parent(conversation, node_id)
    done = find_done(samples, (r.node for r in _siblings(conversation, parent_id)), known)
    outcomes = [SampleOutcome(sample) for sample in samples]
    for index, response_id in done.items():
        outcomes[index].skipped = True
        _fill(outcomes[index], conversation.get_response(response_id))
    result = SweepResult(parent_id, outcomes, skipped=len(done))
    todo = [o for i, o in enumerate(outcomes) if i not in done]
    limit = asyncio.Semaphore(spec.concurrency)
    gauge = _Gauge()
    finished = 0

    def report() -> None:
        if on_progress is not None:
            on_progress(SweepProgress(finished, len(todo), result.failed, result.skipped))

    async def one(outcome: SampleOutcome) -> None:
        nonlocal finished
        async with limit:
            with gauge.running():
                try:
                    await _sample_one(conversation, parent_id, spec, outcome)
                except (GroveError, ValueError) as error:
                    outcome.error = str(error) or type(error).__name__
                    result.failed += 1
                else:
                    if on_sample is not None:
                        on_sample(outcome)
        finished += 1
        report()

    report()
    await asyncio.gather(*(one(o) for o in todo))
    result.peak_concurrency = gauge.peak
    try:
        await _stored_logprobs(conversation, outcomes)
    except GroveError as error:
        result.notes.append(f"mean logprobs of earlier samples could not be read: {error}")
    if rubric_name or criteria:
        await _judge(
            conversation,
            result,
            rubric_name=rubric_name,
            criteria=criteria,
            judge_model=judge_model,
        )
    return result
