"""The spread report of one batch: every statistic, computed once, and its JSON form.

`spread_report` is the one entry point. Similarity is measured by embeddings' cosine when
vectors are given (one per sample, from the backend's embeddings model), else by ROUGE-L
F1 over words; the report says which (`measure`). Token-overlap Jaccard and ROUGE-L are
always computed too, since they cost little and read differently. The chosen measure
drives the medoid, the clusters and the seriation order, so those agree with each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from grove_explorer.client.spread.answers import AnswerTally, tally_answers
from grove_explorer.client.spread.disagreement import Disagreement, disagreement
from grove_explorer.client.spread.distributions import Distribution, distribution
from grove_explorer.client.spread.grouping import centrality, clusters, medoid, seriation
from grove_explorer.client.spread.samples import SpreadSample
from grove_explorer.client.spread.similarity import (
    Matrix,
    cosine_matrix,
    jaccard_matrix,
    off_diagonal,
    rouge_l_matrix,
)
from grove_explorer.client.spread.words import Vocabulary, normal_word, normal_words, words

Measure = Literal["rouge-l", "embedding-cosine"]

NEAR_DUPLICATE = {"rouge-l": 0.8, "embedding-cosine": 0.95}
"""Default cluster thresholds: ROUGE-L F1 ≥ 0.8 is a reworded copy; embedding cosines
run high for any two answers on one topic, so only ≥ 0.95 counts as the same answer."""
CLUSTER_MARKS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class PairSummary:
    """The mean, lowest and highest pair of a similarity matrix (pairs as index pairs)."""

    mean: float
    minimum: float
    maximum: float
    least: tuple[int, int]
    most: tuple[int, int]


@dataclass(frozen=True, slots=True)
class SpreadReport:
    """Every statistic of a batch. Indexes refer to the samples in the order given."""

    labels: tuple[str, ...]
    models: tuple[str, ...]
    measure: Measure
    embeddings_model: str
    note: str
    matrix: Matrix
    jaccard: Matrix
    rouge_l: Matrix
    centrality: tuple[float, ...]
    medoid: int
    threshold: float
    clusters: tuple[tuple[int, ...], ...]
    order: tuple[int, ...]
    answers: AnswerTally
    disagreement: Disagreement | None
    distributions: tuple[Distribution, ...]

    @property
    def count(self) -> int:
        """How many samples the batch has."""
        return len(self.labels)

    @property
    def measure_label(self) -> str:
        """The measure in words, e.g. "ROUGE-L F1 (word overlap in order)"."""
        if self.measure == "embedding-cosine":
            return f"cosine of embeddings ({self.embeddings_model})"
        return "ROUGE-L F1 of words (token overlap; no embeddings)"

    @property
    def summary(self) -> PairSummary:
        """The chosen measure's mean, lowest and highest pair."""
        return _pair_summary(self.matrix)

    @property
    def jaccard_mean(self) -> float:
        """The mean token-overlap Jaccard over all pairs."""
        values = off_diagonal(self.jaccard)
        return sum(values) / len(values) if values else 1.0

    @property
    def rouge_l_mean(self) -> float:
        """The mean ROUGE-L F1 over all pairs."""
        values = off_diagonal(self.rouge_l)
        return sum(values) / len(values) if values else 1.0

    def cluster_of(self, index: int) -> int:
        """The number of the cluster sample `index` is in (-1 when it is alone)."""
        multi = [c for c in self.clusters if len(c) > 1]
        return next((k for k, c in enumerate(multi) if index in c), -1)

    @staticmethod
    def cluster_mark(number: int) -> str:
        """The letter a cluster is shown by ("" for none)."""
        return CLUSTER_MARKS[number % len(CLUSTER_MARKS)] if number >= 0 else ""

    def to_json(self) -> dict[str, Any]:
        """Every figure as plain JSON-ready data (what `grove stats --json` prints)."""
        data = asdict(self)
        data["count"] = self.count
        data["measure_label"] = self.measure_label
        data["summary"] = asdict(self.summary) if self.count > 1 else None
        data["jaccard_mean"] = self.jaccard_mean
        data["rouge_l_mean"] = self.rouge_l_mean
        data["answers"]["share"] = self.answers.share
        data["answers"]["tied"] = self.answers.tied
        data["answers"]["counts"] = [{"answer": a, "count": c} for a, c in self.answers.counts]
        if self.disagreement is not None:
            d = self.disagreement
            data["disagreement"]["mean_share"] = d.mean_share
            data["disagreement"]["agreed_words"] = d.agreed_words
            data["disagreement"]["inserted_after"] = {
                str(k): v for k, v in d.inserted_after.items()
            }
        data["distributions"] = [
            {
                **asdict(dist),
                "min": dist.minimum,
                "median": dist.median,
                "mean": dist.mean,
                "max": dist.maximum,
                "missing": dist.missing,
            }
            for dist in self.distributions
        ]
        return data


