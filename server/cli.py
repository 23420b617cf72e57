"""Command line of the Chat server: `grove serve …` and `python -m grove_explorer.server …`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

from grove_explorer.server import event_loop
from grove_explorer.server.backends import (
    OFFLINE_MODEL_NAME,
    BackendConfigError,
    BackendSpec,
    ModelsConfig,
    check_backend,
    check_models_config,
    parse_models_config,
)
from grove_explorer.server.config import (
    MIB,
    POSTGRES_REPLY_STORE_SLOTS,
    ServerConfig,
    default_config_path,
    default_db_path,
)
from grove_explorer.server.database_location import database_argument, database_from_environment
from grove_explorer.server.event_loop import EVENT_LOOP_CHOICES

MAX_WATCH_PENDING = 1_000_000
"""The most events `--watch-max-pending-events` lets one watcher fall behind (a bound on
the memory a stalled watcher may hold)."""


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Declares the server's flags on `parser` (shared by both entry points)."""
    defaults = ServerConfig()
    parser.add_argument(
        "--host", default=defaults.host, help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=defaults.port,
        help="port (0 picks a free one; default: %(default)s)",
    )
    parser.add_argument(
        "--db",
        type=database_argument,
        default=None,
        metavar="FILE|URL",
        help="SQLite file, or postgresql://user@host:port/dbname for a team server "
        f"(several replicas on one database); $GROVE_DB (default: {default_db_path()})",
    )
    add_database_arguments(parser)
    parser.add_argument(
        "--token-delay-ms",
        type=float,
        default=0.0,
        help="time between tokens of the offline model, to watch streaming; its streams "
        "step together, a token each per step, as a batched inference server's do "
        "(default: 0)",
    )
    parser.add_argument(
        "--offline-min-tokens",
        type=int,
        default=defaults.offline_min_reply_tokens,
        metavar="N",
        help="the offline model keeps writing until at least N tokens (default 48)",
    )
    parser.add_argument(
        "--share-base-url",
        default=defaults.share_base_url,
        help="base of the URLs ShareConversation returns (default: %(default)s)",
    )
    parser.add_argument(
        "--durability",
        choices=("normal", "full"),
        default="normal",
        help="SQLite synchronous mode: normal (WAL, fast) or full (fsync every commit)",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=MIB,
        help="largest accepted message in bytes (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-interval-ms",
        type=float,
        default=defaults.batch_interval_ms,
        help="flush streamed tokens at least this often (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-max-tokens",
        type=int,
        default=defaults.batch_max_tokens,
        help="flush once this many tokens wait; 1 disables batching (default: %(default)s)",
    )
    parser.add_argument(
        "--accept-ahead",
        type=int,
        default=defaults.accept_ahead,
        metavar="N",
        help="calls of one method gRPC may hand the server at once, requested ahead so a "
        "burst of starts is accepted in a few loop turns; 1 is grpc.aio's own one at a "
        "time (default: %(default)s)",
    )
    parser.add_argument(
        "--max-streams",
        type=int,
        default=defaults.max_streams,
        metavar="N",
        help="concurrent replies sampled at once; more answer RESOURCE_EXHAUSTED "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--watch-max-pending-events",
        type=int,
        default=defaults.watch_max_pending_events,
        metavar="N",
        help="events a WatchConversation watcher may fall behind before its watch is ended "
        "(RESOURCE_EXHAUSTED; the client watches again): a stalled watcher costs at most "
        "this much memory (default: %(default)s)",
    )
    parser.add_argument(
        "--checkpoint-ms",
        type=float,
        default=defaults.checkpoint_interval_ms,
        metavar="MS",
        help="save the text of running replies this often, so a crash loses at most this "
        "much (default: %(default)s)",
    )
    parser.add_argument(
        "--reply-store-slots",
        type=int,
        default=None,
        metavar="N",
        help="finished replies stored at once, so that replies ending together leave the "
        "server to the streams still running (0: no limit; default: "
        f"{POSTGRES_REPLY_STORE_SLOTS} with PostgreSQL, no limit with SQLite, whose group "
        "commit stores them together)",
    )
    parser.add_argument(
        "--resume-grace-seconds",
        type=float,
        default=defaults.resume_grace_seconds,
        metavar="S",
        help="a reply whose client lost its connection is sampled on this long, so the "
        "client can resume it; then it is kept partial (default: %(default)s)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"TOML file with [models.*], default_model, [system_prompts] "
        f"(default: $GROVE_CONFIG, else {default_config_path()} if it exists)",
    )
    add_security_arguments(parser)
    add_model_arguments(parser)
    parser.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    parser.add_argument(
        "--event-loop",
        choices=EVENT_LOOP_CHOICES,
        default="auto",
        help="the asyncio loop the server runs on: uvloop spends less CPU per streamed "
        "token; auto takes it when installed (default: %(default)s)",
    )


