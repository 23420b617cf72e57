"""Settings of a Chat server.

Gathered in one place so the CLI, the tests and the embedded server build servers the
same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import platformdirs

from grove_explorer.server.backends import ModelsConfig
from grove_explorer.server.database_location import DatabaseLocation, PostgresUrl

MIB = 1024 * 1024


def default_config_path() -> Path:
    """Where `grove` and `grove serve` read `config.toml` (models, keymap, …)."""
    return Path(platformdirs.user_config_dir("grove", appauthor=False)) / "config.toml"


def default_db_path() -> Path:
    """Where the server keeps its SQLite file when no `--db` is given."""
    return Path(platformdirs.user_data_dir("grove", appauthor=False)) / "grove.sqlite3"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything that shapes a server's behaviour.

    `api_keys` maps the SHA-256 hex digest of each accepted bearer key to its user, in
    addition to the keys stored in the database (`grove keys create`); while no key is
    active anywhere, every caller of a loopback server is the single local user.
    """

    host: str = "127.0.0.1"
    port: int = 50051
    # A SQLite file (the embedded default) or a PostgreSQL URL (server/database_location.py).
    db: DatabaseLocation = field(default_factory=default_db_path)
    token_delay_ms: float = 0.0
    # The offline model keeps writing (paragraph breaks) until a reply has this many tokens.
    offline_min_reply_tokens: int = 48
    share_base_url: str = "grove://share/conversations"
    durability: Literal["normal", "full"] = "normal"
    # Open the database for reading only: every write answers FAILED_PRECONDITION.
    read_only: bool = False
    # Start even when `PRAGMA quick_check` finds the database damaged (implies read_only).
    allow_damaged_db: bool = False
    max_message_bytes: int = MIB
    # The largest request gRPC accepts at all: an import of a big forest (with its tokens)
    # is one request. Messages inside stay limited by `max_message_bytes`.
    max_request_bytes: int = 256 * MIB
    max_title_chars: int = 500
    # Token batching: the first token goes out at once, later ones at most every
    # `batch_interval_ms` or `batch_max_tokens` tokens, whichever comes first.
    batch_interval_ms: float = 15.0
    batch_max_tokens: int = 64
    default_top_logprobs: int = 5
    max_top_logprobs: int = 20
    # Concurrent AddResponse streams beyond this answer RESOURCE_EXHAUSTED.
    max_streams: int = 256
    # Calls of one method gRPC may hand the server at once, requested ahead (accepting.py);
    # 1 is grpc.aio's own one at a time.
    accept_ahead: int = 16
    # Events a WatchConversation watcher may fall behind before its watch is ended
    # (RESOURCE_EXHAUSTED): a stalled watcher costs this much memory, never the samplers.
    watch_max_pending_events: int = 1024
    # How often the text of running streams is saved, so a crash loses at most this much.
    checkpoint_interval_ms: float = 400.0
    # Finished replies one server stores at once (0: no limit; None: the store's default,
    # `reply_store_slots_for`). Replies started together end together: hundreds of stores
    # at once took the event loop from the streams still running (their tokens came
    # hundreds of ms late, bench.scale's "while ending"); a few at a time, those keep
    # their pace and a reply's last message (the stored reply) waits its turn instead.
    reply_store_slots: int | None = None
    # How long shutdown waits for in-flight streams to store their partial replies.
    shutdown_grace_seconds: float = 5.0
    # How long a resumable reply is sampled on after its caller's connection dropped,
    # waiting for ResumeResponse; then it is kept partial (servicer/resuming.py).
    resume_grace_seconds: float = 30.0
    api_keys: Mapping[str, str] = field(default_factory=dict)
    # Serve a non-loopback host even with no API key (everyone is the local user).
    insecure_no_auth: bool = False
    # PEM files of the server's certificate (chain) and private key: both, or neither.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Named backends, the default model and the named system prompts.
    models: ModelsConfig = field(default_factory=ModelsConfig)


# PostgreSQL's default: few enough that the stores of replies ending together leave the
# event loop to the streams still running, enough that one store's round trip to the
# database does not idle the others (each holds a pooled connection while it runs).
POSTGRES_REPLY_STORE_SLOTS = 2


def reply_store_slots_for(config: ServerConfig) -> int:
    """Finished replies stored at once (0: no limit): the flag, else the store's default.

    SQLite's default is no limit: its group commit writes replies that end together in
    one transaction (store/sqlite), which a limit would split into one commit each.
    """
    if config.reply_store_slots is not None:
        return config.reply_store_slots
    return POSTGRES_REPLY_STORE_SLOTS if isinstance(config.db, PostgresUrl) else 0
