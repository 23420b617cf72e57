"""Every export format stays byte for byte what it was (golden files, see export_golden.py).

Export was made linear for issue 13 (sibling positions from one index, one pass over the
forest, linear string building); these pin its output: the pure formats over a fixed
document of mixed shapes, and the whole `grove export` path on a real server (the same
document imported, fetched with GetConversation, converted and exported).
"""

from __future__ import annotations

import argparse
import copy
import json
from typing import Any

import pytest

from grove_explorer.app.headless.transfer import cmd_export
from grove_explorer.client import Client
from grove_explorer.client.export import (
    collect_tokens,
    document,
    dumps,
    export_json,
    import_request,
    json_text,
    preference_pairs,
    to_dot,
    to_jsonl,
    to_markdown,
)
from tests.client.export_golden import GOLDEN, mixed_document, outputs


@pytest.mark.parametrize("name", sorted(outputs(mixed_document())))
def test_each_format_writes_its_golden_file(name: str) -> None:
    written = outputs(mixed_document())[name]
    assert written == (GOLDEN / name).read_text(encoding="utf-8")


def _normalized(document: dict[str, Any]) -> dict[str, Any]:
    """Without ids, times and the title; parents become positions in the list."""
    document = copy.deepcopy(document)
    position = {r["response_id"]: i for i, r in enumerate(document["responses"])}
    for key in ("conversation_id", "create_time", "update_time", "title"):
        document.pop(key)
    for item in document["responses"]:
        for key in ("response_id", "create_time", "start_time"):
            item.pop(key)
        parent = item["parent_response_id"]
        item["parent_response_id"] = None if parent is None else position[parent]
    return document


def _args(conversation_id: str, fmt: str, **flags: Any) -> argparse.Namespace:
    values: dict[str, Any] = {"leaf": None, "all": False, "path": False, "output": None}
    values.update(flags)
    return argparse.Namespace(conv=conversation_id, format=fmt, **values)


async def test_grove_export_of_a_stored_forest_is_unchanged(client: Client) -> None:
    golden = mixed_document()
    imported = await client.grok.import_conversation(import_request(golden))
    cid = imported.conversation_id

    json_out = await cmd_export(client.grok, _args(cid, "json"))
    document = json.loads(json_out.stdout)
    # What the server stored and the SDK read back is the golden document, ids and times
    # apart (and the title, which an import marks).
    assert document["title"] == golden["title"] + " (imported)"
    assert _normalized(document) == _normalized(golden)
    leaf = document["responses"][-1]["response_id"]
    middle = document["responses"][len(document["responses"]) // 2]["response_id"]

    # Every other format is the pure function of that document.
    expected = {
        ("md", False, None): to_markdown(document, leaf_id=leaf),
        ("md", True, None): to_markdown(document, leaf_id=leaf, all_branches=True),
        ("md", True, middle): to_markdown(document, leaf_id=middle, all_branches=True),
        ("md", False, middle): to_markdown(document, leaf_id=middle),
        ("dot", False, None): to_dot(document, leaf_id=leaf),
        ("dot", False, middle): to_dot(document, leaf_id=middle),
        ("jsonl-pairs", False, None): to_jsonl(preference_pairs(document, leaf_id=leaf)),
    }
    for (fmt, every, chosen), text in expected.items():
        outcome = await cmd_export(client.grok, _args(cid, fmt, all=every, leaf=chosen))
        assert outcome.stdout == text, (fmt, every, chosen)


async def test_json_export_writes_wire_tokens_as_the_document_writes_them(client: Client) -> None:
    """`grove export --format json` writes each token straight from its wire message (for
    speed); the text is byte for byte `dumps(export_json(…))` of the tokens as TokenInfo."""
    golden = mixed_document()
    odd = [-0.0, 0.0, 1e-45, -3.4e38, 0.1, -123.456789, -2.5, -0.5]
    golden["responses"][-1]["tokens"] = [
        {"text": f't{i} "q" \\ \u2028', "logprob": value, "top": [["a", value], ["b", -0.0]]}
        for i, value in enumerate(odd)
    ] + [{"text": "", "logprob": None, "top": [["", 0.0]]}]
    last = golden["responses"][-1]
    last["message"] = "".join(token["text"] for token in last["tokens"])
    last["token_count"] = len(last["tokens"])
    imported = await client.grok.import_conversation(import_request(golden))
    conversation = await client.grok.get_conversation(imported.conversation_id)
    expected = dumps(export_json(conversation, await collect_tokens(conversation))) + "\n"
    assert '"logprob": -0.0' in expected and "[]" in expected
    outcome = await cmd_export(client.grok, _args(imported.conversation_id, "json"))
    assert outcome.stdout == expected


@pytest.mark.parametrize("per_call", [1, 2, 1000])
async def test_json_text_is_the_same_however_the_tokens_are_batched(
    client: Client, monkeypatch: pytest.MonkeyPatch, per_call: int
) -> None:
    """`json_text` asks for tokens a batch at a time, the next while it writes the last."""
    imported = await client.grok.import_conversation(import_request(mixed_document()))
    conversation = await client.grok.get_conversation(imported.conversation_id)
    expected = dumps(export_json(conversation, await collect_tokens(conversation)))
    monkeypatch.setattr(document, "TOKEN_REPLIES_PER_CALL", per_call)
    assert await json_text(conversation) == expected
