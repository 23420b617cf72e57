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
"""

from grove_explorer.client.export.document import (
    FORMAT_NAME,
    FORMAT_VERSION,
    Document,
    collect_tokens,
    conversation_metadata,
    dumps,
    export_json,
    json_text,
    response_to_dict,
    shortest_float32,
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
from grove_explorer.client.export.reading import (
    DocumentTree,
    preference_pairs,
    to_jsonl,
    why_no_pairs,
)

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
