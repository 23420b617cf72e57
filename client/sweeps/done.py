"""Which samples of a sweep a sibling reply already holds, so a re-run skips them.

A sample is done when a complete sibling has its model, seed and resolved temperature and
top-p (the server records the values it used; a sample that left one unset gets the
model's default from the catalog, and matches any recorded value when the catalog does
not say) — and its system prompt, when the reply records one
(replies stored before that was recorded match any prompt). Each sibling answers for one
sample at most, so two cells that differ only in an unrecorded prompt are not both "done"
by the same reply.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from grove_explorer.client.catalog import ModelInfo
from grove_explorer.client.models import ResponseNode
from grove_explorer.client.sweeps.plan import SweepSample

_TOLERANCE = 1e-4
"""Temperatures and top-ps travel as 32-bit floats: 0.2 comes back as 0.20000000298."""


def _same(wanted: float | None, recorded: float | None) -> bool:
    if wanted is None:
        return True  # the model's default, not known here: whatever it recorded
    if recorded is None:
        return False
    return math.isclose(wanted, recorded, abs_tol=_TOLERANCE)


def resolved(
    sample: SweepSample, models: Mapping[str, ModelInfo]
) -> tuple[float | None, float | None]:
    """The temperature and top-p the server will use for `sample` (None: not known)."""
    info = models.get(sample.model)
    temperature = sample.temperature
    top_p = sample.top_p
    if temperature is None and info is not None:
        temperature = info.default_temperature
    if top_p is None and info is not None:
        top_p = info.default_top_p
    return temperature, top_p


def matches(sample: SweepSample, node: ResponseNode, models: Mapping[str, ModelInfo]) -> bool:
    """True when the stored reply `node` is a finished sample of this setting and seed."""
    info = node.sampling
    if node.is_human or node.partial or node.streaming or info is None:
        return False
    if node.model_name != sample.model or info.seed != sample.seed:
        return False
    temperature, top_p = resolved(sample, models)
    if not (_same(temperature, info.temperature) and _same(top_p, info.top_p)):
        return False
    recorded = node.system_prompt_name
    return sample.system_prompt is None or recorded is None or recorded == sample.system_prompt


def find_done(
    samples: Sequence[SweepSample],
    siblings: Iterable[ResponseNode],
    models: Mapping[str, ModelInfo],
) -> dict[int, str]:
    """Sample index → the id of a sibling that already holds it."""
    free = list(siblings)
    done: dict[int, str] = {}
    for index, sample in enumerate(samples):
        for position, node in enumerate(free):
            if matches(sample, node, models):
                done[index] = node.response_id
                del free[position]
                break
    return done
