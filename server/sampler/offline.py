"""The offline sampler: a tiny word-level n-gram model, the server's default text model.

The training text in ``corpus/*.txt`` is original prose written for Grove (trees and gardens,
weather and cooking, the scientific method and branching ideas, terminals and language
models, the history of maps). This is a DEMO model, not a language model of any quality: it
exists so that the server, the SDK and the app can be run and tested end to end with no
network, no API keys and no model weights, while still behaving like a real sampler (a
probability distribution per token, temperature, nucleus sampling, seeds, log-probabilities).

How it works, and why it is shaped this way:

- Training is counting. Each corpus paragraph is one document; its end is the end-of-reply
  event. Trigram, bigram and unigram counts are collected once per process and cached at
  module level, so constructing a sampler is free after the first time (training takes a few
  tens of milliseconds).
- Each step draws from an interpolated trigram/bigram/unigram distribution (Witten-Bell
  weights) restricted to the continuations actually seen after the current context, capped
  at the most likely few dozen. Never touching the whole vocabulary keeps a step at a few
  microseconds, which matters because the server benchmark streams 100,000 tokens. The
  per-context sampling tables are also shared between requests with the same path and
  parameters, so resampling a path (Grove's core use) mostly costs a lookup and a bisect.
- The end-of-paragraph event ends the reply once it has a minimum length; before that it
  becomes a paragraph-break token and the reply goes on, so replies are never one-liners.
- The conversation path steers the reply: its content words select the most related corpus
  paragraphs, and the words of those paragraphs are boosted wherever they are grammatical
  continuations (a cache/topic model). The opening word of each paragraph of the reply is
  drawn from sentence starts of the related paragraphs.
- Repeating a 4-gram within a reply is forbidden, which stops the loops that n-gram models
  (and greedy decoding in particular) otherwise fall into.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
import re
import secrets
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import accumulate
from operator import itemgetter, mul
from pathlib import Path

from grove_explorer.server.sampler.base import (
    InvalidParamsError,
    ModelDescription,
    PathMessage,
    RequestedParams,
    ResolvedParams,
    SampledToken,
    check_integer,
    check_number,
)

OFFLINE_MODEL_NAME = "grove-offline-ngram"
DEFAULT_TEMPERATURE = 0.8
DEFAULT_TOP_P = 0.95
DEFAULT_MAX_TOKENS = 200
MAX_TOKENS_LIMIT = 4096
MAX_TEMPERATURE = 2.0
MAX_SEED = 2**63 - 1

CORPUS_DIR = Path(__file__).with_name("corpus")

# Witten-Bell weight of a trigram context is count / (count + this * distinct followers);
# below 1 trusts sparse trigrams more, trading variety for coherence.
_TRIGRAM_DIVERSITY = 0.25
# Candidates kept per context. Enough to cover nearly all probability mass of the sparse
# contexts of a small corpus, few enough that a step stays cheap.
_MAX_CANDIDATES = 32
# Strength of the topic boost: a word fully related to the prompt is (1 + _TOPIC_BOOST) times
# likelier than its n-gram probability alone.
_TOPIC_BOOST = 5.0
# Content words unrelated to the prompt are damped by this factor (when the prompt has a
# recognisable topic), so the reply does not wander off into another corpus file at the
# first shared function word.
_OFF_TOPIC = 0.1
# Related words kept per request; other content words count as off-topic.
_MAX_TOPIC_STEMS = 160
# Topic words added to a capped context's candidates (the likeliest after that word).
_MAX_TOPIC_EXTRAS = 12
# Corpus paragraphs consulted for the topic and for openings.
_MAX_TOPIC_DOCS = 8
# The end-of-paragraph event ends the reply only once it has this many tokens; before that it
# becomes a paragraph break and the reply goes on, so replies are not one-liners. The default
# of `OfflineSampler(min_reply_tokens=...)` (benchmarks raise it to get long replies).
DEFAULT_MIN_REPLY_TOKENS = 48
# Even at zero delay the stream yields to the event loop this often, so concurrent streams
# make progress.
_YIELD_EVERY = 16
# Global context-candidates memo bound (contexts reachable in practice are far fewer).
_MEMO_LIMIT = 200_000
# Sampling tables shared between requests with the same path and parameters (resamples);
# all are dropped when this many exist, which bounds memory to a few tens of megabytes.
_TABLE_LIMIT = 16_000

_BOS = "<s>"
_END = "</s>"
_BULLET = "\n-"
_PARAGRAPH_BREAK = "\n\n"
_SENTENCE_ENDS = frozenset({".", "!", "?"})
_NO_SPACE_BEFORE = frozenset({",", ".", ";", ":", "!", "?"})

# Corpus tokens: a bold span or code span is one token (so markdown stays balanced), then
# words with inner apostrophes/hyphens, then punctuation.
_CORPUS_TOKEN_RE = re.compile(
    r"\*\*[^*\n]+\*\*|`[^`\n]+`|[A-Za-z0-9]+(?:['-][A-Za-z0-9]+)*|[.,;:!?]"
)
# Prompt counting: any word or any single non-space symbol.
_COUNT_TOKEN_RE = re.compile(r"\w+(?:['-]\w+)*|[^\w\s]")
_LETTERS_RE = re.compile(r"[a-z]+")

_STOPWORDS = frozenset(
    """
    about above after again against all also although always among and another any are
    around because been before being below between both but can cannot could did does doing
    done down during each either else enough even ever every few for from further had has
    have having her here hers him his how however into its itself just last least less like
    little made make makes many may might more most much must near need never next not now
    off often once one only onto other others our ours out over own per perhaps quite rather
    really same several she should since some something sometimes still such than that the
    their them then there these they thing things this those though through thus too toward
    under until upon very was way ways well were what when where whether which while who whom
    whose why will with within without would yet you your yours able get got give given gives
    let lets put say says said see seen take takes tell tells use used uses using want wants
    know knows its it's don't can't isn't doesn't there's that's what's i'm i've you're
    please thanks thank hello hi hey
    """.split()
)


def _stem(word: str) -> str:
    """Crude suffix stripping so "gardening", "gardener" and "gardens" meet at "garden".

    Good enough for matching prompt words to corpus words; a real stemmer would be a
    dependency for no visible gain in a demo model.
    """
    for suffix in ("ings", "ing", "ers", "er", "ies", "es", "ed", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def _content_stems(text: str) -> list[str]:
    """Stems of the content words of a text (lowercase, three letters or more, no stopwords)."""
    return [
        _stem(w) for w in _LETTERS_RE.findall(text.lower()) if len(w) >= 3 and w not in _STOPWORDS
    ]


def _unique_sorted(items: list[str]) -> tuple[str, ...]:
    """Distinct items in a hash-seed-independent order (see _NgramModel.doc_stems)."""
    return tuple(sorted(set(items)))


def _tokenize_paragraph(paragraph: str) -> list[str]:
    """Splits a corpus paragraph into tokens; a "- " list line starts with a bullet token."""
    tokens: list[str] = []
    for raw in paragraph.splitlines():
        line = raw.strip()
        if line.startswith("- "):
            tokens.append(_BULLET)
            line = line[2:]
        tokens.extend(_CORPUS_TOKEN_RE.findall(line))
    return tokens


def load_corpus_paragraphs(directory: Path = CORPUS_DIR) -> list[str]:
    """Returns the corpus paragraphs (training documents), files in name order."""
    paragraphs: list[str] = []
    for file in sorted(directory.glob("*.txt")):
        text = file.read_text(encoding="utf-8")
        paragraphs.extend(p.strip() for p in re.split(r"\n\s*\n", text) if p.strip())
    return paragraphs


@dataclass(frozen=True, slots=True)
class _Candidates:
    """A context's most likely continuations (descending) with interpolated probabilities."""

    ids: tuple[int, ...]
    probs: tuple[float, ...]
    members: frozenset[int]
    truncated: bool


