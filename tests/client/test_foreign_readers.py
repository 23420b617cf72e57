"""The readers of trees from other tools: tree shape, roles, models, leaf, reported parts.

Fixtures in foreign_fixtures/ follow the files those tools write (ChatGPT's
conversations.json, Open WebUI's "Export chat (.json)", a loom tree saved by loom).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from grove_explorer.client.export import import_request
from grove_explorer.client.foreign import (
    ForeignConversation,
    ForeignProblem,
    detect,
    read_foreign,
    skipped_sentence,
)

FIXTURES = Path(__file__).parent / "foreign_fixtures"


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _tree(conversation: ForeignConversation) -> tuple[list[tuple[str, str | None, str]], Any]:
    """(id, parent, sender) per response in import order, and the leaf's id."""
    document, leaf = conversation.document()
    rows = [(r["response_id"], r["parent_response_id"], r["sender"]) for r in document["responses"]]
    return rows, None if leaf is None else document["responses"][leaf]["response_id"]


def test_chatgpt_keeps_the_branch_skips_hidden_and_tool_nodes_and_counts_them() -> None:
    data = _load("chatgpt_conversations.json")
    assert detect(data) == "chatgpt"
    first, broken, third = read_foreign(data, "chatgpt")
    assert isinstance(first, ForeignConversation)
    rows, leaf = _tree(first)
    # The hidden system node and the null root are passed over: both edits are roots.
    assert rows == [
        ("u-1", None, "human"),
        ("a-1", "u-1", "model"),
        ("u-1b", None, "human"),
        ("a-2", "u-1b", "model"),  # its tool call and the tool's output are passed over
    ]
    assert leaf == "a-2"
    document, _ = first.document()
    by_id = {r["response_id"]: r for r in document["responses"]}
    assert by_id["u-1"]["message"] == "What tide is shown here?"
    assert (by_id["a-1"]["model_name"], by_id["a-2"]["model_name"]) == ("gpt-4o", "gpt-4o-mini")
    assert first.skipped == Counter(
        {"hidden system message": 1, "image": 1, "tool call": 1, "tool output": 1}
    )
    assert skipped_sentence(first.skipped) == (
        "1 hidden system message, 1 image, 1 tool call, 1 tool output"
    )
    assert first.title == "Tide tables"
    import_request(document)  # the Grove reader accepts it as it is
    assert isinstance(broken, ForeignProblem)
    assert broken.where == "$[1]" and broken.title == "Broken"
    assert broken.reason == (
        "$[1].mapping.x.message.author.role: must be system, user, assistant or tool, not 'critic'."
    )
    assert isinstance(third, ForeignConversation)
    assert _tree(third) == ([("h-1", None, "human"), ("m-1", "h-1", "model")], "m-1")


def test_chatgpt_leaf_on_a_skipped_node_is_its_nearest_kept_ancestor() -> None:
    data = _load("chatgpt_conversations.json")[0]
    data["current_node"] = "t-out"
    (conversation,) = read_foreign(data, "chatgpt")
    assert isinstance(conversation, ForeignConversation)
    assert _tree(conversation)[1] == "u-1b"


def test_openwebui_keeps_regenerated_replies_as_siblings_and_current_id_as_leaf() -> None:
    data = _load("openwebui_export.json")
    assert detect(data) == "openwebui"
    (chat,) = read_foreign(data, "openwebui")
    assert isinstance(chat, ForeignConversation)
    rows, leaf = _tree(chat)
    assert rows == [
        ("m-user", None, "human"),
        ("m-a1", "m-user", "model"),
        ("m-a2", "m-user", "model"),
        ("m-u2", "m-a2", "human"),
        ("m-a3", "m-u2", "model"),
    ]
    assert leaf == "m-a2"
    document, _ = chat.document()
    models = [r["model_name"] for r in document["responses"]]
    assert models == ["", "llama3.1:8b", "qwen2.5:7b", "", "qwen2.5:7b"]
    assert chat.title == "Rust lifetimes"
    assert skipped_sentence(chat.skipped) == "1 cited source, 1 image"
    import_request(document)


