"""The offline model's counts: an interpolated trigram/bigram/unigram model of the corpus.

Trained once per process (`shared_model`); a context's likeliest continuations are
memoised, so a step of a reply is a few microseconds.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from grove_explorer.server.sampler.offline.corpus import (
    BOS,
    BULLET,
    END,
    NO_SPACE_BEFORE,
    PARAGRAPH_BREAK,
    SENTENCE_ENDS,
    content_stems,
    load_corpus_paragraphs,
    tokenize_paragraph,
    unique_sorted,
)

# Witten-Bell weight of a trigram context is count / (count + this * distinct followers);
# below 1 trusts sparse trigrams more, trading variety for coherence.
_TRIGRAM_DIVERSITY = 0.25
# Candidates kept per context. Enough to cover nearly all probability mass of the sparse
# contexts of a small corpus, few enough that a step stays cheap.
MAX_CANDIDATES = 32
# Content words unrelated to the prompt are damped by this factor (when the prompt has a
# recognisable topic), so the reply does not wander off into another corpus file at the
# first shared function word.
_OFF_TOPIC = 0.1
# Global context-candidates memo bound (contexts reachable in practice are far fewer).
_MEMO_LIMIT = 200_000


@dataclass(frozen=True, slots=True)
class Candidates:
    """A context's most likely continuations (descending) with interpolated probabilities.

    No set of the ids: a memoised context lives for the process, and every object made for
    one fills the garbage collector's young generation, whose passes stop every stream of
    the server at once; membership is asked only when a table is built (`in` on `ids`).
    """

    ids: tuple[int, ...]
    probs: tuple[float, ...]
    truncated: bool


class NgramModel:
    """Counts from the corpus plus the indexes the topic component needs.

    Immutable after construction apart from the context memo, which only ever caches pure
    functions of the counts, so one instance is safely shared by every sampler and request.
    """

    def __init__(self, paragraphs: Sequence[str]) -> None:
        self.vocab: list[str] = [BOS, END]
        self.index: dict[str, int] = {BOS: 0, END: 1}
        self.bos = 0
        self.end = 1
        self.dot = self._id(".")
        self.bang = self._id("!")
        self.bullet = self._id(BULLET)

        unigram: Counter[int] = Counter()
        bigram: defaultdict[int, Counter[int]] = defaultdict(Counter)
        trigram: defaultdict[tuple[int, int], Counter[int]] = defaultdict(Counter)
        # Stems are kept in sorted tuples, never sets: iterating a set of strings depends on
        # PYTHONHASHSEED, and a seeded reply must be identical after a server restart.
        self.doc_stems: list[tuple[str, ...]] = []
        # Per document: (opening token id, stems of that sentence) for each sentence start.
        self.doc_sentences: list[list[tuple[int, tuple[str, ...]]]] = []
        for paragraph in paragraphs:
            tokens = tokenize_paragraph(paragraph)
            if not tokens:
                continue
            ids = [self._id(t) for t in tokens]
            seq = [self.bos, self.dot, *ids, self.end]
            for i in range(2, len(seq)):
                unigram[seq[i]] += 1
                bigram[seq[i - 1]][seq[i]] += 1
                trigram[seq[i - 2], seq[i - 1]][seq[i]] += 1
            self.doc_stems.append(unique_sorted(content_stems(" ".join(tokens))))
            self.doc_sentences.append(self._sentences(tokens, ids))

        size = len(self.vocab)
        self.vocabulary_size = size
        total = sum(unigram.values())
        self.unigram: list[float] = [unigram[i] / total for i in range(size)]
        self.bigram: list[dict[int, int]] = [dict(bigram.get(i, {})) for i in range(size)]
        self.bigram_total: list[int] = [sum(c.values()) for c in self.bigram]
        self.bigram_probs: list[dict[int, float]] = [
            self._bigram_level(i) if self.bigram[i] else {} for i in range(size)
        ]
        self.bigram_candidates: list[Candidates] = []
        # The ids of each bigram top list as a set (`_trigram_candidates` asks membership).
        self.bigram_members: list[frozenset[int]] = []
        for probs in self.bigram_probs:
            best = heapq.nlargest(MAX_CANDIDATES, ((p, w) for w, p in probs.items()))
            self.bigram_candidates.append(
                Candidates(
                    ids=tuple([w for _, w in best]),
                    probs=tuple([p for p, _ in best]),
                    truncated=len(probs) > len(best),
                )
            )
            self.bigram_members.append(frozenset(w for _, w in best))
        self.trigram: dict[tuple[int, int], tuple[dict[int, int], int]] = {
            ctx: (dict(c), sum(c.values())) for ctx, c in trigram.items()
        }
        # Fallback for a context never seen at all (cannot happen on the paths the sampler
        # takes, but a model should not crash on it).
        top_unigrams = heapq.nlargest(
            MAX_CANDIDATES, (i for i in range(size) if i != self.bos), key=self.unigram.__getitem__
        )
        mass = sum(self.unigram[i] for i in top_unigrams)
        self.unigram_fallback = Candidates(
            ids=tuple(top_unigrams),
            probs=tuple([self.unigram[i] / mass for i in top_unigrams]),
            truncated=True,
        )

        # Display forms: with the leading space a word takes mid-text, and bare (opening).
        self.spaced: list[str] = [
            t if t in NO_SPACE_BEFORE or t.startswith("\n") else " " + t for t in self.vocab
        ]
        self.spaced[self.end] = PARAGRAPH_BREAK
        self.spaced[self.bos] = ""
        self.bare: list[str] = list(self.vocab)

        # Topic indexes: which documents hold a stem, how rare it is, which tokens carry it.
        docs_with: defaultdict[str, list[int]] = defaultdict(list)
        for d, stems in enumerate(self.doc_stems):
            for s in stems:
                docs_with[s].append(d)
        n_docs = len(self.doc_stems)
        self.stem_docs: dict[str, list[int]] = dict(docs_with)
        self.idf: dict[str, float] = {
            s: math.log((n_docs + 1) / len(ds)) for s, ds in docs_with.items()
        }
        # Per document: its stems with their idf (the topic's relevance sums read both).
        self.doc_stem_idf: list[tuple[tuple[str, float], ...]] = [
            tuple((s, self.idf[s]) for s in stems) for stems in self.doc_stems
        ]
        stem_ids: defaultdict[str, list[int]] = defaultdict(list)
        for i, token in enumerate(self.vocab):
            for s in unique_sorted(content_stems(token)):
                stem_ids[s].append(i)
        self.stem_ids: dict[str, list[int]] = dict(stem_ids)
        # Boost baselines per token id: neutral, and damped content words for topical runs.
        self.neutral_boost: list[float] = [1.0] * size
        self.topical_boost: list[float] = [1.0] * size
        for ids_of_stem in stem_ids.values():
            for i in ids_of_stem:
                self.topical_boost[i] = _OFF_TOPIC

        # Openings when the prompt says nothing we recognise: every sentence start.
        starts: Counter[int] = Counter()
        for sentences in self.doc_sentences:
            for first, _ in sentences:
                starts[first] += 1
        self.global_openings: dict[int, float] = {
            i: c / sum(starts.values()) for i, c in starts.items()
        }
        # Their share of a topical run's openings (see topic.conditioning).
        self.scaled_global_openings: dict[int, float] = {
            i: 0.2 * p for i, p in self.global_openings.items()
        }

        # Keyed by `context_key(w1, w2)`, one int: a tuple key is one more object a context.
        self._memo: dict[int, Candidates] = {}

    def _id(self, token: str) -> int:
        """Interns a token, returning its id."""
        found = self.index.get(token)
        if found is None:
            found = self.index[token] = len(self.vocab)
            self.vocab.append(token)
        return found

    def _sentences(self, tokens: list[str], ids: list[int]) -> list[tuple[int, tuple[str, ...]]]:
        """Sentence starts that make good reply openings (capitalised words), with stems."""
        found: list[tuple[int, tuple[str, ...]]] = []
        start = 0
        for i, token in enumerate([*tokens, "."]):
            if i == len(tokens) or token in SENTENCE_ENDS:
                first = tokens[start] if start < len(tokens) else ""
                if first[:1].isupper() or first[:2] == "**":
                    stems = unique_sorted(content_stems(" ".join(tokens[start:i])))
                    found.append((ids[start], stems))
                start = i + 1
        return found

    def _bigram_level(self, w2: int) -> dict[int, float]:
        """P(w | w2) for every follower w of w2, interpolated with the unigram."""
        bi = self.bigram[w2]
        c2 = sum(bi.values())
        lam2 = c2 / (c2 + len(bi))
        uni = self.unigram
        return {w: lam2 * c / c2 + (1.0 - lam2) * uni[w] for w, c in bi.items()}

    def prob(self, w1: int, w2: int, w: int) -> float:
        """Interpolated P(w | w1 w2) with Witten-Bell weights.

        Witten-Bell trusts a context in proportion to how often it was seen relative to how
        many different words followed it, which suits a small corpus where most trigram
        contexts occur once.
        """
        bi = self.bigram[w2]
        p = self.bigram_probs[w2].get(w)
        if p is None:
            p = self.unigram[w] * (len(bi) / (self.bigram_total[w2] + len(bi)) if bi else 1.0)
        tri = self.trigram.get((w1, w2))
        if tri is not None:
            counts, c3 = tri
            lam3 = c3 / (c3 + _TRIGRAM_DIVERSITY * len(counts))
            p = lam3 * counts.get(w, 0) / c3 + (1.0 - lam3) * p
        return p

    def context_key(self, w1: int, w2: int) -> int:
        """A context (w1, w2) as one int: a memo's key that is a value, not a tuple object."""
        return w1 * self.vocabulary_size + w2

    def context_of(self, key: int) -> tuple[int, int]:
        """The context (w1, w2) a `context_key` stands for."""
        w1, w2 = divmod(key, self.vocabulary_size)
        return w1, w2

    def candidates(self, w1: int, w2: int) -> Candidates:
        """The context's most likely continuations, memoised for the life of the process.

        Only trigram followers and the bigram-level top list need scoring: any other follower
        of w2 has a lower interpolated probability than every word of that top list.
        """
        key = self.context_key(w1, w2)
        found = self._memo.get(key)
        if found is not None:
            return found
        tri = self.trigram.get((w1, w2))
        if not self.bigram[w2]:
            found = self.unigram_fallback
        elif tri is None:
            found = self.bigram_candidates[w2]
        else:
            found = self._trigram_candidates(w2, tri)
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = found
        return found

    def _trigram_candidates(self, w2: int, tri: tuple[dict[int, int], int]) -> Candidates:
        """`candidates` of a seen trigram context: `prob` of its pool, inlined.

        The arithmetic is `prob`'s, term for term, so the floats are the same: a word of the
        bigram top list that never followed this context has `lam3 * 0 / c3 + rest * p`,
        which is exactly `rest * p`, the bigram-level probability already in that list.
        """
        counts, c3 = tri
        lam3 = c3 / (c3 + _TRIGRAM_DIVERSITY * len(counts))
        rest = 1.0 - lam3
        level = self.bigram_probs[w2]
        top = self.bigram_candidates[w2]
        members = self.bigram_members[w2]
        scored = list(zip(map(rest.__mul__, top.probs), top.ids, strict=True))
        for w, c in counts.items():
            entry = (lam3 * c / c3 + rest * level[w], w)
            if w in members:
                scored[top.ids.index(w)] = entry  # the same place: scored follows top
            else:
                scored.append(entry)
        scored.sort(reverse=True)
        del scored[MAX_CANDIDATES:]
        probs, ids = zip(*scored, strict=True)
        return Candidates(
            ids=ids,
            probs=probs,
            truncated=len(self.bigram[w2]) > len(scored),
        )


@cache
def shared_model() -> NgramModel:
    """Trains the shared model once per process."""
    return NgramModel(load_corpus_paragraphs())
