"""`grove judge`: a judge model scores the siblings of the path's last model reply.

The batch is the path's last model reply and its model-reply siblings (the replies a
`grove sample` made); the judgements are stored on the server and printed best first.
"""

from __future__ import annotations

import argparse

from grove_explorer.app.headless.common import (
    CommandError,
    Outcome,
    find_leaf,
    open_conversation,
    short_id,
    table,
)
from grove_explorer.app.safe_text import first_line
from grove_explorer.client import AsyncGrok, Conversation, Response
from grove_explorer.client.export import dumps
from grove_explorer.client.judgements import Judgement

HEURISTIC_NOTE = "(heuristic demo)"
"""How a judgement of the offline demo judge is marked wherever a score is shown."""


def judged_batch(conversation: Conversation, leaf: Response | None) -> list[Response]:
    """The path's last model reply and its model-reply siblings, in sibling order.

    Raises CommandError when the path has no model reply.
    """
    path = conversation.forest.path_to(leaf.response_id) if leaf is not None else []
    last = next((node for node in reversed(path) if node.sender == "model"), None)
    if last is None:
        raise CommandError(
            f"conversation {conversation.conversation_id}'s path has no model reply to judge."
        )
    siblings = conversation.forest.siblings_of(last.response_id)
    batch = [conversation.get_response(rid) for rid in siblings]
    return [r for r in batch if r.sender == "model"]


def ranked(judgements: list[Judgement]) -> list[Judgement]:
    """Best score first; equal scores keep the batch's order."""
    return sorted(judgements, key=lambda j: -j.score)


async def cmd_judge(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove judge CONV`: judge the batch, store the scores, print them best first."""
    conversation = await open_conversation(grok, args.conv)
    leaf = find_leaf(conversation, args.leaf)
    batch = judged_batch(conversation, leaf)
    judgements = await conversation.judge(
        [r.response_id for r in batch],
        model_name=args.judge_model or "",
        rubric_name=args.rubric or "",
        criteria=args.criteria or "",
        mode=args.mode,
    )
    best = ranked(judgements)
    by_id = {r.response_id: r for r in batch}
    outcome = Outcome()
    if args.json:
        first = judgements[0] if judgements else None
        outcome.stdout = (
            dumps(
                {
                    "conversation_id": conversation.conversation_id,
                    "judge_model": first.judge_model if first else "",
                    "rubric_name": first.rubric_label if first else "",
                    "rubric": first.rubric if first else "",
                    "mode": args.mode,
                    "heuristic": bool(first and first.heuristic),
                    "samples": [
                        {
                            "rank": rank,
                            "response_id": j.response_id,
                            "model_name": by_id[j.response_id].model_name,
                            "score": j.score,
                            "rationale": j.rationale,
                        }
                        for rank, j in enumerate(best, 1)
                    ],
                }
            )
            + "\n"
        )
        return outcome
    rows = [
        [
            str(rank),
            short_id(j.response_id),
            by_id[j.response_id].model_name or "-",
            f"{j.score:.1f}",
            first_line(j.rationale, 80),
        ]
        for rank, j in enumerate(best, 1)
    ]
    outcome.stdout = table(["#", "ID", "MODEL", "SCORE", "RATIONALE"], rows, right={0, 3})
    if judgements:
        j = judgements[0]
        note = f" {HEURISTIC_NOTE}" if j.heuristic else ""
        outcome.errors.append(
            f"judged {len(judgements)} replies with {j.judge_model}{note}, rubric "
            f"{j.rubric_label}, {args.mode} mode."
        )
    return outcome
