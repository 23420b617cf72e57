"""The grid of a sweep: models x temperatures x top-ps x system prompts x seeds.

Pure and network-free, so a bad axis is refused (with a sentence naming it) before
anything is sampled. Every sample gets an explicit seed (`base_seed + i`): that makes the
sweep reproducible and lets a re-run recognise the samples already made (`done.py`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from grove_explorer.client.research_modes import DEFAULT_PROMPT_WORD

MAX_SAMPLES = 256
"""At most this many samples (cells x seeds) in one sweep: a bigger grid is refused with
its count, never cut short silently."""

MAX_CONCURRENCY = 32
"""At most this many streams of one sweep at once (the server bounds streams per user)."""


class SweepError(ValueError):
    """A sweep that cannot run as given; the message says which axis and why."""


@dataclass(frozen=True, slots=True)
class SweepSample:
    """One sample of the grid: its cell's setting and its seed.

    `temperature` / `top_p` None mean the model's default; `system_prompt` None means the
    conversation's own setting ("" is the server's default prompt).
    """

    model: str
    temperature: float | None
    top_p: float | None
    system_prompt: str | None
    seed: int


@dataclass(frozen=True, slots=True)
class SweepSpec:
    """What the user asked for; `plan` checks it and lists the samples."""

    models: tuple[str, ...]
    temperatures: tuple[float | None, ...] = (None,)
    top_ps: tuple[float | None, ...] = (None,)
    system_prompts: tuple[str | None, ...] = (None,)
    seeds: int = 1
    base_seed: int = 0
    max_tokens: int | None = None
    concurrency: int = 4


def _check_axis(name: str, values: Sequence[object]) -> None:
    if not values:
        raise SweepError(f"the {name} axis is empty: give at least one value.")
    if len(set(values)) != len(values):
        raise SweepError(f"the {name} axis repeats a value: {', '.join(map(str, values))}.")


def _check_range(name: str, values: Sequence[float | None], low: float, high: float) -> None:
    for value in values:
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            raise SweepError(f"{name} {value} is out of range: use {low} to {high}.")


def check(spec: SweepSpec) -> None:
    """Refuses a spec that cannot run, naming the axis and why.

    An empty or repeated axis, a value out of range, or a grid over `MAX_SAMPLES` (with
    its count) raises `SweepError`.
    """
    _check_axis("model", spec.models)
    if any(not m.strip() for m in spec.models):
        raise SweepError("a model name is empty.")
    _check_axis("temperature", spec.temperatures)
    _check_axis("top-p", spec.top_ps)
    _check_axis("system prompt", spec.system_prompts)
    _check_range("temperature", spec.temperatures, 0.0, 2.0)
    _check_range("top-p", spec.top_ps, 0.0, 1.0)
    if 0.0 in spec.top_ps:
        raise SweepError("top-p 0.0 is out of range: use more than 0 and at most 1.")
    if spec.seeds < 1:
        raise SweepError(f"seeds must be at least 1, not {spec.seeds}.")
    if spec.base_seed < 0:
        raise SweepError(f"the base seed must be 0 or more, not {spec.base_seed}.")
    if spec.max_tokens is not None and spec.max_tokens < 1:
        raise SweepError(f"max tokens must be at least 1, not {spec.max_tokens}.")
    if not 1 <= spec.concurrency <= MAX_CONCURRENCY:
        raise SweepError(f"concurrency must be 1 to {MAX_CONCURRENCY}, not {spec.concurrency}.")
    cells = len(spec.models) * len(spec.temperatures) * len(spec.top_ps) * len(spec.system_prompts)
    total = cells * spec.seeds
    if total > MAX_SAMPLES:
        raise SweepError(
            f"{cells} cells x {spec.seeds} seeds is {total} samples; at most {MAX_SAMPLES} "
            "in one sweep. Nothing was sampled."
        )


def plan(spec: SweepSpec) -> list[SweepSample]:
    """The samples of a checked spec, cell by cell (models outermost), seeds innermost."""
    check(spec)
    return [
        SweepSample(model, temperature, top_p, prompt, (spec.base_seed + i) % 2**63)
        for model in spec.models
        for temperature in spec.temperatures
        for top_p in spec.top_ps
        for prompt in spec.system_prompts
        for i in range(spec.seeds)
    ]


def parse_numbers(label: str, text: str | None) -> tuple[float | None, ...]:
    """An axis typed as a comma list ("0.2, 0.8"); blank is the model's default (None).

    `label` names the field or flag in the error (`SweepError`) of a part that is no
    number.
    """
    if text is None or not text.strip():
        return (None,)
    values: list[float | None] = []
    for part in text.split(","):
        try:
            values.append(float(part))
        except ValueError:
            raise SweepError(f"{label} takes numbers separated by commas, not {part!r}.") from None
    return tuple(values)


def parse_names(text: str | None) -> tuple[str, ...] | None:
    """Names typed as a comma list, stripped; None when blank (the caller's default)."""
    if text is None or not text.strip():
        return None
    return tuple(part.strip() for part in text.split(","))


def parse_prompts(text: str | None) -> tuple[str | None, ...]:
    """A system prompt axis typed as names; blank is the conversation's own setting."""
    names = parse_names(text)
    if names is None:
        return (None,)
    return tuple("" if name == DEFAULT_PROMPT_WORD else name for name in names)
