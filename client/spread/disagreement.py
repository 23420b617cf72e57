"""Where the samples part ways: per-position disagreement on the word alignment.

Every sample is aligned to the reference (the medoid: the most typical sample) by a
longest common subsequence of normalised words (`lcs.lcs_alignment`): a word diff like
Compare's diff mode (which uses difflib), but bit-parallel, so 63 alignments of 500 words
take tens of milliseconds instead of a few hundred. For each word of the reference, its
disagreement is the share of the other samples that do not have it at that place (they
replaced or dropped it); `inserted_after[i]` counts the samples that add words right
after reference word i (index -1 is before the first word). A contested span is a run of
reference words that at least half of the other samples do not share: where the batch
really diverges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grove_explorer.client.spread.lcs import lcs_alignment

CONTESTED_SHARE = 0.5
"""A reference word that at least this share of the other samples lacks is contested."""
MAX_SPANS = 10
"""The report lists this many contested spans, longest first (and says how many more)."""


@dataclass(frozen=True, slots=True)
class ContestedSpan:
    """Reference words [start, end) that most samples do not share, and how many lack them."""

    start: int
    end: int
    mean_share: float
    words: str


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Per-position disagreement of a batch with its reference sample."""

    reference: int
    reference_words: int
    shares: tuple[float, ...]
    inserted_after: dict[int, int]
    first_divergence: int
    spans: tuple[ContestedSpan, ...]
    spans_total: int

    @property
    def mean_share(self) -> float:
        """The mean disagreement over the reference's words (0.0 for an empty one)."""
        return sum(self.shares) / len(self.shares) if self.shares else 0.0

    @property
    def agreed_words(self) -> int:
        """Reference words that every other sample has in place."""
        return sum(1 for share in self.shares if share == 0.0)


def disagreement(
    seqs: Sequence[Sequence[int]], reference: int, shown_words: Sequence[str]
) -> Disagreement:
    """Aligns every sample to `seqs[reference]`; `shown_words` are its words as written.

    `first_divergence` is the first reference position some sample does not share (the
    reference's length when none differs there); insertions count too.
    """
    ref = seqs[reference]
    others = [s for k, s in enumerate(seqs) if k != reference]
    missing = [0] * len(ref)
    inserted: dict[int, int] = {}
    for seq in others:
        pairs = lcs_alignment(ref, seq)
        matched = [False] * len(ref)
        previous_j = -1
        previous_i = -1
        inserts_here: set[int] = set()
        for i, j in pairs:
            matched[i] = True
            if j > previous_j + 1:
                inserts_here.add(previous_i)
            previous_i, previous_j = i, j
        if previous_j < len(seq) - 1:
            inserts_here.add(previous_i if pairs else -1)
        for i, ok in enumerate(matched):
            if not ok:
                missing[i] += 1
        for after in inserts_here:
            inserted[after] = inserted.get(after, 0) + 1
    count = len(others)
    shares = tuple(m / count if count else 0.0 for m in missing)
    first = next((i for i, share in enumerate(shares) if share), len(ref))
    first_insert = min((after + 1 for after in inserted), default=len(ref))
    spans = _contested_spans(shares, shown_words)
    return Disagreement(
        reference=reference,
        reference_words=len(ref),
        shares=shares,
        inserted_after=dict(sorted(inserted.items())),
        first_divergence=min(first, first_insert),
        spans=tuple(sorted(spans, key=lambda s: (-(s.end - s.start), s.start))[:MAX_SPANS]),
        spans_total=len(spans),
    )


def _contested_spans(shares: Sequence[float], shown: Sequence[str]) -> list[ContestedSpan]:
    spans: list[ContestedSpan] = []
    start = None
    for i, share in enumerate([*shares, 0.0]):
        if share >= CONTESTED_SHARE and i < len(shares):
            if start is None:
                start = i
        elif start is not None:
            run = shares[start:i]
            text = " ".join(shown[start:i]) if len(shown) == len(shares) else ""
            spans.append(ContestedSpan(start, i, sum(run) / len(run), text))
            start = None
    return spans