class _NgramModel:
    """Counts from the corpus plus the indexes the topic component needs.

    Immutable after construction apart from the context memo, which only ever caches pure
    functions of the counts, so one instance is safely shared by every sampler and request.
    """

    def __init__(self, paragraphs: Sequence[str]) -> None:
        self.vocab: list[str] = [_BOS, _END]
        self.index: dict[str, int] = {_BOS: 0, _END: 1}
        self.bos = 0
        self.end = 1
        self.dot = self._id(".")
        self.bang = self._id("!")
        self.bullet = self._id(_BULLET)

        unigram: Counter[int] = Counter()
        bigram: defaultdict[int, Counter[int]] = defaultdict(Counter)
        trigram: defaultdict[tuple[int, int], Counter[int]] = defaultdict(Counter)
        # Stems are kept in sorted tuples, never sets: iterating a set of strings depends on
        # PYTHONHASHSEED, and a seeded reply must be identical after a server restart.
        self.doc_stems: list[tuple[str, ...]] = []
        # Per document: (opening token id, stems of that sentence) for each sentence start.
        self.doc_sentences: list[list[tuple[int, tuple[str, ...]]]] = []
        for paragraph in paragraphs:
            tokens = _tokenize_paragraph(paragraph)
            if not tokens:
                continue
            ids = [self._id(t) for t in tokens]
            seq = [self.bos, self.dot, *ids, self.end]
            for i in range(2, len(seq)):
                unigram[seq[i]] += 1
                bigram[seq[i - 1]][seq[i]] += 1
                trigram[seq[i - 2], seq[i - 1]][seq[i]] += 1
            self.doc_stems.append(_unique_sorted(_content_stems(" ".join(tokens))))
            self.doc_sentences.append(self._sentences(tokens, ids))

        size = len(self.vocab)
        total = sum(unigram.values())
        self.unigram: list[float] = [unigram[i] / total for i in range(size)]
        self.bigram: list[dict[int, int]] = [dict(bigram.get(i, {})) for i in range(size)]
        self.bigram_total: list[int] = [sum(c.values()) for c in self.bigram]
        self.bigram_probs: list[dict[int, float]] = [
            self._bigram_level(i) if self.bigram[i] else {} for i in range(size)
        ]
        self.bigram_candidates: list[_Candidates] = []
        for probs in self.bigram_probs:
            best = heapq.nlargest(_MAX_CANDIDATES, ((p, w) for w, p in probs.items()))
            self.bigram_candidates.append(
                _Candidates(
                    ids=tuple(w for _, w in best),
                    probs=tuple(p for p, _ in best),
                    members=frozenset(w for _, w in best),
                    truncated=len(probs) > len(best),
                )
            )
        self.trigram: dict[tuple[int, int], tuple[dict[int, int], int]] = {
            ctx: (dict(c), sum(c.values())) for ctx, c in trigram.items()
        }
        # Fallback for a context never seen at all (cannot happen on the paths the sampler
        # takes, but a model should not crash on it).
        top_unigrams = heapq.nlargest(
            _MAX_CANDIDATES, (i for i in range(size) if i != self.bos), key=self.unigram.__getitem__
        )
        mass = sum(self.unigram[i] for i in top_unigrams)
        self.unigram_fallback = _Candidates(
            ids=tuple(top_unigrams),
            probs=tuple(self.unigram[i] / mass for i in top_unigrams),
            members=frozenset(top_unigrams),
            truncated=True,
        )

        # Display forms: with the leading space a word takes mid-text, and bare (opening).
        self.spaced: list[str] = [
            t if t in _NO_SPACE_BEFORE or t.startswith("\n") else " " + t for t in self.vocab
        ]
        self.spaced[self.end] = _PARAGRAPH_BREAK
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
        stem_ids: defaultdict[str, list[int]] = defaultdict(list)
        for i, token in enumerate(self.vocab):
            for s in _unique_sorted(_content_stems(token)):
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

        self._memo: dict[tuple[int, int], _Candidates] = {}

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
            if i == len(tokens) or token in _SENTENCE_ENDS:
                first = tokens[start] if start < len(tokens) else ""
                if first[:1].isupper() or first[:2] == "**":
                    stems = _unique_sorted(_content_stems(" ".join(tokens[start:i])))
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

    def candidates(self, w1: int, w2: int) -> _Candidates:
        """The context's most likely continuations, memoised for the life of the process.

        Only trigram followers and the bigram-level top list need scoring: any other follower
        of w2 has a lower interpolated probability than every word of that top list.
        """
        key = (w1, w2)
        found = self._memo.get(key)
        if found is not None:
            return found
        tri = self.trigram.get((w1, w2))
        if not self.bigram[w2]:
            found = self.unigram_fallback
        elif tri is None:
            found = self.bigram_candidates[w2]
        else:
            pool = set(tri[0]).union(self.bigram_candidates[w2].ids)
            scored = sorted(((self.prob(w1, w2, w), w) for w in pool), reverse=True)
            scored = scored[:_MAX_CANDIDATES]
            found = _Candidates(
                ids=tuple(w for _, w in scored),
                probs=tuple(p for p, _ in scored),
                members=frozenset(w for _, w in scored),
                truncated=len(self.bigram[w2]) > len(scored),
            )
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = found
        return found


