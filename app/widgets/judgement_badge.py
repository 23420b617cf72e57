"""How a reply's latest judgement is shown: "★ 7.5 judge-model", marked when heuristic.

Who asked for it is named when it is not the user looking ("· by bob": a writer's
judgements are theirs, and a team reads whose scores they are).

One definition for the Compare column header and the thread's message header, so a score
reads the same everywhere. Judge names are model-controlled config text: `clean()`ed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from grove_explorer.app.safe_text import clean

if TYPE_CHECKING:  # pydantic models: not imported before the first frame (test_start_lazy)
    from grove_explorer.client.judgements import Judgement

HEURISTIC_NOTE = "(heuristic demo)"
"""The mark of a judgement by the offline demo heuristic, wherever a score is shown."""


def latest(node: Any) -> Judgement | None:
    """The node's newest judgement, if any (`ResponseNode.judgements`, oldest first)."""
    judgements = getattr(node, "judgements", ()) or ()
    return judgements[-1] if judgements else None


def asker_of(judgement: Judgement) -> str:
    """Who asked for the judgement, to name: "" for the user looking (app/viewpoint.py)."""
    from grove_explorer.app.viewpoint import current_viewpoint

    asked_by = judgement.asked_by
    return clean(current_viewpoint().maker(asked_by)).strip()[:32] if asked_by else ""


def judgement_label(judgement: Judgement, by: str | None = None) -> str:
    """The label "★ 7.5 judge-model", plus the heuristic mark and " · by bob"; plain text.

    `by` defaults to the app's viewpoint (`asker_of`); `grove show` passes its own.
    """
    note = f" {HEURISTIC_NOTE}" if judgement.heuristic else ""
    asker = asker_of(judgement) if by is None else by
    whose = f" · by {clean(asker).strip()[:32]}" if asker else ""
    return f"★ {judgement.score:.1f} {clean(judgement.judge_model)}{note}{whose}"


def judgement_badge(node: Any) -> Text | None:
    """The latest judgement of a reply as inert `Text`; None when it has none."""
    judgement = latest(node)
    if judgement is None:
        return None
    text = Text()
    text.append(f"★ {judgement.score:.1f}", style="bold")
    text.append(f" {clean(judgement.judge_model)}", style="dim")
    if judgement.heuristic:
        text.append(f" {HEURISTIC_NOTE}", style="italic dim")
    asker = asker_of(judgement)
    if asker:  # a colleague's score, in a shared conversation
        text.append(f" · by {asker}", style="dim")
    return text
