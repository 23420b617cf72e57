"""Export documents read through the one forest (`client.forest.Forest`)."""

from __future__ import annotations

from typing import Any

from grove_explorer.client.export import DocumentTree, to_dot, to_markdown


def _doc(*responses: tuple[str, str | None]) -> dict[str, Any]:
    return {
        "conversation_id": "c",
        "title": "t",
        "responses": [
            {"response_id": rid, "parent_response_id": parent, "sender": "human", "message": rid}
            for rid, parent in responses
        ],
    }


def test_paths_positions_and_children() -> None:
    tree = DocumentTree.of(_doc(("a", None), ("b", "a"), ("c", "a"), ("d", "c")))
    assert [r["response_id"] for r in tree.path()] == ["a", "c", "d"]
    assert [r["response_id"] for r in tree.path("b")] == ["a", "b"]
    assert tree.position(tree.by_id["c"]) == (2, 2)
    assert [r["response_id"] for r in tree.children("a")] == ["b", "c"]
    assert dict((p, [r["response_id"] for r in kids]) for p, kids in tree.branch_points()) == {
        None: ["a"],
        "a": ["b", "c"],
        "c": ["d"],
    }


def test_hand_made_documents_end_their_walks() -> None:
    dangling = DocumentTree.of(_doc(("x", "missing")))
    assert [r["response_id"] for r in dangling.path("x")] == ["x"]
    cycle = DocumentTree.of(_doc(("p", "q"), ("q", "p")))
    assert [r["response_id"] for r in cycle.path("q")] == ["p", "q"]
    assert "# t" in to_markdown(cycle.document)


def test_a_hand_written_document_is_drawn_with_its_values_as_read() -> None:
    """Markdown and DOT of a file read back write its numbers as they stand (an export only
    holds shortest float32 decimals; a hand-written file may hold more digits), take a
    repeated id's last entry at its first place, and a missing field as its default."""
    document = _doc(("a", None), ("b", "a"), ("a", None))
    document["responses"][1].update(
        sender="model",
        model_name="m",
        sampling_params={"temperature": 0.123456789, "top_p": 1, "max_tokens": None},
        annotation={"rating": 1, "tags": ["x"]},
    )
    document["responses"][2]["message"] = "A again"
    del document["responses"][0]["sender"]
    text = to_markdown(document, leaf_id="b", all_branches=True)
    assert "## ► [2] Model · reply to [1] · m · temperature 0.123456789, top-p 1" in text
    assert "rated +1 · tags: x" in text
    assert text.count("A again") == 1 and "\n\na\n" not in text
    assert "temperature 0.123456789" in to_markdown(document, leaf_id="b")
    assert "1 of 2" not in to_markdown(document, leaf_id="b")  # two distinct ids
    assert '"b" [label="Model · m · +1\\nb"' in to_dot(document)
