"""Preference pairs from a judge's scores (`grove export --format jsonl-pairs --pairs-from judge`).

Among model replies that share a parent (the prompt), each reply's latest judgement
counts. Every two siblings whose latest judgements come from the same judge model and
rubric make one pair: chosen = the higher score, rejected = the lower, with
`metadata.source = "judge"` and both scores. Nothing is dropped silently: `JudgedPairs`
counts the unjudged replies, the tied pairs and the pairs judged by different judges or
rubrics that were skipped, and `summary` says so in a sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from grove_explorer.client.export.reading import DocumentTree


@dataclass(slots=True)
class JudgedPairs:
    """The pairs found and what was skipped, with counts."""

    pairs: list[dict[str, Any]] = field(default_factory=list)
    unjudged: int = 0
    ties: int = 0
    different_judges: int = 0

    def summary(self) -> str:
        """One sentence: how many pairs, and every reason some were not made."""
        skipped = []
        if self.unjudged:
            skipped.append(f"{self.unjudged} sibling replies without a judgement")
        if self.ties:
            skipped.append(f"{self.ties} tied pairs")
        if self.different_judges:
            skipped.append(f"{self.different_judges} pairs scored by different judges or rubrics")
        made = f"{len(self.pairs)} preference pairs from judge scores"
        if not skipped:
            return made + "."
        return f"{made}; skipped: {', '.join(skipped)}."


def _latest(response: Mapping[str, Any]) -> Mapping[str, Any] | None:
    judgements = response.get("judgements") or []
    return judgements[-1] if judgements else None


def _message(response: Mapping[str, Any]) -> dict[str, str]:
    role = "user" if response["sender"] == "human" else "assistant"
    return {"role": role, "content": response["message"]}


def judged_pairs(document: Mapping[str, Any]) -> JudgedPairs:
    """Pairs of judged siblings (see the module), in the document's sibling order."""
    forest = DocumentTree.of(document)
    found = JudgedPairs()
    for parent, children in forest.branch_points():
        if parent is None:
            continue  # a root reply has no prompt
        replies = [c for c in children if c["sender"] == "model"]
        if len(replies) < 2:
            continue
        judged = [(r, j) for r in replies if (j := _latest(r)) is not None]
        found.unjudged += len(replies) - len(judged)
        prompt = [_message(r) for r in forest.path(parent)]
        for (a, ja), (b, jb) in combinations(judged, 2):
            if (ja.get("judge_model"), ja.get("rubric")) != (
                jb.get("judge_model"),
                jb.get("rubric"),
            ):
                found.different_judges += 1
                continue
            if ja["score"] == jb["score"]:
                found.ties += 1
                continue
            (chosen, jc), (rejected, jr) = (
                ((a, ja), (b, jb)) if ja["score"] > jb["score"] else ((b, jb), (a, ja))
            )
            found.pairs.append(
                {
                    "prompt": prompt,
                    "chosen": [_message(chosen)],
                    "rejected": [_message(rejected)],
                    "metadata": {
                        "source": "judge",
                        "conversation_id": document.get("conversation_id", ""),
                        "parent_response_id": parent,
                        "chosen_response_id": chosen["response_id"],
                        "rejected_response_id": rejected["response_id"],
                        "chosen_model": chosen.get("model_name", ""),
                        "rejected_model": rejected.get("model_name", ""),
                        "chosen_score": jc["score"],
                        "rejected_score": jr["score"],
                        "judge_model": jc.get("judge_model", ""),
                        "rubric_name": jc.get("rubric_name", ""),
                        "heuristic": bool(jc.get("heuristic")),
                    },
                }
            )
    return found
