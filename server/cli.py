"""Command line of the Chat server: `grove serve …` and `python -m server …`."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from server.config import MIB, ServerConfig, default_db_path


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
        "--db", type=Path, default=None, help=f"SQLite file (default: {default_db_path()})"
    )
    parser.add_argument(
        "--token-delay-ms",
        type=float,
        default=0.0,
        help="pause between tokens of the offline model, to watch streaming (default: 0)",
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
    parser.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")


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
    return ServerConfig(
        host=args.host,
        port=args.port,
        db=args.db or default_db_path(),
        token_delay_ms=args.token_delay_ms,
        offline_min_reply_tokens=args.offline_min_tokens,
        share_base_url=args.share_base_url,
        durability=args.durability,
        max_message_bytes=args.max_message_bytes,
        batch_interval_ms=args.batch_interval_ms,
        batch_max_tokens=args.batch_max_tokens,
    )


def run_serve(args: argparse.Namespace) -> int:
    """Runs the server in the foreground until SIGINT/SIGTERM."""
    from server.runtime import serve_until_signalled

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(serve_until_signalled(config_from_args(args)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m server`."""
    parser = argparse.ArgumentParser(
        prog="python -m server",
        description="Run the Grove Chat server (gRPC, SQLite, offline demo model).",
    )
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))
