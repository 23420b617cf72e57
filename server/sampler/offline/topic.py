"""The topic component of the offline model: what a conversation path makes likelier.

A path's rare words pick related corpus paragraphs; their words are boosted and their
sentence starts become the reply's likely openings.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from itertools import repeat
from operator import itemgetter

from grove_explorer.server.sampler.offline.corpus import content_stems, unique_sorted
from grove_explorer.server.sampler.offline.memo import PathKey, PathMemo
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
_earlier: PathMemo[dict[str, float]] = PathMemo(_EARLIER_KEPT)


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


def _earlier_weights(path: PathKey, length: int) -> dict[str, float]:
    """Stem weights of `path[:length]` as earlier turns (human 0.35, model 0.15), cached.

    Starts from the longest cached shorter prefix (a few messages back at most) and
    extends it message by message.
    """
    found = _earlier.get(path, length)
    if found is not None:
        return found
    start = 0
    weights: defaultdict[str, float] = defaultdict(float)
    for back in range(1, min(_EARLIER_LOOKBACK, length) + 1):
        shorter = _earlier.get(path, length - back)
        if shorter is not None:
            weights.update(shorter)
            start = length - back
            break
    for i in range(start, length):
        sender, text = path[i]
        _raise_weights(weights, text, _turn_weight(sender))
    result = dict(weights)
    _earlier.put(path, length, result)
    return result


_CONDITIONING_KEPT = 256
"""Paths whose conditioning is kept (resampling a path reuses it, and its tables)."""
_conditioned: PathMemo[Conditioning] = PathMemo(_CONDITIONING_KEPT)


def conditioning(path_key: PathKey) -> Conditioning:
    """The path's `Conditioning`, computed once per distinct path (see `PathMemo`)."""
    found = _conditioned.get(path_key, len(path_key))
    if found is None:
        found = _condition(path_key)
        _conditioned.put(path_key, len(path_key), found)
    return found


def clear_memos() -> None:
    """Forgets every kept conditioning and earlier-turn weights (tests compare with fresh)."""
    _conditioned.clear()
    _earlier.clear()


def _condition(path_key: PathKey) -> Conditioning:
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
        weights.update(_earlier_weights(path_key, last_human))
    for i in range(max(last_human, 0), len(path_key)):
        sender, text = path_key[i]
        _raise_weights(weights, text, 1.0 if i == last_human else _turn_weight(sender))
    if not weights:
        return Conditioning(m.neutral_boost, [], m.global_openings)
    # The sums below add the same terms in the same order as plain `+=` loops over
    # defaultdicts did (0.0 + x is x), so every float is bit for bit what it was.
    idf = m.idf
    doc_score: dict[int, float] = {}
    score_of = doc_score.get
    for s, w in weights.items():
        term = w * idf[s]
        for d in m.stem_docs[s]:
            doc_score[d] = score_of(d, 0.0) + term
    # What heapq.nlargest returns (ties in the order met), by one sort in C (as below).
    top_docs = sorted(doc_score.items(), key=itemgetter(1), reverse=True)[:_MAX_TOPIC_DOCS]
    best = top_docs[0][1]
    relevance: dict[str, float] = {}
    relevance_of = relevance.get
    openings: dict[int, float] = {}
    opening_of = openings.get
    weight_of = weights.get
    for d, score in top_docs:
        share = score / best
        for s, idf_s in m.doc_stem_idf[d]:
            relevance[s] = relevance_of(s, 0.0) + share * idf_s
        for first, stems in m.doc_sentences[d]:
            overlap = sum(map(weight_of, stems, repeat(0.0)))
            openings[first] = opening_of(first, 0.0) + share * (0.25 + overlap)
    for s, w in weights.items():
        relevance[s] = relevance_of(s, 0.0) + 2.0 * w * idf[s]
    # What heapq.nlargest returns (ties in the order met), without its heap of keys.
    kept = sorted(relevance.items(), key=itemgetter(1), reverse=True)[:_MAX_TOPIC_STEMS]
    top_relevance = kept[0][1]
    boost = list(m.topical_boost)
    topic_ids: set[int] = set()
    stem_ids = m.stem_ids
    for s, r in kept:
        ids = stem_ids.get(s)
        if ids is None:
            continue
        factor = 1.0 + _TOPIC_BOOST * r / top_relevance
        topic_ids.update(ids)
        for i in ids:
            if factor > boost[i]:
                boost[i] = factor
    total = sum(openings.values())
    mixed = dict(m.scaled_global_openings)
    mixed_of = mixed.get
    for i, w in openings.items():
        mixed[i] = mixed_of(i, 0.0) + 0.8 * w / total
    return Conditioning(boost, sorted(topic_ids), mixed)
