"""Judging the shown samples of Compare (`J`) and reading a column's rationale (`W`).

The form (judge_form.py) picks the judge; the call runs in a worker (`run_service_call`:
errors become notifications) with a "judging N replies with M…" status. The service
publishes every judged reply, so each column's header redraws with "★ score judge"; when
Compare is sorted by score, the order follows.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from grove_explorer.app.errors import describe_error
from grove_explorer.app.screens.compare.judge_form import (
    JudgeChoice,
    JudgeScreen,
    RationaleScreen,
)
from grove_explorer.app.widgets.judgement_badge import HEURISTIC_NOTE
from grove_explorer.app.workers import run_service_call
from grove_explorer.client.catalog import ModelCatalog
from grove_explorer.client.judgements import Judgement

if TYPE_CHECKING:
    from grove_explorer.app.screens.compare.core import CompareCore

log = logging.getLogger(__name__)


def judged_ids(screen: CompareCore) -> list[str]:
    """The shown, finished samples' ids in display order (what `J` judges)."""
    return [
        c.response_id for c in screen.visible_columns if not c.streaming and not c.node.is_human
    ]


def start_judging(screen: CompareCore) -> None:
    """Opens the judge form (after fetching the catalog), then judges in a worker."""
    ids = judged_ids(screen)
    if not ids:
        screen.notify("No finished sample is shown: nothing to judge.", timeout=3)
        return
    screen.run_worker(
        _open_form(screen, ids), group="compare-judge-form", exclusive=True, exit_on_error=False
    )


async def _open_form(screen: CompareCore, ids: list[str]) -> None:
    catalog: ModelCatalog
    try:
        catalog = await screen.service.models()
    except Exception as error:
        screen.notify(
            f"Cannot list the judge models: {describe_error(error)}",
            severity="error",
            markup=False,
        )
        return
    names = [m.name for m in catalog.models]

    def chosen(choice: JudgeChoice | None) -> None:
        if choice is not None:
            _judge(screen, ids, choice)

    if screen.is_current:
        screen.app.push_screen(
            JudgeScreen(names, catalog.default_model, catalog.rubrics, len(ids)), chosen
        )


def _judge(screen: CompareCore, ids: list[str], choice: JudgeChoice) -> None:
    """Runs the judge call; says what runs, then what came out (or the error)."""
    count = len(ids)
    screen.notify(
        f"Judging {count} {'reply' if count == 1 else 'replies'} with "
        f"{choice.model_name} ({choice.rubric_label}, {choice.mode})…",
        timeout=4,
        markup=False,
    )

    def done(judgements: list[Judgement]) -> None:
        if not judgements:
            return
        best = max(judgements, key=lambda j: j.score)
        note = f" {HEURISTIC_NOTE}" if judgements[0].heuristic else ""
        screen.notify(
            f"Judged {len(judgements)} with {judgements[0].judge_model}{note}: best "
            f"★ {best.score:.1f}. W shows a rationale; s sorts by score.",
            timeout=6,
            markup=False,
        )
        if screen.sort == "score":
            screen._schedule_view()

    run_service_call(
        screen,
        screen.service.judge(
            screen.conversation_id,
            ids,
            model_name=choice.model_name,
            rubric_name="" if choice.criteria else choice.rubric_name,
            criteria=choice.criteria,
            mode=choice.mode,
        ),
        done=done,
        name="compare: judge",
        group="compare-judge",
    )


def show_rationale(screen: CompareCore) -> None:
    """Shows the focused column's judgements in full (or says it has none)."""
    column = screen.focused_column
    judgements = tuple(column.node.judgements) if column is not None else ()
    if column is None or not judgements:
        screen.notify("This sample has no judgement yet: J judges the shown samples.", timeout=3)
        return
    k, n = column.sibling
    screen.app.push_screen(RationaleScreen(f"Judgements of sample {k}/{n}", judgements))
