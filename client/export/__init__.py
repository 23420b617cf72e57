"""Conversation forests as files: lossless JSON, Markdown, preference pairs and Graphviz.

Everything here is a pure function of data, so scripts, the `grove` command and tests share
one definition of each format:

- `document`: `export_json(conversation, tokens_by_id)` turns a loaded SDK `Conversation`
  (plus the tokens of its model replies, see `collect_tokens`) into the *export document*,
  a plain dict that `dumps` writes. It is lossless, so `import_request(document)` rebuilds
  the same forest on any server (with new ids and times).
- `drawing`: `to_markdown` and `to_dot` of an export document (a freshly built one or a
  file read back), and `conversation_markdown` / `conversation_dot`, the same text read
  straight from a loaded conversation's forest (what `grove export` writes).
- `reading`: `preference_pairs` read from an export document, never the network.
- `importing`: `import_request` checks a document and builds the import request
  (`import_chunks`: the same in chunks read as they are sent).
- `json_format`: the format's name and version, and `dumps`, the JSON writer of all of
  them (and of every `grove … --json`); it loads no SDK model.

Every name is imported from its module when first used (see `_MODULE_OF`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grove_explorer.client.export.document import (
        collect_tokens,
        conversation_metadata,
        export_json,
        json_text,
        response_to_dict,
        token_to_dict,
    )
    from grove_explorer.client.export.drawing import (
        conversation_dot,
        conversation_markdown,
        dot_string,
        sampling_summary,
        to_dot,
        to_markdown,
    )
    from grove_explorer.client.export.importing import import_chunks, import_request
    from grove_explorer.client.export.json_format import (
        FORMAT_NAME,
        FORMAT_VERSION,
        Document,
        dumps,
        shortest_float32,
    )
    from grove_explorer.client.export.reading import (
        DocumentTree,
        preference_pairs,
        to_jsonl,
        why_no_pairs,
    )

_NAMES_OF = {
    # The format and the writer: no SDK model (what `grove import` and every --json need).
    "json_format": ("FORMAT_NAME", "FORMAT_VERSION", "Document", "dumps", "shortest_float32"),
    # A loaded conversation as a document: the conversation client and its models.
    "document": (
        "collect_tokens",
        "conversation_metadata",
        "export_json",
        "json_text",
        "response_to_dict",
        "token_to_dict",
    ),
    "drawing": (
        "conversation_dot",
        "conversation_markdown",
        "dot_string",
        "sampling_summary",
        "to_dot",
        "to_markdown",
    ),
    "importing": ("import_chunks", "import_request"),
    "reading": ("DocumentTree", "preference_pairs", "to_jsonl", "why_no_pairs"),
}
"""The module of each exported name, imported on first use (PEP 562): importing this
package loads none of them, so `grove import` (which reads a file: `importing`,
`json_format`) does not load the SDK's pydantic models and the conversation client that
`document`, `drawing` and `reading` need (issue 13: a command's start-up)."""

_MODULE_OF = {name: module for module, names in _NAMES_OF.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Document",
    "DocumentTree",
    "collect_tokens",
    "conversation_dot",
    "conversation_markdown",
    "conversation_metadata",
    "dot_string",
    "dumps",
    "export_json",
    "import_chunks",
    "import_request",
    "json_text",
    "preference_pairs",
    "response_to_dict",
    "sampling_summary",
    "shortest_float32",
    "to_dot",
    "to_jsonl",
    "to_markdown",
    "token_to_dict",
    "why_no_pairs",
]