def test_openwebui_legacy_chats_without_a_chat_key_are_read() -> None:
    """Open WebUI's import also takes chats whose fields are not under `chat` (its docs)."""
    data = [_load("openwebui_export.json")[0]["chat"]]
    assert detect(data) == "openwebui"
    (chat,) = read_foreign(data, "openwebui")
    assert isinstance(chat, ForeignConversation)
    assert chat.title == "Rust lifetimes" and _tree(chat)[1] == "m-a2"


def test_loom_root_text_is_the_prompt_and_nodes_continue_it() -> None:
    data = _load("loom_tree.json")
    assert detect(data) == "loom"
    (tree,) = read_foreign(data, "loom")
    assert isinstance(tree, ForeignConversation)
    rows, leaf = _tree(tree)
    assert rows == [
        ("p-1", None, "human"),
        ("g-1", "p-1", "model"),
        ("g-2", "p-1", "model"),
        ("h-3", "g-2", "model"),
    ]
    assert leaf == "h-3"
    document, _ = tree.document()
    by_id = {r["response_id"]: r for r in document["responses"]}
    assert (by_id["g-1"]["model_name"], by_id["g-1"]["manual"]) == ("davinci", False)
    # A person's continuation is a manual reply: written, not sampled, no model.
    assert (by_id["h-3"]["model_name"], by_id["h-3"]["manual"]) == ("", True)
    assert by_id["g-2"]["message"] == " and wrote each name in a salt-stained book."
    assert tree.skipped == Counter({"empty node": 1})
    import_request(document)


def test_loom_bare_node_file_is_read_as_its_root() -> None:
    data = _load("loom_tree.json")["root"]["children"][0]
    assert detect(data) == "loom"
    (tree,) = read_foreign(data, "loom")
    assert isinstance(tree, ForeignConversation)
    rows, leaf = _tree(tree)
    assert rows[0] == ("p-1", None, "human") and len(rows) == 4
    assert leaf is None  # a bare node names no selected node
    assert not tree.skipped


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"hello": 1}, "$: not a format Grove imports; it reads a Grove export"),
        ([], "$: an empty list holds no conversation to import."),
        ([{"title": "x"}], "$: not a format Grove imports"),
    ],
)
def test_detection_names_every_format_when_none_fits(data: Any, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        detect(data)
    assert str(caught.value).startswith(problem)
    if "not a format" in problem:
        for name in ("chatgpt", "openwebui", "loom"):
            assert f"({name})" in str(caught.value)


def test_grove_export_is_detected() -> None:
    assert detect({"format": "grove.conversation", "version": 1, "responses": []}) == "grove"


def test_a_parent_outside_the_tree_is_named() -> None:
    data = _load("openwebui_export.json")
    data[0]["chat"]["history"]["messages"]["m-u2"]["parentId"] = "gone"
    (chat,) = read_foreign(data, "openwebui")
    assert isinstance(chat, ForeignConversation)
    with pytest.raises(ValueError) as caught:
        chat.document()
    assert str(caught.value) == "$[0]: node 'm-u2' names parent 'gone', not in the tree."


def test_a_cycle_of_parents_is_a_problem_naming_the_conversation() -> None:
    data = _load("openwebui_export.json")
    messages = data[0]["chat"]["history"]["messages"]
    messages["m-user"]["parentId"] = "m-a3"
    (chat,) = read_foreign(data, "openwebui")
    assert isinstance(chat, ForeignConversation)
    with pytest.raises(ValueError, match=r"^\$\[0\]: .*cycle"):
        chat.document()


def test_a_field_of_the_wrong_type_is_named_with_its_path() -> None:
    data = {"root": {"id": "a", "text": "x", "children": [{"id": "b", "text": 5}]}}
    (tree,) = read_foreign(data, "loom")
    assert isinstance(tree, ForeignProblem)
    assert tree.reason == "$.root.children[0].text: must be a string, not a number."
