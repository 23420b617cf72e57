"""Decoding one offline reply: the sampling tables (temperature, top-p) and the run's state.

Tables are shared between requests with the same path and parameters, so resampling a
path mostly costs a dict lookup and a bisect per token.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate
from operator import itemgetter, mul

from grove_explorer.server.sampler.base import PathMessage, ResolvedParams, SampledToken
from grove_explorer.server.sampler.offline.corpus import (
    NO_SPACE_BEFORE,
    PARAGRAPH_BREAK,
    tokenize_paragraph,
)
from grove_explorer.server.sampler.offline.memo import path_key
from grove_explorer.server.sampler.offline.ngram import MAX_CANDIDATES, NgramModel
from grove_explorer.server.sampler.offline.topic import Conditioning, conditioning

MAX_TEMPERATURE = 2.0
# Topic words added to a capped context's candidates (the likeliest after that word).
_MAX_TOPIC_EXTRAS = 12
# The end-of-paragraph event ends the reply only once it has this many tokens; before that it
# becomes a paragraph break and the reply goes on, so replies are not one-liners. The default
# of `OfflineSampler(min_reply_tokens=...)` (benchmarks raise it to get long replies).
DEFAULT_MIN_REPLY_TOKENS = 48
# Sampling tables shared between requests with the same path and parameters (resamples);
# all are dropped when this many exist, which bounds memory to a few tens of megabytes.
_TABLE_LIMIT = 16_000


class Table:
    """The distribution actually sampled from at one step, ready for a cheap draw.

    Only the tokens that can be drawn (after temperature and top-p) are kept: `ids`, their
    (unnormalised, descending) `weights` and the running sums `cum` for the draw, with
    `log_z` the log of the total, so a logprob costs one log and only for the token drawn.
    `top` is computed with the same arithmetic, so the two always agree. Tables are shared
    between requests, so they are kept this small on purpose. A table is built for each
    new context while replies stream, and every object it keeps fills the garbage
    collector's young generation, whose passes stop every stream of the server at once:
    its numbers are tuples (which the collector stops tracking at its first pass), and
    its key is one int (`NgramModel.context_key`).
    """

    __slots__ = ("cum", "ids", "log_z", "ranked", "top", "weights")

    def __init__(
        self,
        ids: Sequence[int],
        weights: Sequence[float],
        cum: Sequence[float],
        log_z: float,
        top: tuple[tuple[str, float], ...],
    ) -> None:
        self.ids = ids
        self.weights = weights
        self.cum = cum
        self.log_z = log_z
        self.top = top
        # The ranking before temperature, kept once a draw had to exclude tokens (see
        # `Run._excluding`); a pure function of the same things as the table.
        self.ranked: Ranked | None = None

    def logprob(self, j: int) -> float:
        """Natural log of the probability of the j-th kept token."""
        return math.log(self.weights[j]) - self.log_z


Ranked = tuple[Sequence[int], Sequence[float]]
"""Candidate ids and their weights before temperature, by descending weight."""

TableKey = tuple[Conditioning, float, float, int, bool]
"""What a set of shared tables depends on: conditioning, temperature, top_p, top-k, fun."""


class TableStore:
    """Sampling tables shared by requests with the same conditioning and parameters.

    A table is a pure function of (conditioning, temperature, top_p, top_logprobs, fun,
    context), so resamples of one path can reuse each other's work; that turns most steps
    into a dict lookup and a bisect. Everything is dropped at once when the store is full:
    cheaper and simpler than LRU bookkeeping, and a refill costs only a few milliseconds.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._sets: dict[TableKey, dict[int, Table]] = {}
        self._count = 0

    def tables_for(self, key: TableKey) -> dict[int, Table]:
        """The (shared, growing) table dict for one conditioning and parameter set."""
        found = self._sets.get(key)
        if found is None:
            found = self._sets[key] = {}
        return found

    def add(self, tables: dict[int, Table], ctx: int, table: Table) -> None:
        """Stores a table, first dropping every shared table if the store is full."""
        if self._count >= self._limit:
            self._sets.clear()
            self._count = 0
        tables[ctx] = table
        self._count += 1


