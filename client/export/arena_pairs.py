"""Preference pairs from blind arena votes (`--format jsonl-pairs --pairs-from arena`).

Each vote for A or B makes one pair: chosen = the voted reply, rejected = the other, the
prompt = the path to their parent, `metadata.source = "arena"` with both setups' keys.
Ties and both-bad votes say neither reply is preferred, so they make no pair; they are
counted, as are votes whose replies are no longer in the document, and `summary` says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from grove_explorer.client.arena import Vote
from grove_explorer.client.export.reading import DocumentTree


@dataclass(slots=True)
class ArenaPairs:
    """The pairs made and the votes that made none, with counts."""

    pairs: list[dict[str, Any]] = field(default_factory=list)
    ties: int = 0
    both_bad: int = 0
    missing: int = 0

    def summary(self) -> str:
        """One sentence: how many pairs, and every reason some votes made none."""
        skipped = []
        if self.ties:
            skipped.append(f"{self.ties} ties")
        if self.both_bad:
            skipped.append(f"{self.both_bad} both-bad votes")
        if self.missing:
            skipped.append(f"{self.missing} votes whose replies are not in the conversation")
        made = f"{len(self.pairs)} preference pairs from arena votes"
        return made + (f"; skipped: {', '.join(skipped)}." if skipped else ".")


def _message(response: Mapping[str, Any]) -> dict[str, str]:
    role = "user" if response["sender"] == "human" else "assistant"
    return {"role": role, "content": response["message"]}


def arena_pairs(document: Mapping[str, Any], votes: Sequence[Vote]) -> ArenaPairs:
    """The pairs of `votes` (of this document's conversation), oldest vote first."""
    forest = DocumentTree.of(document)
    by_id = {r["response_id"]: r for r in document.get("responses", [])}
    found = ArenaPairs()
    for vote in votes:
        if vote.outcome == "tie":
            found.ties += 1
            continue
        if vote.outcome == "both_bad":
            found.both_bad += 1
            continue
        a, b = by_id.get(vote.response_a), by_id.get(vote.response_b)
        if a is None or b is None or vote.parent_response_id not in by_id:
            found.missing += 1
            continue
        chosen, rejected = (a, b) if vote.outcome == "a" else (b, a)
        won, lost = (
            (vote.setup_a, vote.setup_b) if vote.outcome == "a" else (vote.setup_b, vote.setup_a)
        )
        found.pairs.append(
            {
                "prompt": [_message(r) for r in forest.path(vote.parent_response_id)],
                "chosen": [_message(chosen)],
                "rejected": [_message(rejected)],
                "metadata": {
                    "source": "arena",
                    "conversation_id": vote.conversation_id,
                    "parent_response_id": vote.parent_response_id,
                    "chosen_response_id": chosen["response_id"],
                    "rejected_response_id": rejected["response_id"],
                    "chosen_setup": won.key,
                    "rejected_setup": lost.key,
                    "chosen_model": won.model_name,
                    "rejected_model": lost.model_name,
                    "vote_id": vote.vote_id,
                },
            }
        )
    return found
