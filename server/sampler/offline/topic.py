"""The topic component of the offline model: what a conversation path makes likelier.

A path's rare words pick related corpus paragraphs; their words are boosted and their
sentence starts become the reply's likely openings.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, defaultdict
from functools import lru_cache

from grove_explorer.server.sampler.offline.corpus import content_stems, unique_sorted
from grove_explorer.server.sampler.offline.ngram import shared_model

# Strength of the topic boost: a word fully related to the prompt is (1 + _TOPIC_BOOST) times
# likelier than its n-gram probability alone.
_TOPIC_BOOST = 5.0
# Related words kept per request; other content words count as off-topic.
_MAX_TOPIC_STEMS = 160
# Corpus paragraphs consulted for the topic and for openings.
_MAX_TOPIC_DOCS = 8


class Conditioning:
    """What a conversation path contributes to sampling: word boosts and reply openings.

    Computed once per distinct path and cached (resampling the same path is the common
    case), so it must not be mutated except through the `extras` and `opening_inputs`
    memos, which are pure functions of the other fields.
    """

    __slots__ = ("boost", "extras", "opening_inputs", "openings", "topic_ids", "topic_set")

    def __init__(
        self, boost: list[float], topic_ids: list[int], openings: dict[int, float]
    ) -> None:
        self.boost = boost
        self.topic_ids = topic_ids
        self.topic_set = frozenset(topic_ids)
        self.openings = openings
        # Per context word: the topic words seen after it, best first, capped.
        self.extras: dict[int, list[int]] = {}
        # The likeliest openings (ids, weights), best first: see `Run._opening_inputs`.
        self.opening_inputs: tuple[tuple[int, ...], tuple[float, ...]] | None = None


_EARLIER_KEPT = 32
"""Prefixes whose earlier-turn weights are kept (the paths being extended now)."""
_EARLIER_LOOKBACK = 8
"""How many messages back a shorter cached prefix is looked for."""
_earlier: OrderedDict[tuple[tuple[str, str], ...], dict[str, float]] = OrderedDict()


def _turn_weight(sender: str) -> float:
    """The weight of a message that is not the last human one."""
    return 0.35 if sender == "human" else 0.15


_CACHED_TEXT_CHARS = 4_096
"""Longer messages are stemmed each time (the cache holds their text)."""


def _known_stems(text: str) -> tuple[str, ...]:
    """The message's distinct content stems the corpus knows, in `unique_sorted` order."""
    idf = shared_model().idf
    return tuple(s for s in unique_sorted(content_stems(text)) if s in idf)


_cached_stems = lru_cache(maxsize=8_192)(_known_stems)


def _raise_weights(weights: defaultdict[str, float], text: str, w: float) -> None:
    """Raises every known stem of `text` to at least `w` (new stems go last, in order)."""
    stems = _cached_stems(text) if len(text) <= _CACHED_TEXT_CHARS else _known_stems(text)
    for s in stems:
        if weights[s] < w:
            weights[s] = w


def _earlier_weights(prefix: tuple[tuple[str, str], ...]) -> dict[str, float]:
    """Stem weights of `prefix` as earlier turns (human 0.35, model 0.15), cached.

    Starts from the longest cached shorter prefix (a few messages back at most) and
    extends it message by message.
    """
    found = _earlier.get(prefix)
    if found is not None:
        _earlier.move_to_end(prefix)
        return found
    start = 0
    weights: defaultdict[str, float] = defaultdict(float)
    for back in range(1, min(_EARLIER_LOOKBACK, len(prefix)) + 1):
        shorter = _earlier.get(prefix[:-back])
        if shorter is not None:
            weights.update(shorter)
            start = len(prefix) - back
            break
    for sender, text in prefix[start:]:
        _raise_weights(weights, text, _turn_weight(sender))
    result = dict(weights)
    _earlier[prefix] = result
    while len(_earlier) > _EARLIER_KEPT:
        _earlier.popitem(last=False)
    return result


@lru_cache(maxsize=256)
def conditioning(path_key: tuple[tuple[str, str], ...]) -> Conditioning:
    """Turns the path into word boosts and opening weights (the topic component).

    The last human message counts most; earlier turns add context. Corpus paragraphs are
    scored by the rare prompt words they share (idf), the words of the best ones become the
    reply's topic (boosted), other content words are damped, and sentence starts of those
    paragraphs become the likely openings.
    """
    m = shared_model()
    last_human = len(path_key) - 1  # found from the end: it is the last message or near it
    while last_human >= 0 and path_key[last_human][0] != "human":
        last_human -= 1
    # Earlier turns (every message before the last human one) come from the cached
    # weights of that prefix, extended by the message or two since: extending a deep path
    # does not stem it all again. Same keys in the same order, same maxima, as one pass.
    weights: defaultdict[str, float] = defaultdict(float)
    if last_human > 0:
        weights.update(_earlier_weights(path_key[:last_human]))
    for i in range(max(last_human, 0), len(path_key)):
        sender, text = path_key[i]
        _raise_weights(weights, text, 1.0 if i == last_human else _turn_weight(sender))
    if not weights:
        return Conditioning(m.neutral_boost, [], m.global_openings)
    doc_score: defaultdict[int, float] = defaultdict(float)
    for s, w in weights.items():
        for d in m.stem_docs[s]:
            doc_score[d] += w * m.idf[s]
    top_docs = heapq.nlargest(_MAX_TOPIC_DOCS, doc_score.items(), key=lambda kv: kv[1])
    best = top_docs[0][1]
    relevance: defaultdict[str, float] = defaultdict(float)
    openings: defaultdict[int, float] = defaultdict(float)
    for d, score in top_docs:
        share = score / best
        for s in m.doc_stems[d]:
            relevance[s] += share * m.idf[s]
        for first, stems in m.doc_sentences[d]:
            overlap = sum(weights.get(s, 0.0) for s in stems)
            openings[first] += share * (0.25 + overlap)
    for s, w in weights.items():
        relevance[s] += 2.0 * w * m.idf[s]
    kept = heapq.nlargest(_MAX_TOPIC_STEMS, relevance.items(), key=lambda kv: kv[1])
    top_relevance = kept[0][1]
    boost = list(m.topical_boost)
    topic_ids: set[int] = set()
    for s, r in kept:
        factor = 1.0 + _TOPIC_BOOST * r / top_relevance
        for i in m.stem_ids.get(s, ()):
            topic_ids.add(i)
            boost[i] = max(factor, boost[i])
    total = sum(openings.values())
    mixed = {i: 0.2 * p for i, p in m.global_openings.items()}
    for i, w in openings.items():
        mixed[i] = mixed.get(i, 0.0) + 0.8 * w / total
    return Conditioning(boost, sorted(topic_ids), mixed)