def add_database_arguments(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """Declares --read-only and --allow-damaged-db (serve, the app and headless commands).

    `suppress` leaves them unset when not given, for the headless subcommands, whose
    defaults would otherwise overwrite the same flags given before the subcommand.
    """
    default: object = argparse.SUPPRESS if suppress else False
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=default,
        help="open the database for reading only: browse, search and export; every change "
        "is refused",
    )
    parser.add_argument(
        "--allow-damaged-db",
        action="store_true",
        default=default,
        help="start even if the start-up check (PRAGMA quick_check) finds the database "
        "damaged; it is then opened read-only, to export what can still be read",
    )


def add_security_arguments(parser: argparse.ArgumentParser) -> None:
    """Declares the TLS and access flags of `grove serve`."""
    security = parser.add_argument_group(
        "security",
        "Once an API key exists in the database (grove keys create), every call needs one. "
        "Without keys, only loopback addresses are served unless --insecure-no-auth is given.",
    )
    security.add_argument(
        "--tls-cert", type=Path, metavar="PEM", help="serve TLS with this certificate (chain)"
    )
    security.add_argument(
        "--tls-key", type=Path, metavar="PEM", help="the private key of --tls-cert"
    )
    security.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="listen on a non-loopback address even though no API key exists",
    )


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Declares the flags that add an OpenAI-compatible backend (serve and the app)."""
    models = parser.add_argument_group(
        "models",
        "The offline model is always offered. Add an OpenAI-compatible endpoint with the flags "
        "below, or several named ones in the config file ([models.NAME] tables; see README).",
    )
    models.add_argument(
        "--sampler",
        choices=("offline", "openai", "llamacpp"),
        default=None,
        help="default backend: the offline demo model, the OpenAI-compatible endpoint "
        "given by --base-url/--model, or the local GGUF model given by --model-path "
        "(llamacpp needs the local extra: pip install 'grove-explorer[local]')",
    )
    models.add_argument(
        "--model-path",
        metavar="FILE.gguf",
        help="a GGUF model file run in-process by llama.cpp (with --sampler llamacpp)",
    )
    models.add_argument(
        "--base-url",
        metavar="URL",
        help="OpenAI-compatible API root, e.g. https://api.x.ai/v1 or http://localhost:11434/v1",
    )
    models.add_argument(
        "--api-key-env",
        metavar="VAR",
        default="",
        help="environment variable holding the endpoint's API key, e.g. XAI_API_KEY "
        "(omit for local servers that need none)",
    )
    models.add_argument("--model", metavar="NAME", help="the endpoint's model id, e.g. grok-4")
    models.add_argument(
        "--model-alias",
        metavar="NAME",
        help="the name Grove lists and records for that backend (default: --model, or "
        "the model file's name)",
    )
    models.add_argument(
        "--default-model",
        metavar="NAME",
        help="model used when a request names none (default: the --sampler backend, else "
        "the config file's default_model, else the first backend)",
    )


def read_toml(path: Path) -> dict[str, object]:
    """Reads a TOML file; a clear SystemExit when it is unreadable or malformed."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SystemExit(f"Cannot read {path}: {error}") from error


def models_from_args(args: argparse.Namespace) -> ModelsConfig:
    """The models a `grove serve` run offers: the config file's, then the flags'."""
    path = args.config  # named explicitly: it must exist
    if path is None:
        implicit = Path(os.environ.get("GROVE_CONFIG") or default_config_path())
        path = implicit if implicit.exists() else None
    try:
        models = parse_models_config(read_toml(path), str(path)) if path else ModelsConfig()
    except BackendConfigError as error:
        raise SystemExit(str(error)) from error
    return apply_model_flags(models, args)


