"""The subparsers of fuse, sweep, replay, arena and share, apart from their run modules.

`grove` builds every subcommand's parser for any subcommand (and for every --help), so
declaring a command must not import the code that runs it: `fusing`, `sweeping`,
`replaying`, `arena` and `sharing` load the SDK (gRPC, protos, pydantic) and are imported
only when their command runs (`running.command_of`; issue 13: start-up). The checks of
their flags (`check_fuse_usage`…) stay with them and run only for their command.
"""

from __future__ import annotations

import argparse
from typing import Any

from grove_explorer.client.research_modes import DEFAULT_PROMPT_WORD, MERGE_MODES

FUSE_HELP = (
    "Fuse sibling replies into one new reply, stored beside them with its sources "
    "(merged_from) and mode: fuse synthesises the best answer; checklist writes from the "
    "replies' points (all of those ExtractPoints finds, or the lines of --instruction); "
    "custom follows --instruction. Default sources: every model sibling of the current "
    "path's last model reply. The reply streams to stdout, then its id is printed."
)


def add_fuse_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Declares `grove fuse` on `grove`'s subparsers."""
    fuse = commands.add_parser(
        "fuse",
        parents=[common],
        help="fuse sibling replies into a new reply (fuse, checklist or custom)",
        description=FUSE_HELP,
    )
    fuse.add_argument(
        "conv", metavar="CONV", help="conversation: its id, a unique prefix or its title"
    )
    fuse.add_argument(
        "--leaf",
        metavar="RESPONSE",
        help="end the current path here (default: your place); its last model reply's "
        "siblings are fused",
    )
    fuse.add_argument(
        "--ids",
        metavar="A,B,C",
        help="the replies to fuse, comma-separated ids or unique prefixes (siblings, 2+)",
    )
    fuse.add_argument(
        "--mode", choices=MERGE_MODES, default="fuse", help="how to fuse (default: fuse)"
    )
    fuse.add_argument(
        "--instruction",
        metavar="TEXT",
        help="custom: what to do with the replies; checklist: the points, one per line",
    )
    fuse.add_argument(
        "--model",
        dest="fuse_model",
        metavar="NAME",
        help="model that writes the fused reply (default: the path's latest reply's)",
    )
    fuse.add_argument(
        "--json",
        action="store_true",
        help="print the new reply (response_id, merged_from, mode, text) as JSON",
    )


def add_sweep_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Declares `grove sweep` on `grove`'s subparsers."""
    sweep = commands.add_parser(
        "sweep",
        parents=[common],
        help="sample a grid of models x temperatures x top-ps x system prompts x seeds",
        description="Sample every combination of the given axes at the end of the current "
        "path (siblings of its last model reply, or replies to a human leaf), each with "
        "seeds S..S+N-1, at most K at once. Prints one row per cell: model, T, top-p, "
        "prompt, n, failed, mean tokens, mean logprob, mean words, mean time to first "
        "token, mean latency, mean judge score. Samples already made by the same sweep "
        "are skipped (stderr says how many).",
    )
    sweep.add_argument("conv", metavar="CONV", help="conversation: id, unique prefix or title")
    sweep.add_argument("--leaf", metavar="RESPONSE", help="sweep at this response")
    sweep.add_argument(
        "--model", dest="sweep_models", metavar="A,B", help="models (default: the path's)"
    )
    sweep.add_argument("--temperature", dest="sweep_temperatures", metavar="T,T")
    sweep.add_argument("--top-p", dest="sweep_top_ps", metavar="P,P")
    sweep.add_argument(
        "--system-prompt",
        dest="sweep_prompts",
        metavar="NAME,NAME",
        help=f"named system prompts ('{DEFAULT_PROMPT_WORD}': the server's default prompt)",
    )
    sweep.add_argument("--seeds", type=int, default=1, metavar="N", help="seeds per cell")
    sweep.add_argument("--seed", type=int, default=0, metavar="S", help="first seed (0)")
    sweep.add_argument("--max-tokens", type=int, metavar="N", help="longest reply in tokens")
    sweep.add_argument(
        "--concurrency", type=int, default=4, metavar="K", help="streams at once (default: 4)"
    )
    rubric = sweep.add_mutually_exclusive_group()
    rubric.add_argument("--rubric", metavar="NAME", help="judge every reply with this rubric")
    rubric.add_argument("--criteria", metavar="TEXT", help="judge with your own rubric text")
    shape = sweep.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print every sample as JSON")
    shape.add_argument("--csv", action="store_true", help="print the cells as CSV")