@cache
def _model() -> _NgramModel:
    """Trains the shared model once per process."""
    return _NgramModel(load_corpus_paragraphs())


class _Table:
    """The distribution actually sampled from at one step, ready for a cheap draw.

    Only the tokens that can be drawn (after temperature and top-p) are kept: `ids`, their
    (unnormalised, descending) `weights` and the running sums `cum` for the draw, with
    `log_z` the log of the total, so a logprob costs one log and only for the token drawn.
    `top` is computed with the same arithmetic, so the two always agree. Tables are shared
    between requests, so they are kept this small on purpose.
    """

    __slots__ = ("cum", "ids", "log_z", "top", "weights")

    def __init__(
        self,
        ids: Sequence[int],
        weights: Sequence[float],
        cum: list[float],
        log_z: float,
        top: tuple[tuple[str, float], ...],
    ) -> None:
        self.ids = ids
        self.weights = weights
        self.cum = cum
        self.log_z = log_z
        self.top = top

    def logprob(self, j: int) -> float:
        """Natural log of the probability of the j-th kept token."""
        return math.log(self.weights[j]) - self.log_z


class _Conditioning:
    """What a conversation path contributes to sampling: word boosts and reply openings.

    Computed once per distinct path and cached (resampling the same path is the common
    case), so it must not be mutated except through the `extras` memo, which is a pure
    function of the other fields.
    """

    __slots__ = ("boost", "extras", "openings", "topic_ids")

    def __init__(
        self, boost: list[float], topic_ids: list[int], openings: dict[int, float]
    ) -> None:
        self.boost = boost
        self.topic_ids = topic_ids
        self.openings = openings
        # Per context word: the topic words seen after it, best first, capped.
        self.extras: dict[int, list[int]] = {}


