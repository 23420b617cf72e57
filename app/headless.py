"""The `grove` commands for scripts: ls, show, search, sample, export and import.

They talk to a server exactly as the explorer does: `--server HOST:PORT` (or
`XAI_API_HOST`, or `server` in the config file), else an embedded server on the default
database (or `--db`) started in this process for the command and stopped after it, so
`grove ls` works right after a session in the app. Formats live in `client.export`; this
module is only plumbing: arguments, connection, output and exit codes.

Exit codes follow Unix tools: 0 success, 1 a runtime failure (server error, no such
conversation, unreadable file — one `grove: <sentence>` line on stderr, never a
traceback), 2 a usage error (argparse, or flags that contradict each other). Text output
is for people and has control characters removed; `--json` output keeps every text exact
(escaped the JSON way) for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grove_explorer.app.config import AppConfig
from grove_explorer.app.safe_text import clean, first_line
from grove_explorer.client import (
    AsyncGrok,
    Client,
    Conversation,
    GroveError,
    Response,
    SamplingParams,
)
from grove_explorer.client.export import (
    Forest,
    collect_tokens,
    conversation_metadata,
    dumps,
    export_json,
    import_request,
    preference_pairs,
    sampling_summary,
    to_dot,
    to_jsonl,
    to_markdown,
)
from grove_explorer.client.streams import ModelResponseEvent, TokensEvent

HEADLESS_COMMANDS = ("ls", "show", "search", "sample", "export", "import")
MIN_PREFIX = 4
"""Shortest id prefix accepted for a conversation or response (fewer would rarely be unique)."""
SHORT_ID = 12
"""Id characters shown in text output: unique in practice and accepted back as a prefix."""
MAX_SAMPLES = 64
"""Upper bound of `grove sample --n`, well under the server's concurrent-stream limit."""


class CommandError(Exception):
    """A runtime failure with a sentence for stderr (exit code 1)."""


class UsageError(Exception):
    """Flags that argparse accepts but that contradict each other (exit code 2)."""


@dataclass
class Outcome:
    """What a command produced: text for stdout, sentences for stderr, an exit code."""

    stdout: str = ""
    errors: list[str] = field(default_factory=list)
    code: int = 0
    output_file: Path | None = None
    raw_text: bool = False
    """True for document formats (Markdown, DOT) that keep exact text unless on a tty."""


# -- arguments ------------------------------------------------------------------------------


def _positive_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_SAMPLES:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_SAMPLES}, not {value}")
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
        help="use a running Grove server (default: $XAI_API_HOST, else an embedded one "
        "started for this command)",
    )
    group.add_argument(
        "--db",
        type=Path,
        default=argparse.SUPPRESS,
        help="SQLite file of the embedded server (default: the app's)",
    )
    group.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="config file to read instead of the default",
    )
    return common


def _json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--json", action="store_true", help=f"print {what} as JSON (exact text) for scripts"
    )


CONV_HELP = "conversation: its id, a unique prefix of it (4+ characters) or its exact title"
LEAF_HELP = "end the current path at this response (id or unique prefix; default: the newest)"


def add_headless_commands(commands: Any) -> None:
    """Declares ls, show, search, sample, export and import on `grove`'s subparsers."""
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
        description="Print the messages on a conversation's current path (the path to the "
        "newest response, as the explorer opens it).",
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
    search.add_argument("--limit", type=_positive_count, default=None, help="at most N hits")
    _json_flag(search, "the hits")

    sample = commands.add_parser(
        "sample",
        parents=[common],
        help="sample N replies in parallel at the end of the current path",
        description="Resample the current path's last model reply N times in parallel "
        "(or, when the path ends with a human message, sample N replies to it). With "
        "--seed S, sample i uses seed S+i, so a batch is reproducible. Prints one row per "
        "sample: #, id, seed, tokens, mean logprob, time and the first line.",
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
        metavar="NAME",
        help="model to sample from (default: the model of the reply resampled, or of the "
        "path's latest reply)",
    )
    sample.add_argument("--leaf", metavar="RESPONSE", help=LEAF_HELP)
    _json_flag(sample, "the samples")

    export = commands.add_parser(
        "export",
        parents=[common],
        help="write a conversation as Markdown, JSON, preference pairs or Graphviz",
        description="Export a conversation. md: the current path (--path, default) or "
        "every branch (--all) as Markdown; json: the whole forest, lossless (tokens with "
        "logprobs included), for `grove import`; jsonl-pairs: preference pairs "
        "(prompt/chosen/rejected) from rated or picked sibling replies; dot: the tree for "
        "Graphviz (`dot -Tsvg`).",
    )
    export.add_argument("conv", metavar="CONV", help=CONV_HELP)
    export.add_argument(
        "--format",
        choices=("md", "json", "jsonl-pairs", "dot"),
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
        "-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout"
    )

    import_ = commands.add_parser(
        "import",
        parents=[common],
        help="create a conversation from a `grove export --format json` file",
        description="Restore an exported forest as a new conversation (new ids and times, "
        "everything else as exported) and print its id.",
    )
    import_.add_argument("file", metavar="FILE", help="the JSON file ('-' reads stdin)")
    _json_flag(import_, "the new conversation")


