"""The offline model's path memos (`PathMemo`): found without hashing the path, never wrong.

A memo entry is keyed by the path's length and last message and holds the path it was
computed from; these tests pin down that a key match alone is never taken for a hit, and
that an equal path (built again from fresh objects, as after the servicer's cache forgets
it) still finds its value.
"""

from __future__ import annotations

import asyncio

from grove_explorer.server.sampler.base import PathMessage, ResolvedParams, SampledToken
from grove_explorer.server.sampler.offline import OfflineSampler, topic
from grove_explorer.server.sampler.offline.memo import PathMemo
from grove_explorer.server.sampler.offline.sampler import _COUNT_TOKEN_RE

LAST = PathMessage("human", "What should I plant beside the roses?")


def _paths() -> list[tuple[PathMessage, ...]]:
    """Same length, the same last message object, different earlier messages."""
    return [
        (PathMessage("human", "Tell me about maps and explorers."), LAST),
        (PathMessage("human", "How do I pipe commands in a terminal shell?"), LAST),
        (PathMessage("model", "Compost, mulch and clay soil in the vegetable beds."), LAST),
    ]


def test_a_key_match_with_another_prefix_is_a_miss() -> None:
    memo: PathMemo[str] = PathMemo(8)
    first, second, _ = _paths()
    memo.put(first, 2, "first")
    assert memo.get(first, 2) == "first"
    assert memo.get(second, 2) is None
    assert memo.get((*first, LAST), 2) == "first"  # a longer path's prefix
    assert memo.get((*second, LAST), 2) is None
    memo.put(second, 2, "second")
    assert memo.get(second, 2) == "second"
    assert memo.get(first, 2) is None  # one entry per key: the newest


def test_an_equal_path_of_fresh_objects_is_a_hit_and_the_oldest_goes_first() -> None:
    memo: PathMemo[int] = PathMemo(2)
    path = _paths()[0]
    memo.put(path, 2, 7)
    memo.put(path, 1, 5)
    rebuilt = tuple(PathMessage(str(m.sender), str(m.text) + "") for m in path)
    assert memo.get(rebuilt, 2) == 7
    assert memo.get(tuple(tuple(m) for m in path), 1) == 5  # plain pairs: the same values
    memo.put(_paths()[1], 2, 9)  # drops the least recently used: the length-2 entry
    assert memo.get(path, 2) is None
    assert memo.get(path, 1) == 5
    assert memo.get((), 0) is None
    memo.put((), 0, 0)
    assert memo.get(path, 0) == 0


def test_conditioning_and_counts_of_paths_sharing_a_last_message_are_their_own() -> None:
    sampler = OfflineSampler()
    warm = []
    for path in _paths() * 2:
        warm.append(topic.conditioning(path))
        plain = sum(len(_COUNT_TOKEN_RE.findall(m.text)) for m in path)
        assert sampler.count_tokens(path) == plain
    for path, got in zip(_paths(), warm, strict=False):
        topic.clear_memos()
        fresh = topic.conditioning(path)
        assert (got.boost, got.topic_ids, got.openings) == (
            fresh.boost,
            fresh.topic_ids,
            fresh.openings,
        )
    assert warm[0].topic_ids != warm[1].topic_ids  # the earlier message matters here


def test_an_equal_path_reuses_its_conditioning() -> None:
    path = _paths()[0]
    kept = topic.conditioning(path)
    again = topic.conditioning(tuple(PathMessage(m.sender, m.text) for m in path))
    assert again is kept  # so resamples of a path share their sampling tables


def _reply(sampler: OfflineSampler, path: tuple[PathMessage, ...]) -> list[object]:
    async def run() -> list[object]:
        params = ResolvedParams(temperature=0.8, top_p=0.95, max_tokens=12, seed=3)
        return [
            (e.text, e.logprob, e.top)
            async for e in sampler.sample(path, params)
            if isinstance(e, SampledToken)
        ]

    return asyncio.run(run())


def test_replies_along_a_deep_path_equal_replies_from_fresh_memos() -> None:
    """Turn by turn (each extending the last path, as the server does), the replies and
    prompt counts are those of a sampler that computes everything from scratch."""
    sampler = OfflineSampler()
    path: tuple[PathMessage, ...] = ()
    along = []
    for turn in range(30):
        path = (*path, PathMessage("human", f"turn {turn}: roses, maps or {turn % 4} shells?"))
        along.append((sampler.count_tokens(path), _reply(sampler, path), path))
        path = (*path, PathMessage("model", "".join(str(t[0]) for t in along[-1][1])))
    for count, reply, at in along[::7]:
        assert count == sum(len(_COUNT_TOKEN_RE.findall(m.text)) for m in at)
        topic.clear_memos()
        assert _reply(sampler, tuple(PathMessage(*m) for m in at)) == reply
