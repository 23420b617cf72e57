"""Arena leaderboards without network: ratings per setup, 95 % intervals, vote counts.

Bradley-Terry (default) or Elo.

Outcomes: a win counts 1, a tie ½ to each side, and "both bad" counts as a tie for the
ratings (neither setup did better) but is reported in its own column. Setups are grouped
by `Setup.key`.

Bradley-Terry is fitted by the MM iterations of Hunter (2004): p_i ← W_i / Σ_j n_ij /
(p_i + p_j). A setup that won every comparison has no finite maximum-likelihood strength,
so every pair that met also gets one virtual tie (½ win each way): a weak prior that keeps
ratings finite and pulls small samples toward each other. Both methods report on the Elo
scale (1000 + 400·log10 strength for Bradley-Terry), so their numbers read alike.

Confidence intervals are a percentile bootstrap: `BOOTSTRAP_ROUNDS` resamples of the
votes (with replacement, a fixed seed, so the same votes always give the same interval),
each fitted again; the interval is the 2.5th-97.5th percentile of a setup's ratings over
the resamples in which it appears.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from grove_explorer.client.arena import Setup, Vote

Method = Literal["bt", "elo"]

BOOTSTRAP_ROUNDS = 200
"""Resamples behind each confidence interval."""
BOOTSTRAP_SEED = 20240601
"""The bootstrap's fixed seed: a leaderboard is a function of its votes."""
BASE_RATING = 1000.0
ELO_K = 32.0
"""Elo's step per vote (votes taken oldest first)."""
MM_ITERATIONS = 500
MM_TOLERANCE = 1e-9

Pair = tuple[str, str, float]
"""(setup key of A, setup key of B, A's score: 1 win, 0.5 tie or both bad, 0 loss)."""


@dataclass(frozen=True, slots=True)
class Standing:
    """One setup's row of the leaderboard."""

    rank: int
    key: str
    setup: Setup
    rating: float
    ci_low: float
    ci_high: float
    votes: int
    wins: int
    ties: int
    losses: int
    both_bad: int


@dataclass(frozen=True, slots=True)
class Leaderboard:
    """The standings, best first, and how they were computed."""

    method: Method
    standings: tuple[Standing, ...]
    votes: int
    bootstrap_rounds: int


def pairs_of(votes: Sequence[Vote]) -> list[Pair]:
    """The scored comparisons of the votes, in order."""
    score = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}
    return [(v.setup_a.key, v.setup_b.key, score[v.outcome]) for v in votes]


def bradley_terry(pairs: Sequence[Pair]) -> dict[str, float]:
    """Bradley-Terry ratings (Elo scale) by MM iterations, with one virtual tie per pair."""
    keys = sorted({k for a, b, _ in pairs for k in (a, b)})
    wins: dict[str, float] = dict.fromkeys(keys, 0.0)
    games: dict[tuple[str, str], float] = {}
    for a, b, score in pairs:
        if a == b:
            continue
        wins[a] += score
        wins[b] += 1.0 - score
        games[(a, b)] = games.get((a, b), 0.0) + 1.0
        games[(b, a)] = games.get((b, a), 0.0) + 1.0
    met = {pair for pair in games}
    for a, b in met:  # the virtual tie: ½ a win each way, once per unordered pair
        if a < b:
            wins[a] += 0.5
            wins[b] += 0.5
            games[(a, b)] += 1.0
            games[(b, a)] += 1.0
    opponents: dict[str, list[tuple[str, float]]] = {k: [] for k in keys}
    for (a, b), n in games.items():
        opponents[a].append((b, n))
    strength = dict.fromkeys(keys, 1.0)
    for _ in range(MM_ITERATIONS):
        new: dict[str, float] = {}
        for key in keys:
            denominator = sum(n / (strength[key] + strength[o]) for o, n in opponents[key])
            new[key] = wins[key] / denominator if denominator else strength[key]
        # Geometric mean 1: the scale is free, so fix it.
        logs = [math.log(v) for v in new.values() if v > 0]
        shift = math.exp(sum(logs) / len(logs)) if logs else 1.0
        new = {k: v / shift for k, v in new.items()}
        change = max((abs(new[k] - strength[k]) for k in keys), default=0.0)
        strength = new
        if change < MM_TOLERANCE:
            break
    return {k: BASE_RATING + 400.0 * math.log10(max(v, 1e-12)) for k, v in strength.items()}


def elo(pairs: Sequence[Pair]) -> dict[str, float]:
    """Elo ratings: every setup starts at 1000, each vote moves both by K·(score - expected)."""
    ratings: dict[str, float] = {}
    for a, b, score in pairs:
        ra = ratings.setdefault(a, BASE_RATING)
        rb = ratings.setdefault(b, BASE_RATING)
        if a == b:
            continue
        expected = 1.0 / (1.0 + 10.0 ** ((rb - ra) / 400.0))
        ratings[a] = ra + ELO_K * (score - expected)
        ratings[b] = rb - ELO_K * (score - expected)
    return ratings


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The linear-interpolated percentile of sorted values."""
    if not sorted_values:
        return math.nan
    position = fraction * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def leaderboard(
    votes: Sequence[Vote],
    method: Method = "bt",
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = BOOTSTRAP_SEED,
) -> Leaderboard:
    """Every setup's rating, 95 % interval and counts, best first (ties by key)."""
    fit = bradley_terry if method == "bt" else elo
    pairs = pairs_of(votes)
    ratings = fit(pairs)
    samples: dict[str, list[float]] = {k: [] for k in ratings}
    rng = random.Random(seed)
    for _ in range(rounds if pairs else 0):
        resample = [pairs[rng.randrange(len(pairs))] for _ in pairs]
        for key, value in fit(resample).items():
            samples[key].append(value)
    counts: dict[str, list[int]] = {k: [0, 0, 0, 0, 0] for k in ratings}  # v, w, t, l, bb
    setups: dict[str, Setup] = {}
    for vote in votes:
        for side, setup in (("a", vote.setup_a), ("b", vote.setup_b)):
            key = setup.key
            setups.setdefault(key, setup)
            row = counts[key]
            row[0] += 1
            if vote.outcome == "both_bad":
                row[4] += 1
            elif vote.outcome == "tie":
                row[2] += 1
            elif vote.outcome == side:
                row[1] += 1
            else:
                row[3] += 1
    order = sorted(ratings, key=lambda k: (-ratings[k], k))
    standings = []
    for rank, key in enumerate(order, start=1):
        spread = sorted(samples[key])
        v, w, t, lost, bb = counts[key]
        standings.append(
            Standing(
                rank=rank,
                key=key,
                setup=setups[key],
                rating=ratings[key],
                ci_low=_percentile(spread, 0.025),
                ci_high=_percentile(spread, 0.975),
                votes=v,
                wins=w,
                ties=t,
                losses=lost,
                both_bad=bb,
            )
        )
    return Leaderboard(
        method=method, standings=tuple(standings), votes=len(votes), bootstrap_rounds=rounds
    )