def _check_usage(args: argparse.Namespace) -> None:
    """Contradictions argparse cannot express; raised before any server starts."""
    if args.command == "export" and args.format != "md" and (args.path or args.all):
        raise UsageError(
            f"--path and --all choose the Markdown scope; drop them for --format {args.format}."
        )


# -- running --------------------------------------------------------------------------------


def run_headless(args: argparse.Namespace, config: AppConfig) -> int:
    """Runs one headless command and returns its exit code."""
    try:
        _check_usage(args)
    except UsageError as error:
        print(f"grove {args.command}: error: {error}", file=sys.stderr)
        return 2
    command = _COMMANDS[args.command]
    try:
        if args.command == "import":
            prepare_import(args)
        outcome = asyncio.run(_with_grok(config, lambda grok: command(grok, args)))
    except CommandError as error:
        print(f"grove: {_sentence(str(error))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("grove: interrupted.", file=sys.stderr)
        return 130
    try:
        _emit(outcome)
    except CommandError as error:
        print(f"grove: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`grove ls | head -1`): nothing more to say.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141
    return outcome.code


def _emit(outcome: Outcome) -> None:
    """Writes the outcome; document formats are cleaned only when shown on a terminal."""
    text = outcome.stdout
    if outcome.output_file is not None:
        try:
            outcome.output_file.write_text(text, encoding="utf-8")
        except OSError as error:
            raise CommandError(
                f"cannot write {outcome.output_file}: {error.strerror or error}."
            ) from None
    else:
        if outcome.raw_text and sys.stdout.isatty():
            text = clean(text)
        sys.stdout.write(text)
        sys.stdout.flush()
    for sentence in outcome.errors:
        print(f"grove: {sentence}", file=sys.stderr)


async def _with_grok(
    config: AppConfig, work: Callable[[AsyncGrok], Coroutine[Any, Any, Outcome]]
) -> Outcome:
    """Runs `work` against the configured server, turning SDK errors into sentences."""
    try:
        async with _connect(config) as grok:
            return await work(grok)
    except GroveError as error:  # the server's own sentence (or "cannot reach …")
        raise CommandError(_sentence(error.message)) from None


@contextlib.asynccontextmanager
async def _connect(config: AppConfig) -> AsyncIterator[AsyncGrok]:
    """The configured server, or an embedded one on the app's database for this command."""
    if config.server:
        try:
            client = Client(api_key=config.api_key, api_host=config.server)
        except ValueError as error:
            raise CommandError(str(error)) from None
        try:
            yield client.grok
        finally:
            await client.close()
        return
    from grove_explorer.app.embedded import start_embedded_server

    try:
        server = await start_embedded_server(config.db, token_delay_ms=0, models=config.models)
    except Exception as error:  # StartupError, OSError, sqlite3 errors: all say why
        where = f" on {config.db}" if config.db else ""
        raise CommandError(f"cannot start the embedded server{where}: {error}") from None
    try:
        client = Client(api_key=config.api_key, api_host=server.address)
        try:
            yield client.grok
        finally:
            await client.close()
    finally:
        await server.stop()


def _sentence(text: str) -> str:
    """One line, ending with a full stop, without control characters."""
    text = " ".join(clean(text).split())
    return text if text.endswith((".", "!", "?")) else text + "."


# -- finding things -------------------------------------------------------------------------


def _short(identifier: str | None) -> str:
    return (identifier or "-")[:SHORT_ID]


def _one_line(text: str, limit: int = 200) -> str:
    """Cleaned text on a single line (titles, snippets)."""
    line = " ".join(clean(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


async def _open(grok: AsyncGrok, ref: str) -> Conversation:
    """The conversation `ref` names: an id, a unique id prefix, or an exact title."""
    listed = await grok.list_conversations()
    wanted = ref.strip()
    matches = [c for c in listed if c.conversation_id == wanted]
    if not matches and len(wanted) >= MIN_PREFIX:
        matches = [c for c in listed if c.conversation_id.startswith(wanted.lower())]
    if not matches:
        matches = [c for c in listed if c.title == ref]
    if len(matches) > 1:
        candidates = "; ".join(
            f"{c.conversation_id} ({_one_line(c.title, 40) or 'untitled'})" for c in matches[:10]
        )
        more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
        raise CommandError(
            f"{_one_line(ref, 60)!r} matches {len(matches)} conversations: "
            f"{candidates}{more}. Give more of the id."
        )
    if not matches:
        hint = (
            f" (an id prefix needs at least {MIN_PREFIX} characters)"
            if len(wanted) < MIN_PREFIX
            else ""
        )
        raise CommandError(
            f"no conversation matches {_one_line(ref, 60)!r}{hint}; `grove ls` lists them."
        )
    return await grok.get_conversation(matches[0].conversation_id)


def _leaf(conversation: Conversation, ref: str | None) -> Response | None:
    """The response `--leaf` names (id or unique prefix), else the newest one."""
    responses = conversation.responses
    if ref is None:
        return responses[-1] if responses else None
    wanted = ref.strip().lower()
    matches = [r for r in responses if r.response_id == wanted]
    if not matches and len(wanted) >= MIN_PREFIX:
        matches = [r for r in responses if r.response_id.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(r.response_id for r in matches[:10])
        raise CommandError(f"{ref!r} matches {len(matches)} responses: {ids}. Give more of it.")
    raise CommandError(
        f"conversation {conversation.conversation_id} has no response {_one_line(ref, 60)!r}."
    )


# -- commands -------------------------------------------------------------------------------


def _local_time(iso: str | None) -> str:
    if not iso:
        return "-"
    moment = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    """Columns padded to their widest cell; the last column is left free (long text)."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = []
        for i, cell in enumerate(row):
            if i == len(row) - 1:
                cells.append(str(cell))
            elif i in right:
                cells.append(str(cell).rjust(widths[i]))
            else:
                cells.append(str(cell).ljust(widths[i]))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


async def cmd_ls(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove ls`: every conversation, newest first."""
    listed = await grok.list_conversations()
    items: list[dict[str, Any]] = []
    for c in listed:
        items.append(
            {
                "conversation_id": c.conversation_id,
                "title": c.title,
                "starred": c.starred,
                "create_time": _wire_time(c, "create_time"),
                "update_time": _wire_time(c, "update_time"),
                "response_count": c.response_count,
            }
        )
    if args.json:
        return Outcome(dumps(items) + "\n")
    if not items:
        return Outcome()
    rows = [
        [
            _short(i["conversation_id"]),
            _local_time(i["update_time"]),
            str(i["response_count"]),
            ("★ " if i["starred"] else "") + (_one_line(i["title"]) or "(untitled)"),
        ]
        for i in items
    ]
    return Outcome(_table(["ID", "UPDATED", "RESPONSES", "TITLE"], rows, right={2}))


def _wire_time(message: Any, name: str) -> str | None:
    if not message.HasField(name):
        return None
    moment = getattr(message, name).ToDatetime(tzinfo=datetime.UTC)
    return moment.isoformat().replace("+00:00", "Z")


async def cmd_show(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove show CONV`: the messages of the current path."""
    conversation = await _open(grok, args.conv)
    leaf = _leaf(conversation, args.leaf)
    document = export_json(conversation, {})
    forest = Forest.of(document)
    path = forest.path(leaf.response_id if leaf else None)
    if args.json:
        payload = conversation_metadata(conversation)
        payload["leaf_response_id"] = leaf.response_id if leaf else None
        payload["path"] = [{k: v for k, v in r.items() if k != "tokens"} for r in path]
        return Outcome(dumps(payload) + "\n")
    meta = [f"id {conversation.conversation_id}", f"{len(document['responses'])} responses"]
    if conversation.starred:
        meta.append("starred")
    if path:
        meta.append(f"path of {len(path)}")
    lines = [_one_line(conversation.title) or "(untitled)", " · ".join(meta), ""]
    for response in path:
        head = [response["sender"], _short(response["response_id"])]
        if response["model_name"]:
            head.append(response["model_name"])
        if response["manual"]:
            head.append("manual")
        sampling = sampling_summary(response["sampling_params"])
        if sampling:
            head.append(sampling)
        if response["sender"] == "model" and not response["manual"]:
            head.append(f"{response['token_count']} tokens")
        k, n = forest.position(response)
        if n > 1:
            head.append(f"branch {k}/{n}")
        if response["partial"]:
            head.append("partial")
        lines += [f"── {' · '.join(head)} ──", clean(response["message"]), ""]
    return Outcome("\n".join(lines))


async def cmd_search(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove search QUERY`: hits best first."""
    hits = await grok.search(args.query, limit=args.limit or 0)
    if args.json:
        return Outcome(dumps([hit.model_dump(mode="json") for hit in hits]) + "\n")
    if not hits:
        return Outcome()
    rows = [
        [
            _short(hit.conversation_id),
            _short(hit.response_id or None),
            hit.field,
            f"{_one_line(hit.conversation_title, 40) or '(untitled)'}: {_one_line(hit.snippet)}",
        ]
        for hit in hits
    ]
    return Outcome(_table(["CONVERSATION", "RESPONSE", "FIELD", "MATCH"], rows, right=set()))


@dataclass
class _Sample:
    index: int
    response: Response
    mean_logprob: float | None
    wall_seconds: float


async def _run_sample(
    conversation: Conversation,
    index: int,
    parent_id: str | None,
    sampling: SamplingParams | None,
    model_name: str | None,
) -> _Sample:
    """One stream to its end; the mean of the logprobs the server reported."""
    started = time.perf_counter()
    stream = conversation.sample(
        "", parent_response_id=parent_id, sampling=sampling, model_name=model_name
    )
    known: list[float] = []
    response: Response | None = None
    try:
        async for event in stream:
            if isinstance(event, TokensEvent):
                known += [t.logprob for t in event.tokens if t.logprob is not None]
            elif isinstance(event, ModelResponseEvent):
                response = event.response
    finally:
        await stream.aclose()  # cancelled (Ctrl+C): the server keeps the partial reply
    if response is None:
        response = await stream.future
    mean = sum(known) / len(known) if known else None
    return _Sample(index, response, mean, time.perf_counter() - started)


async def _model_for(grok: AsyncGrok, conversation: Conversation, start: Response) -> str | None:
    """The model that wrote the path's latest sampled reply, if the server still offers it.

    Same rule as reopening a conversation in the app, so `grove sample` continues with
    the model the user was using. None means the server's default.
    """
    model = conversation.path_model(start.response_id)
    if not model:
        return None
    try:
        catalog = await grok.list_models()
    except GroveError:
        return None
    return model if catalog.model(model) else None


async def cmd_sample(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove sample CONV --n N`: parallel resamples of the leaf's reply (or replies to it)."""
    conversation = await _open(grok, args.conv)
    leaf = _leaf(conversation, args.leaf)
    if leaf is None:
        raise CommandError(
            f"conversation {conversation.conversation_id} is empty: there is nothing to "
            "sample from."
        )
    parent_id = leaf.parent_response_id if leaf.sender == "model" else leaf.response_id
    model = args.sample_model or await _model_for(grok, conversation, leaf)
    given = (args.temperature, args.top_p, args.max_tokens, args.seed)

    def params(i: int) -> SamplingParams | None:
        if all(v is None for v in given):
            return None
        return SamplingParams(
            temperature=args.temperature,
            top_p=args.top_p,
            max_tokens=args.max_tokens,
            seed=None if args.seed is None else (args.seed + i) % 2**63,
        )

    results = await asyncio.gather(
        *(_run_sample(conversation, i, parent_id, params(i), model) for i in range(args.n)),
        return_exceptions=True,
    )
    samples = [r for r in results if isinstance(r, _Sample)]
    failures: list[tuple[int, str]] = []
    for i, result in enumerate(results):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            message = result.message if isinstance(result, GroveError) else str(result)
            failures.append((i + 1, _sentence(message or type(result).__name__)))
    outcome = Outcome(code=1 if failures else 0)
    outcome.errors = [f"sample {i} failed: {sentence}" for i, sentence in failures]
    if args.json:
        outcome.stdout = (
            dumps(
                {
                    "conversation_id": conversation.conversation_id,
                    "parent_response_id": parent_id,
                    "resampled_response_id": leaf.response_id if leaf.sender == "model" else None,
                    "samples": [
                        {
                            "index": s.index + 1,
                            "response_id": s.response.response_id,
                            "model_name": s.response.model_name,
                            "seed": _seed(s.response),
                            "token_count": s.response.token_count,
                            "mean_logprob": s.mean_logprob,
                            "time_to_first_token_seconds": s.response.time_to_first_token,
                            "total_time_seconds": s.response.total_time,
                            "partial": s.response.partial,
                            "message": s.response.message,
                        }
                        for s in samples
                    ],
                    "failures": [{"index": i, "error": e} for i, e in failures],
                }
            )
            + "\n"
        )
        return outcome
    rows = [
        [
            str(s.index + 1),
            _short(s.response.response_id),
            "-" if _seed(s.response) is None else str(_seed(s.response)),
            str(s.response.token_count),
            "-" if s.mean_logprob is None else f"{s.mean_logprob:.3f}",
            f"{s.response.total_time or s.wall_seconds:.2f}s",
            ("⋯ " if s.response.partial else "") + first_line(s.response.message, 60),
        ]
        for s in samples
    ]
    if rows:
        outcome.stdout = _table(
            ["#", "ID", "SEED", "TOKENS", "MEAN LOGPROB", "TIME", "TEXT"], rows, right={0, 3, 4, 5}
        )
    return outcome


def _seed(response: Response) -> int | None:
    params = response.sampling_params
    return None if params is None else params.seed


async def cmd_export(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove export CONV`: one of the formats of `client.export`."""
    conversation = await _open(grok, args.conv)
    leaf = _leaf(conversation, args.leaf)
    leaf_id = leaf.response_id if leaf is not None and args.leaf is not None else None
    tokens = await collect_tokens(conversation) if args.format == "json" else {}
    document = export_json(conversation, tokens)
    outcome = Outcome(output_file=args.output)
    if args.format == "json":
        outcome.stdout = dumps(document) + "\n"
    elif args.format == "jsonl-pairs":
        outcome.stdout = to_jsonl(preference_pairs(document, leaf_id=leaf_id))
    elif args.format == "dot":
        outcome.stdout = to_dot(document, leaf_id=leaf_id)
        outcome.raw_text = True
    else:
        outcome.stdout = to_markdown(document, leaf_id=leaf_id, all_branches=args.all)
        outcome.raw_text = True
    return outcome


def _read_import_file(name: str) -> Any:
    """The JSON of FILE (or stdin), or a CommandError saying why it cannot be used."""
    label = "stdin" if name == "-" else name
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except OSError as error:
        raise CommandError(f"cannot read {label}: {error.strerror or error}.") from None
    except UnicodeDecodeError:
        raise CommandError(f"{label} is not UTF-8 text.") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(
            f"{label} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})."
        ) from None


def prepare_import(args: argparse.Namespace) -> None:
    """Reads and checks the import file before any server starts (a bad file costs nothing)."""
    data = _read_import_file(args.file)
    try:
        args.import_request = import_request(data)
    except ValueError as error:
        label = "stdin" if args.file == "-" else args.file
        raise CommandError(f"{label}: {error}") from None


async def cmd_import(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove import FILE`: a new conversation from an export; prints its id."""
    conversation = await grok.import_conversation(args.import_request)
    if args.json:
        return Outcome(dumps(conversation_metadata(conversation)) + "\n")
    return Outcome(conversation.conversation_id + "\n")


_COMMANDS: dict[str, Callable[[AsyncGrok, argparse.Namespace], Coroutine[Any, Any, Outcome]]] = {
    "ls": cmd_ls,
    "show": cmd_show,
    "search": cmd_search,
    "sample": cmd_sample,
    "export": cmd_export,
    "import": cmd_import,
}
