"""Trees from other tools: ChatGPT, Open WebUI and loom files read as Grove imports.

`read_foreign(data, name)` reads a parsed JSON file in the named format (`detect` names it
from its shape for `auto`) into one `ForeignConversation` per conversation of the file, or
a `ForeignProblem` for one that cannot be read (the others still import). Each
conversation's `document()` is a Grove export document: it goes through `import_request`
and one ImportConversation like a `grove export --format json` file. Pure: no network.
"""

from __future__ import annotations

from typing import Any

from grove_explorer.client.export.json_format import FORMAT_NAME
from grove_explorer.client.foreign import chatgpt, loom, openwebui
from grove_explorer.client.foreign.tree import (
    ForeignConversation,
    ForeignNode,
    ForeignProblem,
    Read,
    skipped_sentence,
)

GROVE = "grove"
FORMATS = (chatgpt.NAME, openwebui.NAME, loom.NAME)
"""The foreign formats, as `--from` names them (with `grove` and `auto`)."""

_READERS = {chatgpt.NAME: chatgpt.read, openwebui.NAME: openwebui.read, loom.NAME: loom.read}
_DESCRIPTIONS = (
    "a Grove export (`grove export --format json`)",
    "ChatGPT's conversations.json (chatgpt)",
    "an Open WebUI chat export (openwebui)",
    "a loom tree (loom)",
)


def detect(data: Any) -> str:
    """The format of `data` by its shape; ValueError listing the formats when none fits."""
    if isinstance(data, dict) and data.get("format") == FORMAT_NAME:
        return GROVE
    if isinstance(data, list) and not data:
        raise ValueError("$: an empty list holds no conversation to import.")
    for name, looks_like in (
        (chatgpt.NAME, chatgpt.looks_like),
        (openwebui.NAME, openwebui.looks_like),
        (loom.NAME, loom.looks_like),
    ):
        if looks_like(data):
            return name
    raise ValueError(
        "$: not a format Grove imports; it reads "
        + ", ".join(_DESCRIPTIONS)
        + " (name one with --from to see what does not match)."
    )


def read_foreign(data: Any, name: str) -> list[Read]:
    """The conversations of a file in format `name` (one of FORMATS)."""
    return _READERS[name](data)


__all__ = [
    "FORMATS",
    "GROVE",
    "ForeignConversation",
    "ForeignNode",
    "ForeignProblem",
    "Read",
    "detect",
    "read_foreign",
    "skipped_sentence",
]
