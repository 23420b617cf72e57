"""`Forest.select` marks every step of the new leaf's path, whatever was selected before."""

from __future__ import annotations

from grove_explorer.client.forest import Forest
from grove_explorer.client.models import ConversationSummary, ResponseNode


def _node(rid: str, parent: str | None) -> ResponseNode:
    return ResponseNode(response_id=rid, parent_id=parent, sender="human", message=rid)


def _forest(pairs: list[tuple[str, str | None]]) -> Forest:
    forest = Forest(conversation=ConversationSummary(conversation_id="c", title="", starred=False))
    for rid, parent in pairs:
        forest.add(_node(rid, parent))
    return forest


def test_selecting_back_marks_the_whole_path_again() -> None:
    forest = _forest([("a", None), ("b", "a"), ("c", "b"), ("b2", "a"), ("c2", "b2")])
    forest.select("c")
    assert forest.last_visited == {None: "a", "a": "b", "b": "c"}
    forest.select("b2")
    assert forest.last_visited["a"] == "b2"
    forest.select("c")  # "b" -> "c" is still marked; "a" -> "b" must be marked again
    assert forest.last_visited == {None: "a", "a": "b", "b": "c"}
    assert forest.descend("a") == "c"
    assert forest.leaf_id == "c" and [n.response_id for n in forest.current_path] == [
        "a",
        "b",
        "c",
    ]


def test_select_of_a_deep_leaf_and_of_none() -> None:
    pairs: list[tuple[str, str | None]] = [("n0", None)]
    pairs += [(f"n{i}", f"n{i - 1}") for i in range(1, 3_000)]
    forest = _forest(pairs)
    forest.select("n2999")
    assert all(forest.last_visited[f"n{i - 1}"] == f"n{i}" for i in range(1, 3_000))
    assert forest.last_visited[None] == "n0"
    before = dict(forest.last_visited)
    forest.select(None)
    assert forest.leaf_id is None and forest.last_visited == before


def test_select_stops_at_a_parent_missing_from_a_hand_made_document() -> None:
    forest = _forest([("x", "gone"), ("y", "x")])
    forest.select("y")
    assert forest.last_visited == {"x": "y", "gone": "x"}
    assert [n.response_id for n in forest.path_to("y")] == ["x", "y"]