@lru_cache(maxsize=256)
def _conditioning(path_key: tuple[tuple[str, str], ...]) -> _Conditioning:
    """Turns the path into word boosts and opening weights (the topic component).

    The last human message counts most; earlier turns add context. Corpus paragraphs are
    scored by the rare prompt words they share (idf), the words of the best ones become the
    reply's topic (boosted), other content words are damped, and sentence starts of those
    paragraphs become the likely openings.
    """
    m = _model()
    weights: defaultdict[str, float] = defaultdict(float)
    last_human = max((i for i, (who, _) in enumerate(path_key) if who == "human"), default=-1)
    for i, (sender, text) in enumerate(path_key):
        if i == last_human:
            w = 1.0
        elif sender == "human":
            w = 0.35
        else:
            w = 0.15
        for s in _unique_sorted(_content_stems(text)):
            if s in m.idf:
                weights[s] = max(weights[s], w)
    if not weights:
        return _Conditioning(m.neutral_boost, [], m.global_openings)
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
    return _Conditioning(boost, sorted(topic_ids), mixed)


_TableKey = tuple[_Conditioning, float, float, int, bool]


class _TableStore:
    """Sampling tables shared by requests with the same conditioning and parameters.

    A table is a pure function of (conditioning, temperature, top_p, top_logprobs, fun,
    context), so resamples of one path can reuse each other's work; that turns most steps
    into a dict lookup and a bisect. Everything is dropped at once when the store is full:
    cheaper and simpler than LRU bookkeeping, and a refill costs only a few milliseconds.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._sets: dict[_TableKey, dict[tuple[int, int], _Table]] = {}
        self._count = 0

    def tables_for(self, key: _TableKey) -> dict[tuple[int, int], _Table]:
        """The (shared, growing) table dict for one conditioning and parameter set."""
        found = self._sets.get(key)
        if found is None:
            found = self._sets[key] = {}
        return found

    def add(
        self, tables: dict[tuple[int, int], _Table], ctx: tuple[int, int], table: _Table
    ) -> None:
        """Stores a table, first dropping every shared table if the store is full."""
        if self._count >= self._limit:
            self._sets.clear()
            self._count = 0
        tables[ctx] = table
        self._count += 1


_TABLES = _TableStore(_TABLE_LIMIT)
# Context key under which a run's opening table is stored (no real context has it).
_OPENING_KEY = (-1, -1)


class _Run:
    """State of one sample() call: parameters, conditioning, memo tables and history."""

    def __init__(
        self,
        model: _NgramModel,
        path: Sequence[PathMessage],
        params: ResolvedParams,
        top_logprobs: int,
        fun: bool,
        min_reply_tokens: int = DEFAULT_MIN_REPLY_TOKENS,
    ) -> None:
        self.m = model
        self.min_reply_tokens = min_reply_tokens
        self.rng = random.Random(params.seed)
        self.temperature = params.temperature
        if fun and self.temperature > 0:
            # A little more adventurous, and exclamation-prone (see _build).
            self.temperature = min(MAX_TEMPERATURE, self.temperature * 1.25)
        self.top_p = params.top_p
        self.k = max(0, top_logprobs)
        self.fun = fun
        self.cond = _conditioning(tuple((msg.sender, msg.text) for msg in path))
        self.boost = self.cond.boost
        self.tables = _TABLES.tables_for(
            (self.cond, self.temperature, self.top_p, self.k, self.fun)
        )
        self.banned: dict[tuple[int, int, int], set[int]] = {}
        self.used_openings: set[int] = set()
        self.h0, self.h1, self.h2 = model.bos, model.bos, model.dot
        self.emitted = 0
        # After a given prefix: what joins the first sampled token to it (see `feed`).
        self.attach: str | None = None

    def _build(
        self,
        ids: Sequence[int],
        probs: Sequence[float],
        texts: list[str],
        exclude: set[int] | frozenset[int] = frozenset(),
    ) -> _Table:
        """Applies the topic boost (and "fun" exclamations), temperature and top-p.

        `exclude` removes tokens before anything else (4-gram repeats, used openings), so the
        table is exactly the distribution over what may still be drawn.
        """
        weights: Sequence[float] = list(map(mul, probs, map(self.boost.__getitem__, ids)))
        if self.fun or exclude:
            ids, weights = self._adjust(list(ids), list(weights), exclude)
        if len(ids) > 1:
            pick = itemgetter(*sorted(range(len(ids)), key=weights.__getitem__, reverse=True))
            ids, weights = pick(ids), pick(weights)
        k = self.k
        if self.temperature == 0.0:
            # Greedy: the argmax, reported with the untempered distribution's logprobs.
            log_total = math.log(sum(weights))
            top = tuple(
                (texts[i], math.log(w) - log_total)
                for i, w in zip(ids[:k], weights[:k], strict=True)
            )
            return _Table(ids[:1], weights[:1], [weights[0]], log_total, top)
        inv_t = 1.0 / self.temperature
        if inv_t != 1.0:
            peak = weights[0]
            weights = [(w / peak) ** inv_t for w in weights]
        cum = list(accumulate(weights))
        # Smallest prefix holding top_p of the mass (zero-weight underflow never included).
        n = min(bisect_left(cum, self.top_p * cum[-1]) + 1, len(cum))
        del cum[n:]
        log_z = math.log(cum[-1])
        # Same arithmetic as _Table.logprob, so a chosen token's logprob matches its entry.
        # Tokens outside the nucleus have probability 0 and are not reported.
        shown = min(k, n)
        top = tuple(
            (texts[i], math.log(w) - log_z)
            for i, w in zip(ids[:shown], weights[:shown], strict=True)
        )
        return _Table(ids[:n], weights[:n], cum, log_z, top)

    def _adjust(
        self, ids: list[int], weights: list[float], exclude: set[int] | frozenset[int]
    ) -> tuple[list[int], list[float]]:
        """The rare paths of _build: "fun" exclamations and excluded tokens."""
        if self.fun:
            dot, bang = self.m.dot, self.m.bang
            if dot in ids:
                # Turn some of the full stops into exclamations.
                at = ids.index(dot)
                moved = weights[at] * 0.25
                weights[at] -= moved
                if bang in ids:
                    weights[ids.index(bang)] += moved
                else:
                    ids.append(bang)
                    weights.append(moved)
        if exclude:
            kept = [j for j, i in enumerate(ids) if i not in exclude]
            if kept:  # Excluding everything would leave nothing to say; ignore the ban.
                ids = [ids[j] for j in kept]
                weights = [weights[j] for j in kept]
        return ids, weights

    def _context_inputs(self, w1: int, w2: int) -> tuple[Sequence[int], Sequence[float]]:
        """Candidate ids and n-gram probabilities for a context, topic extras included."""
        m = self.m
        cands = m.candidates(w1, w2)
        ids: Sequence[int] = cands.ids
        probs: Sequence[float] = cands.probs
        if cands.truncated and self.cond.topic_ids:
            # Topic words seen after w2 but outside the capped list still get their chance.
            extras = self.cond.extras.get(w2)
            if extras is None:
                extras = self.cond.extras[w2] = self._topic_followers(w2)
            missing = [i for i in extras if i not in cands.members]
            if missing:
                ids = list(ids) + missing
                probs = list(probs) + [m.prob(w1, w2, i) for i in missing]
        return ids, probs

    def _context_table(self, w1: int, w2: int) -> _Table:
        """The (shared, memoised) table for a context."""
        key = (w1, w2)
        table = self.tables.get(key)
        if table is None:
            table = self._build(*self._context_inputs(w1, w2), self.m.spaced)
            _TABLES.add(self.tables, key, table)
        return table

    def _topic_followers(self, w2: int) -> list[int]:
        """The topic words most likely after w2 (bigram count times boost), best first."""
        follows = self.m.bigram[w2]
        boost = self.boost
        found = [(follows[i] * boost[i], i) for i in self.cond.topic_ids if i in follows]
        return [i for _, i in heapq.nlargest(_MAX_TOPIC_EXTRAS, found)]

    def _opening_inputs(self) -> tuple[list[int], list[float]]:
        """Candidate ids and weights for the first word of a paragraph of the reply."""
        items = heapq.nlargest(_MAX_CANDIDATES, self.cond.openings.items(), key=lambda kv: kv[1])
        return [i for i, _ in items], [p for _, p in items]

    def _opening(self) -> _Table:
        """The (shared, memoised) table for the first word of a paragraph."""
        table = self.tables.get(_OPENING_KEY)
        if table is None:
            table = self._build(*self._opening_inputs(), self.m.bare)
            _TABLES.add(self.tables, _OPENING_KEY, table)
        return table

    def feed(self, prefix: str) -> None:
        """Moves the history past `prefix`, as if this run had written it (a token branch).

        Paragraph breaks start a new paragraph; words the model does not know break the
        context like a sentence end, so sampling goes on from a state it knows.
        """
        m = self.m
        for paragraph in prefix.split("\n\n"):
            if self.emitted:
                self.h0, self.h1, self.h2 = m.bos, m.bos, m.dot
            for word in _tokenize_paragraph(paragraph):
                token = m.index.get(word)
                if token is None:
                    self.h0, self.h1, self.h2 = m.bos, m.bos, m.dot
                    continue
                if self.h2 == m.dot and self.h1 == m.bos:
                    self.used_openings.add(token)
                self.h0, self.h1, self.h2 = self.h1, self.h2, token
                self.emitted += 1
        # The first token continues the prefix's line: one space after text (even where an
        # unknown word reset the context to an opening, drawn bare), none after whitespace.
        # A prefix ending a paragraph is followed like any paragraph start.
        if prefix.strip() and not prefix.endswith("\n\n"):
            self.attach = "" if prefix[-1].isspace() else " "

    def next_token(self) -> SampledToken | None:
        """Draws the next token, or None at the end of the reply."""
        m = self.m
        h0, h1, h2 = self.h0, self.h1, self.h2
        opening = h2 == m.dot and h1 == m.bos
        if opening:
            table = self._opening()
            if not self.used_openings.isdisjoint(table.ids):
                # A later paragraph should not start like an earlier one.
                table = self._build(*self._opening_inputs(), m.bare, self.used_openings)
        else:
            table = self._context_table(h1, h2)
            banned = self.banned.get((h0, h1, h2))
            if banned is not None and not banned.isdisjoint(table.ids):
                table = self._build(*self._context_inputs(h1, h2), m.spaced, banned)
        cum = table.cum
        n = len(cum)
        j = 0 if n == 1 else min(bisect_right(cum, self.rng.random() * cum[-1]), n - 1)
        token = table.ids[j]
        if token == m.end:
            if self.emitted >= self.min_reply_tokens:
                return None
            text = _PARAGRAPH_BREAK
            self.h0, self.h1, self.h2 = m.bos, m.bos, m.dot
        elif opening:
            text = m.bare[token]
            self.used_openings.add(token)
            self.h0, self.h1, self.h2 = h1, h2, token
        else:
            text = m.spaced[token]
            self.banned.setdefault((h0, h1, h2), set()).add(token)
            self.h0, self.h1, self.h2 = h1, h2, token
        self.emitted += 1
        if self.attach is not None:
            attach, self.attach = self.attach, None
            top = tuple((_attached(alt, attach), logprob) for alt, logprob in table.top)
            return SampledToken(_attached(text, attach), table.logprob(j), top)
        return SampledToken(text, table.logprob(j), table.top)


def _attached(text: str, attach: str) -> str:
    """A token's text joined to a given prefix: `attach` before a word, punctuation as is."""
    if text.startswith("\n") or text in _NO_SPACE_BEFORE:
        return text
    return attach + text.lstrip(" ")


