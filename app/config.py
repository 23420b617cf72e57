"""The app's settings: a TOML file in the platform config dir, under flags and environment.

Precedence: command-line flags over environment (`XAI_API_HOST`, `XAI_API_KEY`,
`GROVE_*`) over this file. The file may also rebind keys:

    server = "127.0.0.1:50051"     # omit to run the embedded local server; replicas:
                                   # "a:50051,b:50051" or ["a:50051", "b:50051"]
    token_delay_ms = 15            # pace of the embedded offline model

    [keymap]                       # binding id = keys (comma-separated)
    resample = "r,ctrl+r"
    compare = "c"

Model backends (`default_model`, `[models.NAME]`, `[system_prompts]`) are read by the
embedded server; see `server/backends.py` and the README.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from grove_explorer.app.layout_state import default_state_dir
from grove_explorer.server.database_location import DatabaseLocation, parse_database

if TYPE_CHECKING:
    from grove_explorer.server.backends import ModelsConfig

DEFAULT_TOKEN_DELAY_MS = 12.0
MODEL_KEYS = ("default_model", "models", "system_prompts")


def default_config_path() -> Path:
    """Where Grove looks for `config.toml`."""
    return Path(platformdirs.user_config_dir("grove", appauthor=False)) / "config.toml"


class ConfigError(ValueError):
    """The config file exists but cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class AppConfig:
    """Resolved settings for one run of the app."""

    server: str | None = None
    api_key: str | None = None
    # A SQLite file or a team server's PostgreSQL URL (server/database_location.py).
    db: DatabaseLocation | None = None
    token_delay_ms: float = DEFAULT_TOKEN_DELAY_MS
    # The embedded server's database: open it for reading only; start it even if damaged.
    read_only: bool = False
    allow_damaged_db: bool = False
    keymap: dict[str, str] = field(default_factory=dict)
    # Where the explorer remembers its layout (pane widths, `app/layout_state.py`);
    # None keeps nothing (tests, screenshots). `load_config` sets the platform state dir.
    state_dir: Path | None = None
    # The embedded server's models, parsed from the file (a server.backends.ModelsConfig;
    # kept opaque here so the app's settings do not depend on server internals).
    models: Any = None


def load_config(path: Path | None = None) -> AppConfig:
    """Reads the config file (missing file: defaults) and applies the environment."""
    path = path or Path(os.environ.get("GROVE_CONFIG", default_config_path()))
    data: dict[str, object] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"Cannot read {path}: {error}") from error
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in keymap.items()
    ):
        raise ConfigError(f"{path}: [keymap] must map binding ids to key strings.")
    server = os.environ.get("XAI_API_HOST") or _server(data, path)
    db = os.environ.get("GROVE_DB") or _optional_str(data, "db", path)
    delay = data.get("token_delay_ms", DEFAULT_TOKEN_DELAY_MS)
    if not isinstance(delay, int | float) or delay < 0:
        raise ConfigError(f"{path}: token_delay_ms must be a non-negative number.")
    try:
        models = models_config(data, str(path))
    except ValueError as error:
        raise ConfigError(str(error)) from error
    return AppConfig(
        server=server,
        models=models,
        api_key=os.environ.get("XAI_API_KEY"),
        db=_database(db, path),
        token_delay_ms=float(os.environ.get("GROVE_TOKEN_DELAY_MS", delay)),
        keymap=dict(keymap),
        state_dir=default_state_dir(),
    )


def models_config(data: Mapping[str, object], source: str) -> ModelsConfig:
    """Parses the config file's model settings; ValueError with a sentence when invalid.

    Here, not in `app.embedded` (which loads the store): every `grove` reads the config
    file, and a command given `--server` never opens a store (issue 13: start-up).
    """
    from grove_explorer.server.backends import BackendConfigError, parse_models_config

    try:
        return parse_models_config({k: data[k] for k in MODEL_KEYS if k in data}, source)
    except BackendConfigError as error:
        raise ValueError(str(error)) from error


def _server(data: dict[str, object], path: Path) -> str | None:
    """`server`: one address, "a:1,b:2", or a list of replicas' addresses (joined)."""
    value = data.get("server")
    if isinstance(value, list):
        if not value or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{path}: server must be an address or a list of addresses.")
        return ",".join(value)
    return _optional_str(data, "server", path)


def _optional_str(data: dict[str, object], key: str, path: Path) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{path}: {key} must be a string.")
    return value


def _database(text: str | None, path: Path) -> DatabaseLocation | None:
    """`db` of the config file or $GROVE_DB as a location; a bad URL is a ConfigError."""
    if not text:
        return None
    try:
        return parse_database(text)
    except ValueError as error:
        raise ConfigError(f"{path} or $GROVE_DB: {error}") from error
