"""`grove replay`: a conversation's path replayed under another model as a parallel branch.

Each human turn of the path is copied and each model turn re-sampled by `--model`, reading
the new branch (client/replaying.py). Prints the new path's leaf id; `--json` the pairs
of original and replayed ids. Progress goes to stderr, one line per step, so a script
reading stdout sees only the result.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from grove_explorer.app.headless.common import (
    CommandError,
    Outcome,
    find_leaf,
    open_conversation,
    sentence,
)
from grove_explorer.app.headless.sampling import _checked_models
from grove_explorer.client import AsyncGrok, ReplayResult, ReplayStoppedError, SamplingParams
from grove_explorer.client.export import dumps


def _params(args: argparse.Namespace) -> SamplingParams | None:
    given = (args.temperature, args.top_p, args.max_tokens, args.seed)
    if all(value is None for value in given):
        return None
    return SamplingParams(
        temperature=args.temperature,
        top_p=args.top_p,
        max_tokens=args.max_tokens,
        seed=args.seed,
    )


def replay_document(conversation_id: str, result: ReplayResult) -> dict[str, Any]:
    """The JSON `grove replay --json` prints (also of a replay that stopped part way)."""
    return {
        "conversation_id": conversation_id,
        "model_name": result.model_name,
        "system_prompt_name": result.system_prompt_name,
        "original_leaf_id": result.original_leaf_id,
        "leaf_id": result.leaf_id,
        "pairs": [
            {"original_id": t.original_id, "replayed_id": t.replayed_id, "kind": t.kind}
            for t in result.turns
        ],
        "extra_ids": list(result.extra_ids),
    }


async def cmd_replay(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove replay CONV --model X`: builds the replayed branch; prints its leaf id."""
    conversation = await open_conversation(grok, args.conv)
    leaf = find_leaf(conversation, args.leaf)
    if leaf is None:
        raise CommandError(
            f"conversation {conversation.conversation_id} has no path to replay (no leaf)."
        )
    start = find_leaf(conversation, args.replay_from) if args.replay_from else None
    await _checked_models(grok, [args.replay_model])

    def progress(step: int, total: int) -> None:
        if not args.json:
            print(f"replaying step {step} of {total}…", file=sys.stderr, flush=True)

    outcome = Outcome()
    try:
        result = await conversation.replay(
            leaf.response_id,
            model_name=args.replay_model,
            system_prompt_name=args.replay_prompt,
            sampling=_params(args),
            from_response_id=None if start is None else start.response_id,
            progress=progress,
        )
    except ReplayStoppedError as stopped:
        outcome.code = 1
        outcome.errors.append(sentence(str(stopped)))
        result = stopped.partial
    except ValueError as error:  # a start not on the path
        raise CommandError(str(error)) from None
    if args.json:
        document = replay_document(conversation.conversation_id, result)
        outcome.stdout = dumps(document) + "\n"
    elif result.leaf_id is not None:
        outcome.stdout = result.leaf_id + "\n"
    return outcome
