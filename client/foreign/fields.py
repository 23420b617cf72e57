"""Reading a foreign file's fields with their JSON paths, for errors that say where."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from grove_explorer.client.export.import_times import epoch_time


def at(path: str, key: str | int) -> str:
    """The JSON path of `key` under `path` (`$[3].mapping["a b"]`)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


def obj(value: Any, path: str) -> dict[str, Any]:
    """`value` as a JSON object, or ValueError naming `path`."""
    if not isinstance(value, dict):
        raise ValueError(f"{path}: must be an object, not {_kind(value)}.")
    return value


def lst(value: Any, path: str) -> list[Any]:
    """`value` as a JSON list, or ValueError naming `path`."""
    if not isinstance(value, list):
        raise ValueError(f"{path}: must be a list, not {_kind(value)}.")
    return value


def text(value: Any, path: str, *, default: str | None = None) -> str:
    """`value` as a string (None becomes `default` when one is given)."""
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"{path}: must be a string, not {_kind(value)}.")
    return value


def optional_id(value: Any, path: str) -> str | None:
    """A node id or null (a root's parent)."""
    if value is None:
        return None
    return text(value, path)


def epoch(value: Any, path: str, *, milliseconds_from: float | None = None) -> datetime | None:
    """A time in seconds since the epoch (a number); None for null or 0 (none given).

    `milliseconds_from`: a value at least this large is read as milliseconds (a tool
    that writes both units). ValueError naming `path` for anything else or a time
    outside the years 1-9999.
    """
    if value is None or value == 0:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"{path}: must be a time in seconds since 1970, not {_kind(value)}.")
    seconds = float(value)
    if milliseconds_from is not None and abs(seconds) >= milliseconds_from:
        seconds /= 1000
    try:
        return epoch_time(seconds)
    except (OverflowError, ValueError):  # NaN and infinities too
        raise ValueError(f"{path}: {value!r} is not a time within the years 1-9999.") from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
