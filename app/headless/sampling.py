"""`grove sample`: N replies to one path (from each of one or more models), in parallel.

With several `--model`s the batch fans out: N samples per model, every stream at once,
and the table and `--json` name each sample's model. Model names are checked against the
server's catalog first, so a typo is refused before anything is sampled; a model that
fails while sampling (backend down) fails only its own samples, said once with their
numbers (`failure_lines`).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass

from grove_explorer.app.headless.common import (
    CommandError,
    Outcome,
    find_leaf,
    open_conversation,
    sentence,
    short_id,
    table,
)
from grove_explorer.app.safe_text import clean, first_line
from grove_explorer.client import (
    AsyncGrok,
    Conversation,
    GroveError,
    Response,
    SamplingParams,
)
from grove_explorer.client.export import (
    dumps,
)
from grove_explorer.client.streams import ModelResponseEvent, TokensEvent


@dataclass
class _Sample:
    index: int
    model: str | None
    response: Response
    mean_logprob: float | None
    wall_seconds: float


async def _run_sample(
    conversation: Conversation,
    index: int,
    parent_id: str | None,
    sampling: SamplingParams | None,
    model_name: str | None,
) -> _Sample:
    """One stream to its end; the mean of the logprobs the server reported."""
    started = time.perf_counter()
    stream = conversation.sample(
        "", parent_response_id=parent_id, sampling=sampling, model_name=model_name
    )
    known: list[float] = []
    response: Response | None = None
    try:
        async for event in stream:
            if isinstance(event, TokensEvent):
                known += [t.logprob for t in event.tokens if t.logprob is not None]
            elif isinstance(event, ModelResponseEvent):
                response = event.response
    finally:
        await stream.aclose()  # cancelled (Ctrl+C): the server keeps the partial reply
    if response is None:
        response = await stream.future
    mean = sum(known) / len(known) if known else None
    return _Sample(index, model_name, response, mean, time.perf_counter() - started)


async def _model_for(grok: AsyncGrok, conversation: Conversation, start: Response) -> str | None:
    """The model that wrote the path's latest sampled reply, if the server still offers it.

    Same rule as reopening a conversation in the app, so `grove sample` continues with
    the model the user was using. None means the server's default.
    """
    model = conversation.path_model(start.response_id)
    if not model:
        return None
    try:
        catalog = await grok.list_models()
    except GroveError:
        return None
    return model if catalog.model(model) else None


async def _checked_models(grok: AsyncGrok, names: list[str]) -> None:
    """Refuses model names the server does not offer, naming the ones it does.

    A server whose catalog cannot be read (or lists none) is left to refuse each sample
    itself, as before.
    """
    try:
        catalog = await grok.list_models()
    except GroveError:
        return
    known = [m.name for m in catalog.models]
    unknown = [name for name in dict.fromkeys(names) if catalog.model(name) is None]
    if known and unknown:
        listed = ", ".join(repr(clean(n)) for n in unknown)
        raise CommandError(
            f"unknown model{'s' if len(unknown) > 1 else ''} {listed}: this server offers "
            + ", ".join(clean(n) for n in known)
            + ". Nothing was sampled."
        )


async def cmd_sample(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove sample CONV --n N [--model A --model B]`: N parallel samples per model.

    Resamples of the leaf's reply (or replies to a human leaf). Sample i of each model
    uses seed S + i with `--seed S`, so each model's part of the batch is reproducible.
    """
    conversation = await open_conversation(grok, args.conv)
    leaf = find_leaf(conversation, args.leaf)
    if leaf is None:
        raise CommandError(
            f"conversation {conversation.conversation_id} is empty: there is nothing to "
            "sample from."
        )
    parent_id = leaf.parent_response_id if leaf.sender == "model" else leaf.response_id
    named: list[str] = list(args.sample_model or [])
    if named:
        await _checked_models(grok, named)
    models: list[str | None] = list(named) or [await _model_for(grok, conversation, leaf)]
    total = args.n * len(models)
    given = (args.temperature, args.top_p, args.max_tokens, args.seed)

    def params(i: int) -> SamplingParams | None:
        if all(v is None for v in given):
            return None
        return SamplingParams(
            temperature=args.temperature,
            top_p=args.top_p,
            max_tokens=args.max_tokens,
            seed=None if args.seed is None else (args.seed + i) % 2**63,
        )

    results = await asyncio.gather(
        *(
            _run_sample(conversation, m * args.n + i, parent_id, params(i), model)
            for m, model in enumerate(models)
            for i in range(args.n)
        ),
        return_exceptions=True,
    )
    samples = [r for r in results if isinstance(r, _Sample)]
    failures: list[tuple[int, str]] = []
    for i, result in enumerate(results):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            message = result.message if isinstance(result, GroveError) else str(result)
            failures.append((i + 1, sentence(message or type(result).__name__)))
    outcome = Outcome(code=1 if failures else 0)
    outcome.errors = failure_lines(failures, total)
    if args.json:
        outcome.stdout = (
            dumps(
                {
                    "conversation_id": conversation.conversation_id,
                    "parent_response_id": parent_id,
                    "resampled_response_id": leaf.response_id if leaf.sender == "model" else None,
                    "samples": [
                        {
                            "index": s.index + 1,
                            "response_id": s.response.response_id,
                            "model_name": s.response.model_name or s.model,
                            "seed": sample_seed(s.response),
                            "token_count": s.response.token_count,
                            "mean_logprob": s.mean_logprob,
                            "time_to_first_token_seconds": s.response.time_to_first_token,
                            "total_time_seconds": s.response.total_time,
                            "partial": s.response.partial,
                            "finish_reason": s.response.finish_reason,
                            "message": s.response.message,
                        }
                        for s in samples
                    ],
                    "failures": [
                        {"index": i, "model_name": models[(i - 1) // args.n], "error": e}
                        for i, e in failures
                    ],
                }
            )
            + "\n"
        )
        return outcome
    rows = [
        [
            str(s.index + 1),
            short_id(s.response.response_id),
            clean(s.response.model_name or s.model or "") or "-",
            "-" if sample_seed(s.response) is None else str(sample_seed(s.response)),
            str(s.response.token_count),
            "-" if s.mean_logprob is None else f"{s.mean_logprob:.3f}",
            f"{s.response.total_time or s.wall_seconds:.2f}s",
            s.response.finish_reason or "-",
            ("⋯ " if s.response.partial else "") + first_line(s.response.message, 60),
        ]
        for s in samples
    ]
    if rows:
        outcome.stdout = table(
            ["#", "ID", "MODEL", "SEED", "TOKENS", "MEAN LOGPROB", "TIME", "END", "TEXT"],
            rows,
            right={0, 4, 5, 6},
        )
    return outcome


def sample_seed(response: Response) -> int | None:
    """The seed a reply was sampled with, if the server reported one."""
    params = response.sampling_params
    return None if params is None else params.seed


def failure_lines(failures: list[tuple[int, str]], total: int) -> list[str]:
    """One stderr line per distinct failure sentence, naming the samples it hit.

    Parallel samples of one request usually fail for one reason (a temperature out of
    range, an unknown model): that sentence is said once, not once per sample.
    """
    by_sentence: dict[str, list[int]] = {}
    for index, text in failures:
        by_sentence.setdefault(text, []).append(index)
    if len(by_sentence) == 1 and len(failures) == total:
        return list(by_sentence)
    lines = []
    for text, indexes in by_sentence.items():
        which = ", ".join(str(i) for i in indexes)
        lines.append(f"sample{'s' if len(indexes) > 1 else ''} {which} failed: {text}")
    return lines
