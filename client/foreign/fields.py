"""Reading a foreign file's fields with their JSON paths, for errors that say where."""

from __future__ import annotations

from typing import Any


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