def _pair_summary(matrix: Matrix) -> PairSummary:
    n = len(matrix)
    pairs = [(matrix[i][j], (i, j)) for i in range(n) for j in range(i + 1, n)]
    if not pairs:
        return PairSummary(1.0, 1.0, 1.0, (0, 0), (0, 0))
    least = min(pairs, key=lambda p: p[0])
    most = max(pairs, key=lambda p: p[0])
    mean = sum(p[0] for p in pairs) / len(pairs)
    return PairSummary(mean, least[0], most[0], least[1], most[1])


def spread_report(
    samples: Sequence[SpreadSample],
    embeddings: Sequence[Sequence[float]] | None = None,
    *,
    embeddings_model: str = "",
    threshold: float | None = None,
    note: str = "",
) -> SpreadReport:
    """Computes every statistic of `samples` (see the module docstring for the measure).

    `embeddings`, when given, holds one vector per sample in the same order; `threshold`
    overrides the near-duplicate threshold of the chosen measure. `note` is a sentence
    the report shows under its title (e.g. why embeddings were not used).

    Raises ValueError when the embeddings do not match the samples.
    """
    if embeddings is not None and len(embeddings) != len(samples):
        raise ValueError(
            f"{len(embeddings)} embeddings for {len(samples)} samples: they must match."
        )
    texts = [sample.text for sample in samples]
    vocabulary = Vocabulary()
    seqs = [vocabulary.encode(normal_words(text)) for text in texts]
    jaccard = jaccard_matrix(seqs)
    rouge_l = rouge_l_matrix(seqs)
    measure: Measure = "rouge-l"
    matrix = rouge_l
    if embeddings is not None:
        measure = "embedding-cosine"
        matrix = cosine_matrix(embeddings)
    cut = NEAR_DUPLICATE[measure] if threshold is None else threshold
    center = medoid(matrix) if samples else -1
    spread = None
    if len(samples) > 1:
        shown = [w for w in words(texts[center]) if normal_word(w)]
        spread = disagreement(seqs, center, shown)
    labels = tuple(s.label or str(k + 1) for k, s in enumerate(samples))
    return SpreadReport(
        labels=labels,
        models=tuple(s.model_name for s in samples),
        measure=measure,
        embeddings_model=embeddings_model if embeddings is not None else "",
        note=note,
        matrix=matrix,
        jaccard=jaccard,
        rouge_l=rouge_l,
        centrality=tuple(centrality(matrix)),
        medoid=center,
        threshold=cut,
        clusters=tuple(tuple(c) for c in clusters(matrix, cut)),
        order=tuple(seriation(matrix)),
        answers=tally_answers(texts, [sample.cut for sample in samples]),
        disagreement=spread,
        distributions=_distributions(samples, seqs),
    )


def _distributions(
    samples: Sequence[SpreadSample], seqs: Sequence[Sequence[int]]
) -> tuple[Distribution, ...]:
    return (
        distribution("length", "words", [float(len(words(s.text))) for s in samples], integer=True),
        distribution(
            "length",
            "tokens",
            [float(s.token_count) if s.token_count is not None else None for s in samples],
            integer=True,
        ),
        distribution("mean logprob", "nats/token", [s.mean_logprob for s in samples]),
        distribution("time to first token", "s", [s.ttft_seconds for s in samples]),
        distribution("total time", "s", [s.total_seconds for s in samples]),
    )