TABLES = TableStore(_TABLE_LIMIT)
# Tables are keyed by `NgramModel.context_key(w1, w2)`, a value rather than a tuple; a
# run's opening table under this key, which no real context has.
_OPENING_KEY = -1
# The top list of a step that can draw one token only ((text, 0.0),), one per text for the
# process: such steps are common (top-p over a peaked n-gram), and each new table would
# otherwise keep two more tuples for the collector to scan.
_CERTAIN: dict[str, tuple[tuple[str, float], ...]] = {}


class Run:
    """State of one sample() call: parameters, conditioning, memo tables and history."""

    def __init__(
        self,
        model: NgramModel,
        path: Sequence[PathMessage],
        params: ResolvedParams,
        top_logprobs: int,
        fun: bool,
        min_reply_tokens: int = DEFAULT_MIN_REPLY_TOKENS,
    ) -> None:
        self.m = model
        self.min_reply_tokens = min_reply_tokens
        self.rng = random.Random(params.seed)
        self.random = self.rng.random
        self.temperature = params.temperature
        if fun and self.temperature > 0:
            # A little more adventurous, and exclamation-prone (see _build).
            self.temperature = min(MAX_TEMPERATURE, self.temperature * 1.25)
        # 1 / temperature, as `_table` used to compute it for every table (0 when greedy).
        self.inv_t = 1.0 / self.temperature if self.temperature else 0.0
        self.top_p = params.top_p
        self.k = max(0, top_logprobs)
        self.fun = fun
        # PathMessages are (sender, text) pairs: a tuple or SharedPath is its own key.
        self.cond = conditioning(path_key(path))
        self.boost = self.cond.boost
        self.tables = TABLES.tables_for((self.cond, self.temperature, self.top_p, self.k, self.fun))
        # What each history (h0, h1, h2, as one number: see `next_token`) has already been
        # followed by: the one token, or a set once there are more. Numbers, not tuples and
        # sets: a reply keeps one entry a token, and objects kept per token fill the
        # collector's young generation (each of its passes stops the server's streams).
        self.banned: dict[int, int | set[int]] = {}
        self._vocabulary = model.vocabulary_size
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
    ) -> Table:
        """Applies the topic boost (and "fun" exclamations), temperature and top-p.

        `exclude` removes tokens before anything else (4-gram repeats, used openings), so the
        table is exactly the distribution over what may still be drawn.
        """
        ranked = self._ranked(ids, probs)
        if exclude:
            ranked = _without(ranked, exclude)
        return self._table(*ranked, texts)

    def _ranked(self, ids: Sequence[int], probs: Sequence[float]) -> Ranked:
        """Candidates with the topic boost (and "fun" exclamations), by descending weight.

        The order is that of a stable sort, so leaving tokens out of this ranking gives
        exactly the ranking of the candidates without them (see `_without`).
        """
        weights: Sequence[float] = list(map(mul, probs, map(self.boost.__getitem__, ids)))
        if self.fun:
            ids, weights = self._exclaim(list(ids), list(weights))
        if len(ids) > 1:
            pick = itemgetter(*sorted(range(len(ids)), key=weights.__getitem__, reverse=True))
            ids, weights = pick(ids), pick(weights)
        return ids, weights

    def _table(self, ids: Sequence[int], weights: Sequence[float], texts: list[str]) -> Table:
        """Temperature and top-p over a ranking: the table a draw uses."""
        k = self.k
        if self.temperature == 0.0:
            # Greedy: the argmax, reported with the untempered distribution's logprobs.
            log_total = math.log(sum(weights))
            first = tuple(weights[:1])  # also its running sum: one object less a table
            return Table(
                tuple(ids[:1]), first, first, log_total, _top(ids, weights, k, log_total, texts)
            )
        inv_t = self.inv_t
        if inv_t != 1.0:
            peak = weights[0]
            weights = [(w / peak) ** inv_t for w in weights]
        cum = list(accumulate(weights))
        # Smallest prefix holding top_p of the mass (zero-weight underflow never included).
        n = min(bisect_left(cum, self.top_p * cum[-1]) + 1, len(cum))
        log_z = math.log(cum[n - 1])
        # Same arithmetic as Table.logprob, so a chosen token's logprob matches its entry.
        # Tokens outside the nucleus have probability 0 and are not reported.
        top = _top(ids, weights, min(k, n), log_z, texts)
        kept = tuple(weights[:n])
        # One token only: its running sum is its weight, the same tuple (one object less).
        return Table(tuple(ids[:n]), kept, kept if n == 1 else tuple(cum[:n]), log_z, top)

    def _exclaim(self, ids: list[int], weights: list[float]) -> tuple[list[int], list[float]]:
        """The "fun" mode's exclamations: a quarter of a full stop's weight goes to "!"."""
        dot, bang = self.m.dot, self.m.bang
        if dot in ids:
            at = ids.index(dot)
            moved = weights[at] * 0.25
            weights[at] -= moved
            if bang in ids:
                weights[ids.index(bang)] += moved
            else:
                ids.append(bang)
                weights.append(moved)
        return ids, weights

    def _context_inputs(self, key: int) -> tuple[Sequence[int], Sequence[float]]:
        """Candidate ids and n-gram probabilities for a context at its key, topic extras too."""
        m = self.m
        w1, w2 = m.context_of(key)
        cands = m.candidates(w1, w2)
        ids: Sequence[int] = cands.ids
        probs: Sequence[float] = cands.probs
        if cands.truncated and self.cond.topic_ids:
            # Topic words seen after w2 but outside the capped list still get their chance.
            extras = self.cond.extras.get(w2)
            if extras is None:
                extras = self.cond.extras[w2] = self._topic_followers(w2)
            missing = [i for i in extras if i not in cands.ids]
            if missing:
                ids = list(ids) + missing
                probs = list(probs) + [m.prob(w1, w2, i) for i in missing]
        return ids, probs

    def _context_table(self, key: int) -> Table:
        """The (shared, memoised) table for a context (w1, w2), at its `context_key`."""
        table = self._build(*self._context_inputs(key), self.m.spaced)
        TABLES.add(self.tables, key, table)
        return table

    def _excluding(self, table: Table, exclude: set[int], key: int) -> Table:
        """A context's (or, at `_OPENING_KEY`, an opening's) table without `exclude`.

        The ranking before temperature is kept on the shared table the first time, so a
        later exclusion in that context (by any request with the same conditioning and
        parameters) only redoes temperature and top-p.
        """
        ranked = table.ranked
        if ranked is None:
            inputs = self._opening_inputs() if key == _OPENING_KEY else self._context_inputs(key)
            ranked = table.ranked = self._ranked(*inputs)
        texts = self.m.bare if key == _OPENING_KEY else self.m.spaced
        return self._table(*_without(ranked, exclude), texts)

    def _topic_followers(self, w2: int) -> list[int]:
        """The topic words most likely after w2 (bigram count times boost), best first."""
        follows = self.m.bigram[w2]
        boost = self.boost
        # Ties are broken by id, so the order of this candidate list does not matter.
        found = [(follows[i] * boost[i], i) for i in self.cond.topic_set.intersection(follows)]
        # What heapq.nlargest returns (the pairs are distinct), by one sort in C.
        return [i for _, i in sorted(found, reverse=True)[:_MAX_TOPIC_EXTRAS]]

    def _opening_inputs(self) -> tuple[Sequence[int], Sequence[float]]:
        """Candidate ids and weights for the first word of a paragraph of the reply."""
        cond = self.cond
        found = cond.opening_inputs
        if found is None:
            # What heapq.nlargest returns (ties in the order met), by one sort in C.
            ranked = sorted(cond.openings.items(), key=itemgetter(1), reverse=True)
            items = ranked[:MAX_CANDIDATES]
            found = cond.opening_inputs = (
                tuple(i for i, _ in items),
                tuple(p for _, p in items),
            )
        return found

    def _opening(self) -> Table:
        """The (shared, memoised) table for the first word of a paragraph."""
        table = self._build(*self._opening_inputs(), self.m.bare)
        TABLES.add(self.tables, _OPENING_KEY, table)
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
            for word in tokenize_paragraph(paragraph):
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

    def continue_document(self, document: str) -> None:
        """Moves the history past a document this reply continues (completion mode).

        Unlike a prefix, the document is not this reply's own text: the reply still writes
        its own minimum of tokens after it.
        """
        self.feed(document)
        self.emitted = 0

    def next_token(self) -> SampledToken | None:
        """Draws the next token, or None at the end of the reply.

        The common step is two dict lookups, a draw and a bisect: tables are shared, and
        the histories' bans are only consulted when one of them could be drawn.
        """
        m = self.m
        h0, h1, h2 = self.h0, self.h1, self.h2
        if h2 == m.dot and h1 == m.bos:
            table = self.tables.get(_OPENING_KEY) or self._opening()
            used = self.used_openings
            if used and not used.isdisjoint(table.ids):
                # A later paragraph should not start like an earlier one.
                table = self._excluding(table, used, _OPENING_KEY)
            token, j = self._draw(table)
            if token == m.end:
                return self._paragraph_end(table, j)
            self.used_openings.add(token)
            text = m.bare[token]
        else:
            size = self._vocabulary
            key = h1 * size + h2  # NgramModel.context_key, inline: this runs every token
            table = self.tables.get(key) or self._context_table(key)
            history = key + h0 * size * size
            banned = self.banned.get(history)
            if banned is not None:
                if isinstance(banned, int):
                    if banned in table.ids:
                        table = self._excluding(table, {banned}, key)
                elif not banned.isdisjoint(table.ids):
                    table = self._excluding(table, banned, key)
            token, j = self._draw(table)
            if token == m.end:
                return self._paragraph_end(table, j)
            if banned is None:
                self.banned[history] = token
            elif isinstance(banned, int):
                self.banned[history] = {banned, token}
            else:
                banned.add(token)
            text = m.spaced[token]
        self.h0, self.h1, self.h2 = h1, h2, token
        return self._emit(text, table, j)

    def _draw(self, table: Table) -> tuple[int, int]:
        """A token drawn from a table, and its index there."""
        cum = table.cum
        n = len(cum)
        j = 0 if n == 1 else min(bisect_right(cum, self.random() * cum[-1]), n - 1)
        return table.ids[j], j

    def _paragraph_end(self, table: Table, j: int) -> SampledToken | None:
        """The end-of-paragraph event: the reply's end, or a paragraph break before that."""
        if self.emitted >= self.min_reply_tokens:
            return None
        m = self.m
        self.h0, self.h1, self.h2 = m.bos, m.bos, m.dot
        return self._emit(PARAGRAPH_BREAK, table, j)

    def _emit(self, text: str, table: Table, j: int) -> SampledToken:
        """The token as sent: text, logprob (`Table.logprob`'s arithmetic) and top list."""
        self.emitted += 1
        logprob = math.log(table.weights[j]) - table.log_z
        if self.attach is not None:
            attach, self.attach = self.attach, None
            top = tuple((_attached(alt, attach), lp) for alt, lp in table.top)
            return SampledToken(_attached(text, attach), logprob, top)
        return SampledToken(text, logprob, table.top)


