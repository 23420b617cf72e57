"""`Forest.select` stops at the leaf it last recorded: the marks stay those of a full walk.

A turn that extends a deep path walks only its new steps. These tests run the same random
sequence of selects, additions, removals and placeholder swaps on two forests, one of
them always walking its whole path, and compare what each remembers after every step.
"""

from __future__ import annotations

import random

import pytest

from grove_explorer.client.forest import Forest
from grove_explorer.client.models import ConversationSummary, ResponseNode


def _node(rid: str, parent: str | None) -> ResponseNode:
    return ResponseNode(response_id=rid, parent_id=parent, sender="human", message=rid)


def _empty() -> Forest:
    return Forest(conversation=ConversationSummary(conversation_id="c", title="", starred=False))


def _full_select(forest: Forest, leaf: str | None) -> None:
    """`select` without what it remembers of the last one: the whole path is walked."""
    forest._memo_for_responses().recorded = None
    forest.select(leaf)


@pytest.mark.parametrize("seed", range(12))
def test_marks_equal_those_of_whole_walks(seed: int) -> None:
    rng = random.Random(seed)
    fast, full = _empty(), _empty()
    ids: list[str] = []
    placeholders: list[str] = []
    for step in range(400):
        action = rng.random()
        if action < 0.35 or not ids:
            # A new response: mostly under the leaf (a turn), sometimes anywhere.
            parent = fast.leaf_id if rng.random() < 0.7 else rng.choice([None, *ids])
            rid = f"n{step}"
            for forest in (fast, full):
                forest.add(_node(rid, parent))
            ids.append(rid)
            if rng.random() < 0.8:
                fast.select(rid)
                _full_select(full, rid)
        elif action < 0.7:
            leaf = rng.choice([None, *ids])
            fast.select(leaf)
            _full_select(full, leaf)
        elif action < 0.8:
            # A streaming placeholder under the leaf, selected, later swapped or removed.
            rid = f"p{step}"
            parent = fast.leaf_id
            for forest in (fast, full):
                forest.add(_node(rid, parent))
            fast.select(rid)
            _full_select(full, rid)
            placeholders.append(rid)
        elif action < 0.9 and placeholders:
            placeholder = placeholders.pop()
            parent = fast.responses[placeholder].parent_id
            stored = f"s{step}"
            for forest in (fast, full):
                forest.replace_placeholder(placeholder, _node(stored, parent))
            ids.append(stored)
        elif placeholders:
            placeholder = placeholders.pop()
            for forest in (fast, full):
                forest.remove(placeholder)
        assert fast.leaf_id == full.leaf_id
        assert fast.last_visited == full.last_visited, f"seed {seed}, step {step}"


def test_a_deep_path_extended_turn_by_turn_is_marked_all_the_way() -> None:
    forest = _empty()
    parent = None
    for i in range(2_000):
        forest.add(_node(f"n{i}", parent))
        forest.select(f"n{i}")
        parent = f"n{i}"
    assert forest.last_visited == {None: "n0", **{f"n{i - 1}": f"n{i}" for i in range(1, 2_000)}}
    forest.select("n500")
    forest.add(_node("side", "n499"))
    forest.select("side")
    assert forest.last_visited["n499"] == "side"
    forest.select("n1999")  # back: the way up through n499 is marked again
    assert forest.last_visited["n499"] == "n500"
    assert forest.descend("n0") == "n1999"


def test_a_replaced_visits_dict_is_walked_whole() -> None:
    forest = _empty()
    for rid, parent in [("a", None), ("b", "a"), ("c", "b")]:
        forest.add(_node(rid, parent))
    forest.select("b")
    forest.last_visited = {}  # as a reload assigns the visits it built
    forest.select("c")
    assert forest.last_visited == {None: "a", "a": "b", "b": "c"}
