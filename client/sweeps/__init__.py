"""Parameter sweeps at a node: a grid of settings, each sample a normal sibling reply.

`plan.py` builds and checks the grid (no network), `done.py` finds the samples a sibling
already holds (so a re-run skips them), `runner.py` samples the rest under a concurrency
bound and `results.py` folds the samples into one row per cell for tables and exports.
"""

from grove_explorer.client.sweeps.plan import (
    DEFAULT_PROMPT_WORD,
    MAX_SAMPLES,
    SweepError,
    SweepSample,
    SweepSpec,
    parse_names,
    parse_numbers,
    parse_prompts,
    plan,
)
from grove_explorer.client.sweeps.results import CellKey, CellRow, cell_rows
from grove_explorer.client.sweeps.runner import (
    SampleOutcome,
    SweepProgress,
    SweepResult,
    run_sweep,
)

__all__ = [
    "DEFAULT_PROMPT_WORD",
    "MAX_SAMPLES",
    "CellKey",
    "CellRow",
    "SampleOutcome",
    "SweepError",
    "SweepProgress",
    "SweepResult",
    "SweepSample",
    "SweepSpec",
    "cell_rows",
    "parse_names",
    "parse_numbers",
    "parse_prompts",
    "plan",
    "run_sweep",
]