class OfflineSampler:
    """The default Sampler: an offline n-gram demo model with a configurable pace.

    `token_delay_ms` makes streams look like a remote model (and lets tests and demos watch
    tokens arrive); at zero delay it is as fast as the model allows.

    `min_reply_tokens` is the length before which the model's end-of-paragraph event
    becomes a paragraph-break token instead of ending the reply; a request's
    `max_tokens` still caps the reply. Raising it makes long replies (benchmarks ask for
    500 tokens); the default keeps seeded replies byte-identical to earlier versions.
    """

    def __init__(
        self,
        token_delay_ms: float = 0.0,
        model_name: str = OFFLINE_MODEL_NAME,
        min_reply_tokens: int = DEFAULT_MIN_REPLY_TOKENS,
    ) -> None:
        if not math.isfinite(token_delay_ms) or token_delay_ms < 0:
            raise ValueError(f"token_delay_ms must be a finite number >= 0, got {token_delay_ms}.")
        if isinstance(min_reply_tokens, bool) or not isinstance(min_reply_tokens, int):
            raise ValueError(f"min_reply_tokens must be an integer, got {min_reply_tokens!r}.")
        if min_reply_tokens < 0:
            raise ValueError(f"min_reply_tokens must be >= 0, got {min_reply_tokens}.")
        self._delay_s = token_delay_ms / 1000.0
        self._min_reply_tokens = min_reply_tokens
        self._model_name = model_name
        self._model = _model()

    @property
    def model_name(self) -> str:
        """Name recorded on every response this sampler produces."""
        return self._model_name

    def resolve_params(self, requested: RequestedParams) -> ResolvedParams:
        """Fills defaults (a fresh random seed when none is given) and validates ranges.

        The resolved values are stored with each response, so a reply can be reproduced
        exactly by sending them back.
        """
        temperature = check_number(
            "temperature", requested.temperature, DEFAULT_TEMPERATURE, 0.0, MAX_TEMPERATURE
        )
        top_p = check_number("top_p", requested.top_p, DEFAULT_TOP_P, 0.0, 1.0)
        if top_p <= 0.0:
            raise InvalidParamsError(f"top_p must be greater than 0 and at most 1, got {top_p}.")
        max_tokens = check_integer(
            "max_tokens", requested.max_tokens, DEFAULT_MAX_TOKENS, 1, MAX_TOKENS_LIMIT
        )
        seed = requested.seed if requested.seed is not None else secrets.randbits(63)
        seed = check_integer("seed", seed, 0, 0, MAX_SEED)
        return ResolvedParams(
            temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed
        )

    def describe(self) -> ModelDescription:
        """The offline model's entry in ListModels."""
        return ModelDescription(
            name=self._model_name,
            backend="offline",
            upstream_model="n-gram demo model (built in)",
            description="Built-in offline demo model: no network, no weights, reproducible.",
            default_temperature=DEFAULT_TEMPERATURE,
            default_top_p=DEFAULT_TOP_P,
            default_max_tokens=DEFAULT_MAX_TOKENS,
            supports_logprobs=True,
        )

    @property
    def supports_prefix(self) -> bool:
        """True: the n-gram history simply continues after a given prefix."""
        return True

    async def generate_title(self, path: Sequence[PathMessage]) -> str | None:
        """None: an n-gram model writes no useful titles; the server's heuristic does."""
        return None

    async def aclose(self) -> None:
        """Nothing to release: the model lives in memory."""

    def count_tokens(self, path: Sequence[PathMessage]) -> int:
        """Counts words and punctuation marks of the path, a stand-in for prompt tokens."""
        return sum(len(_COUNT_TOKEN_RE.findall(msg.text)) for msg in path)

    async def sample(
        self,
        path: Sequence[PathMessage],
        params: ResolvedParams,
        *,
        top_logprobs: int = 5,
        system_prompt_name: str = "",
        system_prompt: str | None = None,
        prefix: str = "",
    ) -> AsyncGenerator[SampledToken, None]:
        """Streams the reply word by word; at most `params.max_tokens` tokens.

        The prompt's text means nothing to an n-gram model; the name "fun" raises the
        temperature a little and favours exclamation marks (the seed's fun mode). With a
        `prefix` the reply continues after it (the prefix itself is not yielded).
        """
        run = _Run(
            self._model,
            path,
            params,
            top_logprobs,
            fun=system_prompt_name == "fun",
            min_reply_tokens=self._min_reply_tokens,
        )
        if prefix:
            run.feed(prefix)
        delay = self._delay_s
        pacer = Pacer(delay, asyncio.get_running_loop().time)
        for i in range(params.max_tokens):
            if i:
                if delay > 0:
                    await asyncio.sleep(pacer.next_wait())
                elif i % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            token = run.next_token()
            if token is None:
                return
            yield token


class Pacer:
    """A fixed schedule of one token per `delay` seconds, measured on `clock`.

    Sleeping `delay` after each token's work would run slower than the pace by the work's
    time (a busy server streamed 40 tokens/s at a 20 ms delay). A stream that fell behind
    by more than a token resumes from now instead of bursting to catch up.
    """

    def __init__(self, delay: float, clock: Callable[[], float]) -> None:
        self._delay = delay
        self._clock = clock
        self._due = clock()

    def next_wait(self) -> float:
        """Seconds to wait before the next token."""
        now = self._clock()
        self._due = max(self._due + self._delay, now)
        return self._due - now
