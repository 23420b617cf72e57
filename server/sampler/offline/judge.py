"""The offline demo model's heuristic judge: transparent figures, not a model's opinion.

THIS IS A DEMO. The n-gram model cannot read a rubric, so asked for a verdict it would
write prose. Instead it scores a reply by two figures anyone can check, so that the judge
loop (score, store, sort, export, pairs) works with no network and no weights:

- coverage: the content words (stems, stopwords dropped) of the rubric and of the prompt
  that the reply contains, e.g. "covers 4/7 rubric and prompt words";
- fluency: the mean log-probability of the reply's tokens under the offline model itself
  (a word it never saw counts as probability 1e-5), mapped linearly from -8 (0) to -2 (1).

score = 10 * (0.6 * coverage + 0.4 * fluency), rounded to one decimal; the rationale
states both figures. Deterministic: the same rubric, prompt and reply give the same score.
"""

from __future__ import annotations

import math

from grove_explorer.server.sampler.offline.corpus import (
    content_stems,
    tokenize_paragraph,
    unique_sorted,
)
from grove_explorer.server.sampler.offline.ngram import NgramModel

_UNKNOWN_PROB = 1e-5
_FLUENT_LOGPROB = -2.0
_GARBLED_LOGPROB = -8.0
_COVERAGE_WEIGHT = 0.6
_SHOWN_WORDS = 5


def mean_logprob(model: NgramModel, text: str) -> float | None:
    """The mean natural-log probability of `text`'s tokens under the model; None if empty.

    Each token is scored in the context of the two before it, a paragraph starting as in
    training (after a sentence end).
    """
    tokens = [token for line in text.split("\n\n") for token in tokenize_paragraph(line)]
    if not tokens:
        return None
    w1, w2 = model.bos, model.dot
    total = 0.0
    for token in tokens:
        w = model.index.get(token)
        if w is None:
            total += math.log(_UNKNOWN_PROB)
            w1, w2 = w2, model.dot
            continue
        total += math.log(max(model.prob(w1, w2, w), _UNKNOWN_PROB))
        w1, w2 = w2, w
    return total / len(tokens)


def heuristic_judgement(
    model: NgramModel, rubric: str, prompt: str, reply: str
) -> tuple[float, str]:
    """The demo score (0-10) of `reply` and a rationale stating how it was reached."""
    wanted = unique_sorted(content_stems(rubric) + content_stems(prompt))
    present = set(content_stems(reply))
    found = [stem for stem in wanted if stem in present]
    coverage = len(found) / len(wanted) if wanted else 0.0
    logprob = mean_logprob(model, reply)
    if logprob is None:
        fluency = 0.0
        fluency_text = "no words to score"
    else:
        fluency = (logprob - _GARBLED_LOGPROB) / (_FLUENT_LOGPROB - _GARBLED_LOGPROB)
        fluency = min(1.0, max(0.0, fluency))
        fluency_text = f"mean logprob {logprob:.1f} (fluency {fluency:.2f})"
    score = round(10 * (_COVERAGE_WEIGHT * coverage + (1 - _COVERAGE_WEIGHT) * fluency), 1)
    shown = ", ".join(found[:_SHOWN_WORDS]) + (", …" if len(found) > _SHOWN_WORDS else "")
    words = f" ({shown})" if found else ""
    rationale = (
        f"Heuristic demo: covers {len(found)}/{len(wanted)} rubric and prompt words{words}; "
        f"{fluency_text} under the offline model. Score = 10 * (0.6 * coverage + 0.4 * "
        "fluency)."
    )
    return score, rationale