def _top(
    ids: Sequence[int], weights: Sequence[float], k: int, log_z: float, texts: list[str]
) -> tuple[tuple[str, float], ...]:
    """The k first (likeliest) tokens' texts and logprobs, as `Table.logprob` computes them."""
    log = math.log
    top = tuple([(texts[ids[j]], log(weights[j]) - log_z) for j in range(min(k, len(ids)))])
    if len(top) == 1:
        text, logprob = top[0]
        if logprob == 0.0 and math.copysign(1.0, logprob) == 1.0:  # +0.0 exactly
            return _CERTAIN.setdefault(text, top)
    return top


def _without(ranked: Ranked, exclude: set[int] | frozenset[int]) -> Ranked:
    """A ranking without the excluded tokens (with all of them if none would be left).

    Filtering a stable sort's output gives the stable sort of the filtered input, so this
    is the ranking `_ranked` would make of the candidates without those tokens.
    """
    ids, weights = ranked
    kept = [j for j, i in enumerate(ids) if i not in exclude]
    if not kept:  # Excluding everything would leave nothing to say; ignore the ban.
        return ranked
    return [ids[j] for j in kept], [weights[j] for j in kept]


def _attached(text: str, attach: str) -> str:
    """A token's text joined to a given prefix: `attach` before a word, punctuation as is."""
    if text.startswith("\n") or text in NO_SPACE_BEFORE:
        return text
    return attach + text.lstrip(" ")
