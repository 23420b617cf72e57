"""The headless commands' arguments: one subparser each, and the checks argparse cannot do."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from grove_explorer.app.headless.command_arguments import (
    add_arena_command,
    add_fuse_command,
    add_replay_command,
    add_share_command,
    add_sweep_command,
)
from grove_explorer.app.headless.common import (
    MAX_SAMPLES,
    MAX_SEARCH_HITS,
    UsageError,
)
from grove_explorer.server.database_location import database_argument


def _count_up_to(high: int) -> Any:
    """An argparse type: a whole number from 1 to `high`, else a usage error saying so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 1 <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between 1 and {high}, not {value}")
        return value

    return parse


_positive_count = _count_up_to(MAX_SAMPLES)


def _similarity(text: str) -> float:
    """An argparse type: a similarity from -1 to 1 (cosines can be negative)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between -1 and 1, not {value:g}")
    return value


def _common_options() -> argparse.ArgumentParser:
    """Connection flags accepted after the subcommand too (`grove ls --server H:P`).

    Their default is SUPPRESS: argparse copies a subcommand's defaults over the values
    given before the subcommand, so a plain default would erase `grove --server H:P ls`.
    """
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument(
        "--server",
        metavar="HOST:PORT",
        default=argparse.SUPPRESS,
        help="use a running Grove server, or several replicas (a:1,b:2) balanced round "
        "robin (default: $XAI_API_HOST, else an embedded one started for this command)",
    )
    group.add_argument(
        "--db",
        type=database_argument,
        default=argparse.SUPPRESS,
        metavar="FILE|URL",
        help="database of the embedded server: a SQLite file or a postgresql:// URL "
        "(default: the app's)",
    )
    group.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="config file to read instead of the default",
    )
    from grove_explorer.server.cli import add_database_arguments

    add_database_arguments(group, suppress=True)  # type: ignore[arg-type]
    return common


def _json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--json", action="store_true", help=f"print {what} as JSON (exact text) for scripts"
    )


CONV_HELP = "conversation: its id, a unique prefix of it (4+ characters) or its exact title"
LEAF_HELP = (
    "end the current path at this response (id or unique prefix; default: your place, "
    "as `grove select` or the explorer left it, else the newest response)"
)


def add_headless_commands(commands: Any) -> None:
    """Declares ls, show, search, sample, select, export and import on `grove`'s subparsers."""
    common = _common_options()

    ls = commands.add_parser(
        "ls",
        parents=[common],
        help="list conversations, newest first",
        description="List your conversations, newest first: id, last update, response "
        "count, star and title.",
    )
    _json_flag(ls, "the list")

    show = commands.add_parser(
        "show",
        parents=[common],
        help="print a conversation's current path",
        description="Print the messages on a conversation's current path: the path to your "
        "place (the stored leaf, where the explorer opens it and `grove select` puts it; the "
        "newest response if you never chose one). --json reports it as leaf_response_id. "
        "A share link (CONV as a URL) shows the path to the response it links to.",
    )
    show.add_argument("conv", metavar="CONV", help=CONV_HELP)
    show.add_argument("--leaf", metavar="RESPONSE", help=LEAF_HELP)
    _json_flag(show, "the path")

    search = commands.add_parser(
        "search",
        parents=[common],
        help="full-text search over your conversations",
        description="Search messages, titles, tags and notes. QUERY takes words, "
        '"phrases", prefix*, OR, NOT and filters: sender:human|model, model:NAME, tag:X, '
        "rated:+|-, bookmarked, partial.",
    )
    search.add_argument("query", metavar="QUERY", help="what to look for")
    search.add_argument(
        "--limit",
        type=_count_up_to(MAX_SEARCH_HITS),
        default=None,
        metavar="N",
        help=f"at most N hits (1-{MAX_SEARCH_HITS:,}; default: the server's, 50); when "
        "more match, stderr says how many",
    )
    _json_flag(search, "the hits")

    sample = commands.add_parser(
        "sample",
        parents=[common],
        help="sample N replies in parallel at the end of the current path (per --model)",
        description="Resample the current path's last model reply N times in parallel "
        "(or, when the path ends with a human message, sample N replies to it). With "
        "--seed S, sample i uses seed S+i, so a batch is reproducible. With several --model, "
        "N samples from each (seeds S+i per model). Prints one row per sample: #, id, model, "
        "seed, tokens, mean logprob, time, why it ended (stop; length: cut at --max-tokens) "
        "and the first line.",
    )
    sample.add_argument("conv", metavar="CONV", help=CONV_HELP)
    sample.add_argument(
        "-n",
        "--n",
        type=_positive_count,
        default=4,
        metavar="N",
        help=f"how many samples (1-{MAX_SAMPLES}; default: 4)",
    )
    sample.add_argument(
        "--temperature", type=float, metavar="T", help="sampling temperature (default: model's)"
    )
    sample.add_argument("--top-p", type=float, metavar="P", help="nucleus sampling mass")
    sample.add_argument("--max-tokens", type=int, metavar="N", help="longest reply in tokens")
    sample.add_argument("--seed", type=int, metavar="S", help="seed of the first sample")
    sample.add_argument(
        "--model",
        dest="sample_model",
        action="append",
        metavar="NAME",
        help="model to sample from; repeat it to fan out: N samples from each model, all in "
        "parallel (default: the model of the reply resampled, or of the path's latest reply)",
    )
    sample.add_argument("--leaf", metavar="RESPONSE", help=LEAF_HELP)
    _json_flag(sample, "the samples")

    judge = commands.add_parser(
        "judge",
        parents=[common],
        help="have a judge model score the samples at the end of the current path",
        description="Score the current path's last model reply and its sibling replies "
        "(a batch of samples) 0-10 with a judge model against a rubric; the scores are "
        "stored next to the replies. Prints them best first: rank, id, model, score, "
        "rationale. The offline model judges by a transparent heuristic (a demo).",
    )
    judge.add_argument("conv", metavar="CONV", help=CONV_HELP)
    judge.add_argument("--leaf", metavar="RESPONSE", help=LEAF_HELP)
    rubric = judge.add_mutually_exclusive_group()
    rubric.add_argument(
        "--rubric", metavar="NAME", help="a named rubric of the server (default: default)"
    )
    rubric.add_argument("--criteria", metavar="TEXT", help="your own rubric text")
    judge.add_argument(
        "--model", dest="judge_model", metavar="M", help="the judge (default: server's default)"
    )
    judge.add_argument(
        "--mode",
        choices=("each", "table"),
        default="each",
        help="each: one judge call per reply, in parallel (default); table: one call "
        "scores all replies together",
    )
    _json_flag(judge, "the scores")

    select = commands.add_parser(
        "select",
        parents=[common],
        help="move your place in a conversation (the stored current leaf)",
        description="Make RESPONSE the conversation's current leaf, stored on the server: "
        "the explorer opens the conversation there, and show, export and sample use it "
        "when no --leaf is given. (grove sample never moves it.)",
    )
    select.add_argument("conv", metavar="CONV", help=CONV_HELP)
    select.add_argument(
        "response", metavar="RESPONSE", help="the new leaf: its id or a unique prefix (4+)"
    )
    _json_flag(select, "the new place")

    export = commands.add_parser(
        "export",
        parents=[common],
        help="write a conversation as Markdown, JSON, preference pairs or Graphviz",
        description="Export a conversation. md: the current path (--path, default) or "
        "every branch (--all) as Markdown; json: the whole forest, lossless (tokens with "
        "logprobs included), for `grove import`; jsonl-pairs: preference pairs "
        "(prompt/chosen/rejected) from rated or picked sibling replies; dot: the tree for "
        "Graphviz (`dot -Tsvg`); openwebui, chatgpt, loom: the forest as Open WebUI's chat "
        "export, ChatGPT's conversations.json, or socketteer/loom's tree (what the format "
        "cannot hold is counted on stderr).",
    )
    export.add_argument("conv", metavar="CONV", help=CONV_HELP)
    export.add_argument(
        "--format",
        choices=("md", "json", "jsonl-pairs", "dot", "openwebui", "chatgpt", "loom"),
        default="md",
        help="output format (default: md)",
    )
    scope = export.add_mutually_exclusive_group()
    scope.add_argument(
        "--path", action="store_true", help="md: only the current path (the default)"
    )
    scope.add_argument("--all", action="store_true", help="md: every branch of the forest")
    export.add_argument("--leaf", metavar="RESPONSE", help=LEAF_HELP)
    export.add_argument(
        "--pairs-from",
        choices=("marks", "judge", "arena"),
        default="marks",
        help="jsonl-pairs: from your ratings and picks (marks, the default), from judge "
        "scores of siblings (judge: higher score chosen; ties and unjudged skipped, counted) "
        "or from your blind arena votes (arena: the voted reply chosen; ties and both-bad "
        "skipped, counted)",
    )
    export.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout"
    )

    import_ = commands.add_parser(
        "import",
        parents=[common],
        help="create conversations from a `grove export --format json` file or another "
        "tool's export (ChatGPT, Open WebUI, loom)",
        description="Restore an exported forest as a new conversation (new ids, everything "
        "else as exported, times included) and print its id. Another tool's file gives one "
        "conversation per conversation in it, one id per line: branches, roles, times, "
        "models and the current leaf are kept; what Grove cannot hold (images, tool "
        "calls…) is counted on stderr, and so are responses without a time (stored at the "
        "import's) or before their parent (stored at its time). A time after the server's "
        "clock is refused.",
    )
    import_.add_argument("file", metavar="FILE", help="the JSON file ('-' reads stdin)")
    import_.add_argument(
        "--from",
        dest="from_format",
        choices=("auto", "grove", "chatgpt", "openwebui", "loom"),
        default="auto",
        help="the file's format: a Grove export, ChatGPT's conversations.json, an Open WebUI "
        "chat export or a loom tree (default auto: by its shape); one new conversation each",
    )
    import_.add_argument(
        "--keep-times",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="store each response at the time the file gives (default); --no-keep-times "
        "stores the import's time, as before",
    )
    _json_flag(import_, "the new conversation")
    add_stats_command(commands, common)
    add_fuse_command(commands, common)
    add_sweep_command(commands, common)
    add_replay_command(commands, common)
    add_arena_command(commands, common)
    add_share_command(commands, common)


