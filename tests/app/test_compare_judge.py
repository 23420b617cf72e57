"""Judging in Compare (`J`, `W`, sort by score) through the pilot against a real server.

The server's default model is the offline demo, whose heuristic judge is deterministic,
so the scores, their order and the "(heuristic demo)" mark can be checked exactly.
"""

from __future__ import annotations

import re

from grove_explorer.app.screens.compare.judge_form import JudgeScreen, RationaleScreen
from grove_explorer.app.widgets.judgement_badge import HEURISTIC_NOTE
from grove_explorer.app.widgets.message_view import header_text
from grove_explorer.server.runtime import GroveServer
from tests.app.test_compare import SIZE, conversation_with_siblings, open_compare
from tests.app_helpers import explorer, settle, until

STAR = re.compile(r"★ (\d+\.\d) grove-offline-ngram \(heuristic demo\)")


async def test_judge_key_scores_columns_sorts_and_explains(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, siblings = await conversation_with_siblings(screen, extra=2)
        compare = await open_compare(pilot, screen, siblings[0])
        assert not any("★" in h for h in compare.header_texts())

        await pilot.press("W")  # nothing judged yet: a notification, no view
        await settle(pilot)
        assert not isinstance(app.screen, RationaleScreen)

        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, JudgeScreen), "judge form")
        # Keyboard only: the first field is a Select (Enter opens its list); Ctrl+S judges.
        await pilot.press("ctrl+s")
        await until(
            pilot,
            lambda: all(STAR.search(h) for h in compare.header_texts()),
            "scores in every header",
        )
        assert app.screen is compare
        forest = screen.service.forest(cid)
        scores = {rid: forest.responses[rid].judgements[-1].score for rid in siblings}
        assert all(forest.responses[rid].judgements[-1].heuristic for rid in siblings)

        for _ in range(5):  # sampled → length → logprob → time → similar → score
            await pilot.press("s")
        await settle(pilot)
        assert compare.sort == "score"
        shown = [c.response_id for c in compare.visible_columns]
        assert [scores[rid] for rid in shown] == sorted(scores.values(), reverse=True)
        header_scores = [float(STAR.search(h).group(1)) for h in compare.header_texts()]  # type: ignore[union-attr]
        assert header_scores == [round(scores[rid], 1) for rid in shown]

        await pilot.press("W")
        await until(pilot, lambda: isinstance(app.screen, RationaleScreen), "rationale view")
        text = str(app.screen.query_one("#rationale").render())
        assert "covers" in text and "mean logprob" in text and HEURISTIC_NOTE in text
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is compare

        # The thread's header shows the latest judgement too.
        node = forest.responses[siblings[0]]
        assert f"★ {scores[siblings[0]]:.1f} grove-offline-ngram {HEURISTIC_NOTE}" in (
            header_text(node, (1, 3)).plain
        )


async def test_a_judge_failure_is_a_notification(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        _, siblings = await conversation_with_siblings(screen)
        compare = await open_compare(pilot, screen, siblings[0])
        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, JudgeScreen), "judge form")
        form = app.screen
        assert isinstance(form, JudgeScreen)
        form.dismiss(None)
        await settle(pilot)
        # A rubric the server does not have: the server's sentence, no traceback.
        from grove_explorer.app.screens.compare.judge_form import JudgeChoice
        from grove_explorer.app.screens.compare.judging import _judge, judged_ids

        _judge(compare, judged_ids(compare), JudgeChoice("grove-offline-ngram", "nope"))
        await until(
            pilot,
            lambda: any("Unknown rubric" in str(n.message) for n in app._notifications),
            "error notification",
        )
        assert not any("★" in h for h in compare.header_texts())