REPLAY_HELP = (
    "Replay the current path (or the path to --leaf) under another model: a parallel "
    "branch where each human turn is copied and each model turn is re-sampled by --model "
    "given the new branch's history. Every new response names the one it replays "
    "(replay_of). Prints the new path's leaf id; --json prints the pairs of original and "
    "replayed ids."
)


def add_replay_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Declares `grove replay` on `grove`'s subparsers."""
    replay = commands.add_parser(
        "replay",
        parents=[common],
        help="replay a path under another model as a parallel branch",
        description=REPLAY_HELP,
    )
    replay.add_argument(
        "conv", metavar="CONV", help="conversation: its id, a unique prefix or its title"
    )
    replay.add_argument(
        "--leaf", metavar="RESPONSE", help="end of the path to replay (default: your place)"
    )
    replay.add_argument(
        "--from",
        dest="replay_from",
        metavar="RESPONSE",
        help="start the replay at this response of the path (the path above it is shared; "
        "default: the root)",
    )
    replay.add_argument(
        "--model", dest="replay_model", required=True, metavar="NAME", help="model to replay with"
    )
    replay.add_argument(
        "--system-prompt",
        dest="replay_prompt",
        metavar="NAME",
        help="named system prompt of the replayed replies (default: the default prompt)",
    )
    replay.add_argument(
        "--temperature", type=float, metavar="T", help="sampling temperature (default: model's)"
    )
    replay.add_argument("--top-p", type=float, metavar="P", help="nucleus sampling mass")
    replay.add_argument("--max-tokens", type=int, metavar="N", help="longest reply in tokens")
    replay.add_argument("--seed", type=int, metavar="S", help="seed of every replayed reply")
    replay.add_argument(
        "--json",
        action="store_true",
        help="print the pairs of original and replayed ids, the model and the new leaf as JSON",
    )


ARENA_HELP = (
    "Rank the setups you compared in the blind arena (the explorer's arena screen): "
    "Bradley-Terry ratings (or Elo) on the Elo scale with 95% bootstrap intervals, and "
    "per setup its votes, wins, ties, losses and both-bad votes (both bad counts as a tie "
    "for the ratings). Without CONV, every vote of yours counts."
)


def add_arena_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Declares `grove arena` on `grove`'s subparsers."""
    arena = commands.add_parser(
        "arena",
        parents=[common],
        help="the blind arena's leaderboard of setups (ratings, intervals, votes)",
        description=ARENA_HELP,
    )
    arena.add_argument(
        "conv",
        metavar="CONV",
        nargs="?",
        help="only this conversation's votes: its id, a unique prefix or its title",
    )
    arena.add_argument(
        "--method",
        choices=("bt", "elo"),
        default="bt",
        help="bt: Bradley-Terry (default); elo: sequential Elo, oldest vote first",
    )
    arena.add_argument("--json", action="store_true", help="print the leaderboard as JSON")


SHARE_HELP = (
    "Share one of your conversations with another user of the server: a reader reads it, "
    "searches it and exports it (and keeps a place of their own in it); a writer also adds "
    "replies, annotations, judgements and votes. Only you rename, star, delete or share it. "
    "Sharing again changes the role; --revoke ends it on the user's next call."
)


def add_share_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Declares `grove share` on `grove`'s subparsers."""
    share = commands.add_parser(
        "share",
        parents=[common],
        help="share a conversation with another user (reader or writer), revoke, list",
        description=SHARE_HELP,
    )
    share.add_argument(
        "conv",
        metavar="CONV",
        help="conversation: its id, a unique prefix, its exact title, or a share link",
    )
    action = share.add_mutually_exclusive_group(required=True)
    action.add_argument("--user", metavar="USER", help="share with this user (a key holder)")
    action.add_argument("--revoke", metavar="USER", help="end this user's access")
    action.add_argument("--list", action="store_true", help="list who it is shared with")
    share.add_argument(
        "--role",
        choices=("reader", "writer"),
        default=None,
        help="with --user: reader (default) or writer",
    )
    share.add_argument("--json", action="store_true", help="print the result as JSON")
