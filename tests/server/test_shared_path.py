"""`SharedPath`: paths that share their parent's items behave exactly like tuples of them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grove_explorer.server.recent_paths import SharedPath
from grove_explorer.server.sampler.base import PathMessage
from grove_explorer.server.sampler.offline import topic
from grove_explorer.server.sampler.offline.memo import PathMemo


def test_extending_keeps_every_earlier_path_as_it_was() -> None:
    root: SharedPath[str] = SharedPath()
    a = root.extended("a")
    ab = a.extended("b")
    abc = ab.extended("c")
    ax = a.extended("x")  # a branch: "b" already follows "a" in the shared list
    abd = ab.extended("d")  # another branch, below "b"
    assert (list(root), list(a), list(ab), list(abc)) == ([], ["a"], ["a", "b"], list("abc"))
    assert (list(ax), list(abd)) == (["a", "x"], ["a", "b", "d"])
    assert abc.same_items(ab) and not ax.same_items(ab) and not abd.same_items(abc)
    assert ax.extended("y") == ("a", "x", "y")
    assert abc.prefix(2) == ab and abc.prefix(0) == root
    with pytest.raises(IndexError):
        abc.prefix(4)


@given(
    st.lists(st.integers(0, 9), max_size=12),
    st.integers(-15, 15),
    st.integers(-15, 15) | st.none(),
    st.integers(-15, 15) | st.none(),
    st.sampled_from([1, 2, -1, -3, None]),
)
def test_a_path_reads_like_the_tuple_of_its_items(
    items: list[int], index: int, start: int | None, stop: int | None, step: int | None
) -> None:
    plain = tuple(items)
    path: SharedPath[int] = SharedPath()
    for item in items:
        path = path.extended(item)
    path.extended(99)  # a longer path on the same list changes nothing of this one
    assert len(path) == len(plain) and tuple(path) == plain and list(iter(path)) == items
    assert path == plain and plain == path and hash(path) == hash(plain)
    assert path[start:stop:step] == plain[start:stop:step]
    if -len(plain) <= index < len(plain):
        assert path[index] == plain[index]
    else:
        with pytest.raises(IndexError):
            path[index]
    assert path != (*plain, 0) and path != SharedPath((*plain, 0)) and path != list(plain)


def test_a_memo_compares_views_of_one_list_without_reading_them() -> None:
    memo: PathMemo[str] = PathMemo(8)
    hello = PathMessage("human", "hello")
    path = SharedPath([hello]).extended(PathMessage("model", "hi")).extended(hello)
    memo.put(path, 1, "one")
    memo.put(path, 3, "three")
    longer = path.extended(PathMessage("model", "again"))
    assert memo.get(longer, 3) == "three" and memo.get(longer, 1) == "one"
    other = SharedPath([PathMessage("human", "hey"), PathMessage("model", "hi"), hello])
    assert memo.get(other, 3) is None  # same length and last message, another path
    assert memo.get(tuple(path), 3) == "three"  # an equal tuple is the same path
    assert memo.get(SharedPath(path), 3) == "three"  # and so is an equal copy


def test_conditioning_of_a_shared_path_is_that_of_its_tuple() -> None:
    messages = [
        PathMessage("human", "How do I prune roses?"),
        PathMessage("model", "In late winter, above an outward bud."),
        PathMessage("human", "And tomatoes in clay soil?"),
    ]
    shared = SharedPath(messages[:1]).extended(messages[1]).extended(messages[2])
    topic.clear_memos()
    fresh = topic.conditioning(tuple(messages))
    topic.clear_memos()
    got = topic.conditioning(shared)
    assert (got.boost, got.topic_ids, got.openings) == (
        fresh.boost,
        fresh.topic_ids,
        fresh.openings,
    )
    assert topic.conditioning(shared.prefix(3)) is got
