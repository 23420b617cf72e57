"""`grove sweep`: a grid of sampling parameters at one node, one row per cell.

Every sample is a normal sibling reply with its parameters (so `grove show`, Compare,
judge and exports see it). Progress goes to stderr while it runs; stdout gets the table
(or `--json` / `--csv`). Running the same sweep again skips the samples already made and
says how many. A failing cell (a backend down) fails only its own samples: stderr says
which, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from typing import Any

from grove_explorer.app.headless.common import (
    CommandError,
    Outcome,
    UsageError,
    find_leaf,
    open_conversation,
    sentence,
    table,
)
from grove_explorer.app.safe_text import clean
from grove_explorer.client import AsyncGrok, GroveError
from grove_explorer.client.catalog import ModelCatalog
from grove_explorer.client.export import dumps
from grove_explorer.client.sweeps import (
    DEFAULT_PROMPT_WORD,
    CellRow,
    SweepError,
    SweepProgress,
    SweepResult,
    SweepSpec,
    cell_rows,
    parse_names,
    parse_numbers,
    parse_prompts,
    plan,
    run_sweep,
)

COLUMNS = (
    "model",
    "temperature",
    "top_p",
    "system_prompt",
    "n",
    "failed",
    "mean_tokens",
    "mean_logprob",
    "mean_words",
    "mean_ttft_seconds",
    "mean_latency_seconds",
    "mean_score",
)


def sweep_spec(args: argparse.Namespace, models: tuple[str, ...]) -> SweepSpec:
    """The spec the flags ask for (`UsageError` with the planner's sentence if it cannot run)."""
    try:
        spec = SweepSpec(
            models=models,
            temperatures=parse_numbers("--temperature", args.sweep_temperatures),
            top_ps=parse_numbers("--top-p", args.sweep_top_ps),
            system_prompts=parse_prompts(args.sweep_prompts),
            seeds=args.seeds,
            base_seed=args.seed,
            max_tokens=args.max_tokens,
            concurrency=args.concurrency,
        )
        plan(spec)
    except SweepError as error:
        raise UsageError(str(error)) from None
    return spec


def check_sweep_usage(args: argparse.Namespace) -> None:
    """Checks the axes before any server starts (models are checked against the catalog)."""
    sweep_spec(args, parse_names(args.sweep_models) or ("model",))


def _checked_names(catalog: ModelCatalog, models: tuple[str, ...], spec: SweepSpec) -> None:
    known = [m.name for m in catalog.models]
    unknown = [m for m in models if catalog.model(m) is None]
    if known and unknown:
        raise CommandError(
            f"unknown model {', '.join(repr(clean(n)) for n in unknown)}: this server offers "
            f"{', '.join(clean(n) for n in known)}. Nothing was sampled."
        )
    prompts = {p.name for p in catalog.system_prompts}
    missing = [p for p in spec.system_prompts if p is not None and p not in prompts]
    if prompts and missing:
        offered = ", ".join(clean(p) or DEFAULT_PROMPT_WORD for p in sorted(prompts))
        raise CommandError(
            f"unknown system prompt {', '.join(repr(clean(p)) for p in missing)}: this "
            f"server offers {offered}. Nothing was sampled."
        )


class _Progress:
    """Progress on stderr: one rewritten line on a terminal, else a line per tenth."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._said = -1

    def __call__(self, progress: SweepProgress) -> None:
        step = max(1, progress.total // 10)
        if not self._tty and progress.done != progress.total and progress.done % step:
            return
        if progress.done == self._said:
            return
        self._said = progress.done
        text = f"sweep: {progress.done}/{progress.total} samples, {progress.failed} failed"
        if self._tty:
            end = "\n" if progress.done == progress.total else ""
            print(f"\r{text}", end=end, file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)


def _figure(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _setting(value: float | None) -> str:
    return "default" if value is None else f"{value:g}"


def _prompt(value: str | None) -> str:
    if value is None:
        return "-"
    return clean(value) or DEFAULT_PROMPT_WORD


def _values(row: CellRow) -> dict[str, Any]:
    k = row.key
    return {
        "model": k.model,
        "temperature": k.temperature,
        "top_p": k.top_p,
        "system_prompt": k.system_prompt,
        "n": row.n,
        "failed": row.failed,
        "mean_tokens": row.mean_tokens,
        "mean_logprob": row.mean_logprob,
        "mean_words": row.mean_words,
        "mean_ttft_seconds": row.mean_ttft,
        "mean_latency_seconds": row.mean_latency,
        "mean_score": row.mean_score,
    }


def _json(conversation_id: str, result: SweepResult, rows: list[CellRow]) -> str:
    samples = [
        {
            "model": o.sample.model,
            "temperature": o.sample.temperature,
            "top_p": o.sample.top_p,
            "system_prompt": o.sample.system_prompt,
            "seed": o.sample.seed,
            "response_id": o.response_id,
            "skipped": o.skipped,
            "token_count": o.tokens,
            "mean_logprob": o.mean_logprob,
            "words": o.words,
            "time_to_first_token_seconds": o.time_to_first_token,
            "total_time_seconds": o.total_time,
            "score": o.score,
            "error": o.error,
        }
        for o in result.outcomes
    ]
    cells = [{**_values(row), "response_ids": list(row.response_ids)} for row in rows]
    document = {
        "conversation_id": conversation_id,
        "parent_response_id": result.parent_id,
        "skipped": result.skipped,
        "failed": result.failed,
        "judge_error": result.judge_error,
        "cells": cells,
        "samples": samples,
    }
    return dumps(document) + "\n"


def _csv(rows: list[CellRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if v is None else v for v in _values(row).values()])
    return out.getvalue()


def _table(rows: list[CellRow]) -> str:
    lines = [
        [
            clean(r.key.model),
            _setting(r.key.temperature),
            _setting(r.key.top_p),
            _prompt(r.key.system_prompt),
            str(r.n),
            str(r.failed),
            _figure(r.mean_tokens, 1),
            _figure(r.mean_logprob, 3),
            _figure(r.mean_words, 1),
            _figure(r.mean_ttft),
            _figure(r.mean_latency),
            _figure(r.mean_score, 1),
        ]
        for r in rows
    ]
    headers = ["MODEL", "T", "TOP-P", "PROMPT", "N", "FAILED", "TOKENS", "LOGPROB"]
    headers += ["WORDS", "TTFT", "LATENCY", "SCORE"]
    return table(headers, lines, right=set(range(4, 12)))


async def cmd_sweep(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove sweep CONV --model a,b --temperature 0.2,0.8 …`: see the module docstring."""
    conversation = await open_conversation(grok, args.conv)
    leaf = find_leaf(conversation, args.leaf)
    if leaf is None:
        raise CommandError(
            f"conversation {conversation.conversation_id} is empty: there is nothing to sweep at."
        )
    try:
        catalog = await grok.list_models()
    except GroveError:
        catalog = ModelCatalog()
    models = parse_names(args.sweep_models) or (
        conversation.path_model(leaf.response_id) or catalog.default_model or "",
    )
    spec = sweep_spec(args, models)
    _checked_names(catalog, models, spec)
    result = await run_sweep(
        conversation,
        leaf.response_id,
        spec,
        models={m.name: m for m in catalog.models},
        rubric_name=args.rubric or "",
        criteria=args.criteria or "",
        on_progress=_Progress(),
    )
    rows = cell_rows(result.outcomes)
    outcome = Outcome(code=1 if result.failed else 0)
    if result.skipped:
        outcome.errors.append(
            f"skipped {result.skipped} of {len(result.outcomes)} samples: already made by "
            "this sweep."
        )
    for row in rows:
        if row.errors:
            outcome.errors.append(
                f"{row.failed} sample{'s' if row.failed > 1 else ''} of {clean(row.key.model)} "
                f"(T {_setting(row.key.temperature)}, top-p {_setting(row.key.top_p)}, "
                f"prompt {_prompt(row.key.system_prompt)}) failed: {sentence(row.errors[0])}"
            )
    if result.judge_error:
        outcome.errors.append(f"judging failed: {sentence(result.judge_error)}")
    outcome.errors += result.notes
    if args.json:
        outcome.stdout = _json(conversation.conversation_id, result, rows)
    elif args.csv:
        outcome.stdout = _csv(rows)
    else:
        outcome.stdout = _table(rows)
    return outcome
