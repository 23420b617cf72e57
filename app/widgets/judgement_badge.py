"""How a reply's latest judgement is shown: "★ 7.5 judge-model", marked when heuristic.

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


def judgement_label(judgement: Judgement) -> str:
    """The label "★ 7.5 judge-model", plus the heuristic mark; plain text."""
    note = f" {HEURISTIC_NOTE}" if judgement.heuristic else ""
    return f"★ {judgement.score:.1f} {clean(judgement.judge_model)}{note}"


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
    return text
