"""From a model's logits to the distribution a token is drawn from, and the draw itself.

Temperature first, then top-p (the order Hugging Face's samplers use): the kept tokens'
probabilities are renormalised, so a reported logprob is of the distribution actually
sampled from and the logprobs of the kept tokens sum to one. At temperature 0 the choice is
greedy and the reported logprobs are the model's own (temperature 1): a certainty of 0.0
for every token would say nothing.

The draw uses a NumPy generator seeded by the request's seed, so a seed and a path give the
same reply (as long as llama.cpp computes the same logits, which it does on one machine).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# The nucleus is looked for among this many most likely tokens first (a partial sort);
# only when they hold less than top_p of the mass is the whole vocabulary sorted.
_NUCLEUS_CANDIDATES = 1024


@dataclass(frozen=True, slots=True)
class Choice:
    """The token drawn, its logprob, and the most likely tokens (id, logprob), best first."""

    token: int
    logprob: float
    top: tuple[tuple[int, float], ...]


def choose(
    logits: npt.NDArray[np.floating],
    temperature: float,
    top_p: float,
    rng: np.random.Generator,
    top_k: int,
) -> Choice:
    """Draws the next token from `logits` (one row, the vocabulary's size)."""
    scores = logits.astype(np.float64, copy=False)
    if temperature == 0.0:
        logprobs = _log_softmax(scores)
        token = int(np.argmax(logprobs))
        return Choice(token, float(logprobs[token]), _top(logprobs, top_k))
    logprobs = _log_softmax(scores / temperature)
    if top_p < 1.0:
        logprobs = _nucleus(logprobs, top_p)
    probabilities = np.exp(logprobs)
    cumulative = np.cumsum(probabilities)
    drawn = rng.random() * cumulative[-1]
    token = int(np.searchsorted(cumulative, drawn, side="right"))
    token = min(token, len(cumulative) - 1)
    while not np.isfinite(logprobs[token]):  # float edge: never pick an excluded token
        token -= 1
    return Choice(token, float(logprobs[token]), _top(logprobs, top_k))


def _log_softmax(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = scores - scores.max()
    result: npt.NDArray[np.float64] = shifted - np.log(np.exp(shifted).sum())
    # A near-certain token can come out a rounding error above 0; a logprob never is.
    return np.minimum(result, 0.0)


def _nucleus(logprobs: npt.NDArray[np.float64], top_p: float) -> npt.NDArray[np.float64]:
    """The smallest set of most likely tokens holding `top_p` of the mass, renormalised."""
    count = min(_NUCLEUS_CANDIDATES, len(logprobs))
    candidates = np.argpartition(-logprobs, count - 1)[:count]
    order = candidates[np.argsort(-logprobs[candidates], kind="stable")]
    cumulative = np.cumsum(np.exp(logprobs[order]))
    if cumulative[-1] < top_p and count < len(logprobs):
        order = np.argsort(-logprobs, kind="stable")
        cumulative = np.cumsum(np.exp(logprobs[order]))
    kept = order[: int(np.searchsorted(cumulative, top_p, side="left")) + 1]
    result = np.full_like(logprobs, -np.inf)
    mass = np.log(np.exp(logprobs[kept]).sum())
    result[kept] = np.minimum(logprobs[kept] - mass, 0.0)
    return result


def _top(logprobs: npt.NDArray[np.float64], k: int) -> tuple[tuple[int, float], ...]:
    """The k most likely tokens that could have been drawn, best first."""
    if k <= 0:
        return ()
    k = min(k, len(logprobs))
    best = np.argpartition(-logprobs, k - 1)[:k]
    best = best[np.argsort(-logprobs[best], kind="stable")]
    return tuple((int(i), float(logprobs[i])) for i in best if np.isfinite(logprobs[i]))
