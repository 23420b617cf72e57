"""Export documents read through the one forest (`client.forest.Forest`)."""

from __future__ import annotations

from typing import Any

from grove_explorer.client.export import DocumentTree, to_markdown


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
