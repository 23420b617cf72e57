"""The topic component of the offline model: what a conversation path makes likelier.

A path's rare words pick related corpus paragraphs; their words are boosted and their
sentence starts become the reply's likely openings.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
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


@lru_cache(maxsize=256)
def conditioning(path_key: tuple[tuple[str, str], ...]) -> Conditioning:
    """Turns the path into word boosts and opening weights (the topic component).

    The last human message counts most; earlier turns add context. Corpus paragraphs are
    scored by the rare prompt words they share (idf), the words of the best ones become the
    reply's topic (boosted), other content words are damped, and sentence starts of those
    paragraphs become the likely openings.
    """
    m = shared_model()
    weights: defaultdict[str, float] = defaultdict(float)
    last_human = max((i for i, (who, _) in enumerate(path_key) if who == "human"), default=-1)
    for i, (sender, text) in enumerate(path_key):
        if i == last_human:
            w = 1.0
        elif sender == "human":
            w = 0.35
        else:
            w = 0.15
        for s in unique_sorted(content_stems(text)):
            if s in m.idf:
                weights[s] = max(weights[s], w)
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