def apply_model_flags(models: ModelsConfig, args: argparse.Namespace) -> ModelsConfig:
    """Adds the --sampler openai backend (made the default) and applies --default-model.

    Raises SystemExit with a sentence when the flags contradict each other.
    """
    try:
        if args.sampler == "openai":
            if not args.base_url or not args.model:
                raise SystemExit("--sampler openai needs --base-url and --model.")
            spec = BackendSpec(
                name=args.model_alias or args.model,
                base_url=args.base_url,
                model=args.model,
                api_key_env=args.api_key_env,
            )
            others = tuple(b for b in models.backends if b.name != spec.name)
            models = replace(models, backends=(spec, *others), default_model=spec.name)
        elif args.sampler == "llamacpp":
            if not args.model_path:
                raise SystemExit("--sampler llamacpp needs --model-path FILE.gguf.")
            path = Path(args.model_path).expanduser()
            spec = BackendSpec(
                name=args.model_alias or path.stem,
                sampler="llamacpp",
                model_path=str(path),
            )
            check_backend(spec, "--model-path")
            others = tuple(b for b in models.backends if b.name != spec.name)
            models = replace(models, backends=(spec, *others), default_model=spec.name)
        elif args.sampler == "offline":
            models = replace(models, default_model=OFFLINE_MODEL_NAME)
        elif args.base_url or args.model:
            raise SystemExit("--base-url and --model need --sampler openai.")
        elif args.model_path:
            raise SystemExit("--model-path needs --sampler llamacpp.")
        if args.default_model:
            models = replace(models, default_model=args.default_model)
        check_models_config(models, "command line")
    except BackendConfigError as error:
        raise SystemExit(str(error)) from error
    return models


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """Turns parsed flags into a `ServerConfig`, rejecting impossible values."""
    if args.batch_max_tokens < 1:
        raise SystemExit("--batch-max-tokens must be at least 1")
    if args.max_message_bytes < 1:
        raise SystemExit("--max-message-bytes must be positive")
    if args.token_delay_ms < 0:
        raise SystemExit("--token-delay-ms cannot be negative")
    if args.offline_min_tokens < 0:
        raise SystemExit("--offline-min-tokens cannot be negative")
    if args.max_streams < 1:
        raise SystemExit("--max-streams must be at least 1")
    if args.accept_ahead < 1:
        raise SystemExit("--accept-ahead must be at least 1 (1: one call at a time)")
    if not 1 <= args.watch_max_pending_events <= MAX_WATCH_PENDING:
        raise SystemExit(f"--watch-max-pending-events must be between 1 and {MAX_WATCH_PENDING:,}")
    if not 10 <= args.checkpoint_ms <= 500:
        raise SystemExit("--checkpoint-ms must be between 10 and 500")
    if args.reply_store_slots is not None and args.reply_store_slots < 0:
        raise SystemExit("--reply-store-slots must be 0 (no limit) or more")
    if not 0 <= args.resume_grace_seconds <= 3600:
        raise SystemExit("--resume-grace-seconds must be between 0 and 3600")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise SystemExit("--tls-cert and --tls-key go together: give both or neither.")
    return ServerConfig(
        host=args.host,
        port=args.port,
        db=args.db or database_from_environment() or default_db_path(),
        token_delay_ms=args.token_delay_ms,
        offline_min_reply_tokens=args.offline_min_tokens,
        share_base_url=args.share_base_url,
        durability=args.durability,
        read_only=args.read_only,
        allow_damaged_db=args.allow_damaged_db,
        max_message_bytes=args.max_message_bytes,
        batch_interval_ms=args.batch_interval_ms,
        batch_max_tokens=args.batch_max_tokens,
        models=models_from_args(args),
        insecure_no_auth=args.insecure_no_auth,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        max_streams=args.max_streams,
        accept_ahead=args.accept_ahead,
        watch_max_pending_events=args.watch_max_pending_events,
        checkpoint_interval_ms=args.checkpoint_ms,
        reply_store_slots=args.reply_store_slots,
        resume_grace_seconds=args.resume_grace_seconds,
    )


def run_serve(args: argparse.Namespace) -> int:
    """Runs the server in the foreground until SIGINT/SIGTERM.

    Returns 2 with a sentence on stderr when the server refuses to start (TLS files, or a
    network address without API keys).
    """
    from grove_explorer.server.runtime import StartupError, serve_until_signalled
    from grove_explorer.server.store import StorageFailure
    from grove_explorer.server.store.migrations import SchemaVersionError

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = config_from_args(args)
    try:
        event_loop.run(serve_until_signalled(config), args.event_loop)
    except (StartupError, event_loop.EventLoopUnavailableError) as error:
        print(f"grove serve: {error}", file=sys.stderr)
        return 2
    except (StorageFailure, SchemaVersionError) as error:
        # The database cannot be used (damaged, not SQLite, read-only, too new): one
        # sentence, and the file was left as it was.
        print(f"grove: {database_sentence(error)}", file=sys.stderr)
        return 1
    return 0


def database_sentence(error: Exception) -> str:
    """The sentence for a database the server cannot start on (one line, full stop)."""
    text = " ".join(str(error).split())
    return text if text.endswith(".") else text + "."


def build_serve_parser() -> argparse.ArgumentParser:
    """The parser of `python -m grove_explorer.server` (the same flags as `grove serve`)."""
    parser = argparse.ArgumentParser(
        prog="python -m grove_explorer.server",
        description="Run the Grove Chat server (gRPC, SQLite; the offline demo model plus "
        "OpenAI-compatible backends).",
    )
    add_serve_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m grove_explorer.server` (its `keys …` manages API keys)."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["keys"]:
        from grove_explorer.server.keys import main as keys_main

        return keys_main(arguments[1:], prog="python -m grove_explorer.server keys")
    return run_serve(build_serve_parser().parse_args(arguments))
