"""`grove arena [CONV]`: the blind arena's leaderboard from the user's stored votes.

Ratings come from `client/arena_ratings.py` (Bradley-Terry by default, `--method elo`),
each with its 95 % bootstrap interval and its vote counts. Without CONV every vote of the
user counts. Setup names are the setups' keys (label, else model and parameters), cleaned
before they are printed: they are the user's text, but they travel through the server.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from grove_explorer.app.headless.common import Outcome, one_line, open_conversation, table
from grove_explorer.client import AsyncGrok
from grove_explorer.client.arena_ratings import Leaderboard, leaderboard
from grove_explorer.client.export import dumps


def _number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def board_json(board: Leaderboard) -> dict[str, Any]:
    """The leaderboard as a JSON-ready dict (intervals null when no resample had a setup)."""
    return {
        "method": board.method,
        "votes": board.votes,
        "bootstrap_rounds": board.bootstrap_rounds,
        "standings": [
            {
                "rank": s.rank,
                "setup": s.key,
                "model_name": s.setup.model_name,
                "label": s.setup.label,
                "rating": round(s.rating, 2),
                "ci_low": None if math.isnan(s.ci_low) else round(s.ci_low, 2),
                "ci_high": None if math.isnan(s.ci_high) else round(s.ci_high, 2),
                "votes": s.votes,
                "wins": s.wins,
                "ties": s.ties,
                "losses": s.losses,
                "both_bad": s.both_bad,
            }
            for s in board.standings
        ],
    }


def board_text(board: Leaderboard) -> str:
    """The leaderboard as an aligned table (setup last: it may be long)."""
    rows = [
        [
            str(s.rank),
            _number(s.rating),
            f"{_number(s.ci_low)}..{_number(s.ci_high)}",
            str(s.votes),
            f"{s.wins}/{s.ties}/{s.losses}/{s.both_bad}",
            one_line(s.key, 80),
        ]
        for s in board.standings
    ]
    headers = ["rank", "rating", "95% CI", "votes", "W/T/L/bad", "setup"]
    return table(headers, rows, right={0, 1, 2, 3})


async def cmd_arena(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove arena [CONV] [--method bt|elo] [--json]`."""
    conversation_id = ""
    if args.conv:
        conversation_id = (await open_conversation(grok, args.conv)).conversation_id
    votes = await grok.list_votes(conversation_id)
    board = leaderboard(votes, args.method)
    outcome = Outcome()
    if args.json:
        outcome.stdout = dumps(board_json(board)) + "\n"
        return outcome
    if not votes:
        where = "in this conversation" if conversation_id else "yet"
        outcome.errors.append(f"no arena votes {where}; vote in the explorer's arena (a key).")
        return outcome
    method = "Bradley-Terry" if board.method == "bt" else "Elo"
    outcome.stdout = board_text(board)
    outcome.errors.append(
        f"{board.votes} votes, {method} ratings, 95% intervals from "
        f"{board.bootstrap_rounds} bootstrap resamples."
    )
    return outcome
