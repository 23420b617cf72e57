"""The spread statistics on inputs small enough to check by hand (client/spread/)."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from grove_explorer.client.models import ResponseNode
from grove_explorer.client.spread import SpreadSample, render_report, sparkline, spread_report
from grove_explorer.client.spread.answers import extract_answer, normalise_answer, tally_answers
from grove_explorer.client.spread.disagreement import disagreement
from grove_explorer.client.spread.distributions import distribution, quantile
from grove_explorer.client.spread.grouping import clusters, medoid, seriation
from grove_explorer.client.spread.lcs import lcs_alignment, lcs_length, lcs_matrix
from grove_explorer.client.spread.samples import sample_of
from grove_explorer.client.spread.similarity import (
    cosine_matrix,
    embeddable,
    jaccard_matrix,
    place_vectors,
    rouge_l_matrix,
)
from grove_explorer.client.spread.words import Vocabulary, normal_words


def _table_lcs(a: list[int], b: list[int]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = (
                table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
            )
    return table[-1][-1]


def _ids(*texts: str) -> list[list[int]]:
    vocabulary = Vocabulary()
    return [vocabulary.encode(normal_words(t)) for t in texts]


def test_lcs_of_hand_examples() -> None:
    # "ABCBDAB" vs "BDCABA": the textbook LCS has length 4 (e.g. BCBA).
    a = [ord(c) for c in "ABCBDAB"]
    b = [ord(c) for c in "BDCABA"]
    assert lcs_length(a, b) == 4
    pairs = lcs_alignment(a, b)
    assert len(pairs) == 4
    assert all(a[i] == b[j] for i, j in pairs)
    assert lcs_length([], [1, 2]) == 0
    assert lcs_alignment([1, 2, 3], [1, 2, 3]) == [(0, 0), (1, 1), (2, 2)]


def test_bit_parallel_lcs_agrees_with_the_table_on_random_sequences() -> None:
    rng = random.Random(7)
    for _ in range(200):
        seqs = [[rng.randrange(4) for _ in range(rng.randrange(0, 12))] for _ in range(4)]
        matrix = lcs_matrix(seqs)
        for i in range(4):
            assert matrix[i][i] == len(seqs[i])
            for j in range(4):
                if i != j:
                    expected = _table_lcs(seqs[i], seqs[j])
                    assert matrix[i][j] == expected == lcs_length(seqs[i], seqs[j])
                    pairs = lcs_alignment(seqs[i], seqs[j])
                    assert len(pairs) == expected
                    assert all(x[0] < y[0] and x[1] < y[1] for x, y in itertools.pairwise(pairs))


def test_words_are_compared_without_case_and_edge_punctuation() -> None:
    assert normal_words("The cat, sat. — on “Mat”!") == ["the", "cat", "sat", "on", "mat"]


def test_jaccard_and_rouge_l_by_hand() -> None:
    seqs = _ids("a b c d", "a b x y", "d c b a", "")
    jac = jaccard_matrix(seqs)
    # {a,b,c,d} vs {a,b,x,y}: 2 shared of 6.
    assert jac[0][1] == pytest.approx(2 / 6)
    # Same words in reverse order: Jaccard 1, ROUGE-L only 2·1/8 (one word in order).
    assert jac[0][2] == 1.0
    rouge = rouge_l_matrix(seqs)
    assert rouge[0][2] == pytest.approx(2 * 1 / 8)
    # "a b" in order of 4 and 4 words: 2·2/8.
    assert rouge[0][1] == pytest.approx(0.5)
    assert rouge[0][3] == 0.0 and jac[0][3] == 0.0
    assert rouge[1][0] == rouge[0][1] and rouge[2][2] == 1.0


def test_blank_texts_are_not_embedded_and_get_a_zero_vector() -> None:
    texts = ["a", " ", "b"]
    assert embeddable(texts) == ["a", "b"]
    placed = place_vectors(texts, [[1.0, 0.0], [0.0, 1.0]])
    assert placed == [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]
    assert cosine_matrix(placed)[0][1] == 0.0
    with pytest.raises(ValueError, match="1 embeddings for 2 texts"):
        place_vectors(texts, [[1.0]])


def test_cosine_matrix_and_mismatched_lengths() -> None:
    m = cosine_matrix([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [0.0, 0.0]])
    assert m[0][1] == pytest.approx(0.0)
    assert m[0][2] == pytest.approx(2**-0.5)
    assert m[0][3] == 0.0
    with pytest.raises(ValueError, match="different lengths"):
        cosine_matrix([[1.0], [1.0, 2.0]])


# Samples 0, 1 are near each other, 2, 3 too; the two pairs far apart.
_BLOCKS = [
    [1.0, 0.9, 0.1, 0.2],
    [0.9, 1.0, 0.2, 0.1],
    [0.1, 0.2, 1.0, 0.85],
    [0.2, 0.1, 0.85, 1.0],
]


def test_clusters_are_single_linkage_at_the_threshold() -> None:
    assert clusters(_BLOCKS, 0.8) == [[0, 1], [2, 3]]
    assert clusters(_BLOCKS, 0.88) == [[0, 1], [2], [3]]
    assert clusters(_BLOCKS, 0.05) == [[0, 1, 2, 3]]
    # A chain a~b~c is one cluster though a and c differ.
    chain = [[1.0, 0.9, 0.1], [0.9, 1.0, 0.9], [0.1, 0.9, 1.0]]
    assert clusters(chain, 0.8) == [[0, 1, 2]]
    assert medoid(chain) == 1


def test_seriation_keeps_similar_samples_together() -> None:
    # Interleaved: 0 and 2 are alike, 1 and 3 are alike.
    m = [
        [1.0, 0.1, 0.9, 0.2],
        [0.1, 1.0, 0.2, 0.9],
        [0.9, 0.2, 1.0, 0.3],
        [0.2, 0.9, 0.3, 1.0],
    ]
    order = seriation(m)
    assert sorted(order) == [0, 1, 2, 3]
    position = {s: k for k, s in enumerate(order)}
    assert abs(position[0] - position[2]) == 1
    assert abs(position[1] - position[3]) == 1


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Let me think. 6 times 7 is 42.\nAnswer: 42", "42"),
        ("So the final answer is **Paris**.", "paris"),
        ("The result is \\boxed{1,000} and done", "1000"),
        ("Long reasoning here.\n\n  Yes.  ", "yes"),
        ("It costs quite a lot, in total we pay $1,250.50 for all of it", "1250.5"),
        ("A long line without any number that goes on and on and on", None),
        ("", None),
    ],
)
def test_extract_answer(text: str, answer: str | None) -> None:
    assert extract_answer(text) == answer


def test_a_cut_reply_answers_only_explicitly() -> None:
    assert extract_answer("reasoning goes on\nand then", cut=False) == "and then"
    assert extract_answer("reasoning goes on\nand then", cut=True) is None
    assert extract_answer("so: Answer: 7\nand then", cut=True) == "7"
    tally = tally_answers(["Answer: 1", "the end"], [False, True])
    assert (tally.answered, tally.without) == (1, 1)


def test_normalise_answer() -> None:
    assert normalise_answer("  *42.0* ") == "42"
    assert normalise_answer("- The Answer") == "the answer"
    assert normalise_answer("+7%") == "7%"


def test_tally_counts_the_majority_and_the_samples_without_an_answer() -> None:
    tally = tally_answers(
        ["Answer: 42", "answer: 42.", "Answer: 41", "no answer in this long line here ok"]
    )
    assert tally.answers == ("42", "42", "41", None)
    assert tally.counts == (("42", 2), ("41", 1))
    assert (tally.majority, tally.majority_count, tally.answered, tally.without) == ("42", 2, 3, 1)
    assert tally.share == pytest.approx(2 / 3)
    assert not tally.tied
    assert tally_answers(["Answer: a", "Answer: b"]).tied
    empty = tally_answers([])
    assert (empty.majority, empty.share, empty.without) == ("", 0.0, 0)


def test_disagreement_per_position_of_the_reference() -> None:
    texts = [
        "the cat sat on the mat",
        "the cat sat on a mat",
        "the dog sat on the mat",
        "the cat sat",
    ]
    seqs = _ids(*texts)
    result = disagreement(seqs, 0, texts[0].split())
    # Per word of the reference: who lacks it there (of 3 others).
    # the: none; cat: the dog one; sat: none; on: the short one; the: "a" and short; mat: short.
    assert result.shares == pytest.approx((0, 1 / 3, 0, 1 / 3, 2 / 3, 1 / 3))
    assert result.first_divergence == 1
    assert result.agreed_words == 2
    assert [(s.start, s.end, s.words) for s in result.spans] == [(4, 5, "the")]
    # "a" replaces "the" after "on" (index 3); "dog" stands after "the" (index 0).
    assert result.inserted_after == {0: 1, 3: 1}


def test_distribution_summary_and_histogram() -> None:
    d = distribution("length", "words", [10.0, 20.0, None, 20.0, 40.0], bins=3, integer=True)
    assert d.missing == 1
    assert (d.minimum, d.maximum, d.mean, d.median) == (10.0, 40.0, 22.5, 20.0)
    assert sum(d.bins) == 4 and len(d.bins) == 3
    assert d.bins[0] == 3  # 10 and the two 20s in [10, 21)
    same = distribution("t", "s", [1.0, 1.0])
    assert same.bins == (2,)
    assert distribution("t", "s", [None]).bins == ()
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5


def test_sparkline() -> None:
    assert sparkline([0.0, 0.5, 1.0]) == "▁▅█"
    assert sparkline([0.0, None, 1.0], 0.0, 1.0) == "▁ █"
    assert sparkline([0.0, 0.0], 0.0, 1.0) == "▁▁"


def _sample(text: str, label: str, **kwargs: object) -> SpreadSample:
    return SpreadSample(text=text, label=label, **kwargs)  # type: ignore[arg-type]


def test_report_without_embeddings_says_it_used_token_overlap() -> None:
    samples = [
        _sample("The cat sat on the mat.\nAnswer: 42", "a", logprobs=[-0.5, -1.5], token_count=9),
        _sample("The cat sat on a mat.\nAnswer: 42", "b", ttft_seconds=0.2, total_seconds=1.0),
        _sample("Dogs bark at night, loudly.\nAnswer: 7", "c"),
    ]
    report = spread_report(samples)
    assert report.measure == "rouge-l"
    assert report.matrix == report.rouge_l
    assert report.medoid in (0, 1)
    assert report.clusters[0] == (0, 1) and (2,) in report.clusters
    assert report.answers.majority == "42" and report.answers.majority_count == 2
    logprob = next(d for d in report.distributions if d.name == "mean logprob")
    assert logprob.values == (-1.0, None, None)
    data = json.loads(json.dumps(report.to_json()))
    assert data["measure"] == "rouge-l"
    assert data["answers"]["counts"] == [{"answer": "42", "count": 2}, {"answer": "7", "count": 1}]
    assert data["summary"]["minimum"] < data["summary"]["maximum"]
    text = "\n".join(render_report(report))
    assert "ROUGE-L" in text and "no embeddings" in text
    assert "majority answer: 42" in text


def test_report_with_embeddings_uses_their_cosine() -> None:
    samples = [_sample("one two", "a"), _sample("three four", "b"), _sample("five six", "c")]
    report = spread_report(
        samples, [[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]], embeddings_model="embed-small"
    )
    assert report.measure == "embedding-cosine"
    assert report.matrix[0][1] > 0.95 and report.rouge_l[0][1] == 0.0
    assert report.clusters[0] == (0, 1)
    assert "cosine of embeddings (embed-small)" in render_report(report)[0]
    with pytest.raises(ValueError, match="2 embeddings for 3 samples"):
        spread_report(samples, [[1.0], [1.0]])


def test_report_lines_are_inert_and_a_single_sample_is_fine() -> None:
    hostile = _sample("text\nAnswer: \x1b[31mred\x1b]0;title\x07", "x")
    report = spread_report([hostile, _sample("other\nAnswer: blue", "y")])
    lines = render_report(report)
    assert not any("\x1b" in line or "\x07" in line for line in lines)
    single = spread_report([_sample("alone", "z")])
    assert "nothing to compare" in "\n".join(render_report(single))
    assert single.disagreement is None and single.order == (0,)


def test_sample_of_reads_a_reply_and_leaves_the_unknown_unknown() -> None:
    sampled = ResponseNode(
        response_id="ab" * 16,
        parent_id=None,
        sender="model",
        message="cut off here",
        model_name="m",
        token_count=5,
        time_to_first_token=0.1,
        total_time=1.0,
        finish_reason="length",
    )
    sample = sample_of(sampled, [-1.0, None, -3.0])
    assert (sample.label, sample.model_name, sample.token_count) == ("abababab", "m", 5)
    assert sample.cut and sample.mean_logprob == -2.0
    assert (sample.ttft_seconds, sample.total_seconds) == (0.1, 1.0)
    manual = sampled.model_copy(update={"manual": True, "finish_reason": "", "token_count": 0})
    written = sample_of(manual, mean_logprob=None)
    assert not written.cut
    assert (written.token_count, written.ttft_seconds, written.mean_logprob) == (None, None, None)