def add_stats_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """`grove stats CONV`: the spread of the siblings of the path's last model reply."""
    stats = commands.add_parser(
        "stats",
        parents=[common],
        help="statistics of the batch of sibling replies at the end of the current path",
        description="Read the spread of the siblings of the path's last model reply: "
        "pairwise similarity (ROUGE-L and token-overlap Jaccard of words, or the cosine of "
        "embeddings when a model offers them), clusters of near-duplicates, an order that "
        "keeps similar replies together, the majority short answer, where the replies "
        "disagree along the most typical one, and distributions of length, mean logprob "
        "and latency. The report says which similarity was used.",
    )
    stats.add_argument("conv", metavar="CONV", help=CONV_HELP)
    stats.add_argument("--leaf", metavar="RESPONSE", help=LEAF_HELP)
    stats.add_argument(
        "--threshold",
        type=_similarity,
        metavar="S",
        help="similarity at which two replies count as near-duplicates (default: 0.8 for "
        "ROUGE-L, 0.95 for embeddings)",
    )
    embed = stats.add_mutually_exclusive_group()
    embed.add_argument(
        "--embeddings-model",
        metavar="NAME",
        help="embed the replies with this model (one whose backend has embeddings_model; "
        "default: the conversation's model when it has one)",
    )
    embed.add_argument(
        "--no-embeddings", action="store_true", help="compare words only, never embeddings"
    )
    _json_flag(stats, "every figure")


def check_usage(args: argparse.Namespace) -> None:
    """Contradictions argparse cannot express; raised before any server starts."""
    if args.command == "sample" and len(args.sample_model or ()) * args.n > MAX_SAMPLES:
        models = len(args.sample_model)
        raise UsageError(
            f"--n {args.n} from each of {models} models is {models * args.n} samples; at most "
            f"{MAX_SAMPLES} in one command."
        )
    if args.command == "export" and args.format != "md" and (args.path or args.all):
        raise UsageError(
            f"--path and --all choose the Markdown scope; drop them for --format {args.format}."
        )
    # Each command's own checks live in the module that runs it (imported here, for that
    # command only: building the parser imports none of them).
    if args.command == "fuse":
        from grove_explorer.app.headless.fusing import check_fuse_usage

        check_fuse_usage(args)
    if args.command == "sweep":
        from grove_explorer.app.headless.sweeping import check_sweep_usage

        check_sweep_usage(args)
    if args.command == "share":
        from grove_explorer.app.headless.sharing import check_share_usage

        check_share_usage(args)
