"""Longest common subsequences of word-id sequences, bit-parallel (Allison-Dix, Hyyrö).

ROUGE-L needs the LCS length of every pair of a batch: 64 samples of 500 words are 2,016
pairs, far too many for an O(m·n) table in Python. The bit-parallel algorithm keeps one
row of the table as the bits of an int `V` (bit i clear where the row steps up) and
advances a whole row per word of the other sequence with four int operations:
`U = V & M[w]; V = (V + U) | (V - U)`, where `M[w]` has bit i set when word i of the
first sequence is `w`. Python's ints are arbitrary-length bit vectors, so the inner loop
over positions runs in C.

`lcs_lengths_against` goes further: it lays every earlier sequence side by side in one
long int, each segment followed by a guard bit, and advances all of them at once per word
of the later sequence. The guard bit absorbs the addition's carry out of a segment and is
cleared after each step (`V - U` never borrows, since `U` is a subset of `V`), so segments
never disturb each other. One pass per sample then gives its LCS with every earlier
sample: the interpreter's per-word overhead is paid n times instead of n²/2.

`lcs_alignment` keeps every row to walk back through the table and returns the matched
positions: the word alignment the disagreement statistics need.
"""

from __future__ import annotations

from collections.abc import Sequence


def _position_masks(seq: Sequence[int], offset: int = 0) -> dict[int, int]:
    """For each id of `seq`, an int whose bit offset+i is set where seq[i] is that id."""
    masks: dict[int, int] = {}
    for i, word in enumerate(seq):
        masks[word] = masks.get(word, 0) | (1 << (offset + i))
    return masks


def lcs_length(a: Sequence[int], b: Sequence[int]) -> int:
    """The length of a longest common subsequence of `a` and `b`."""
    if len(a) < len(b):
        a, b = b, a
    masks = _position_masks(a)
    full = (1 << len(a)) - 1
    v = full
    for u in [masks[w] for w in b if w in masks]:
        u &= v
        v = (v + u) | (v - u)
    return len(a) - (v & full).bit_count()


def lcs_matrix(seqs: Sequence[Sequence[int]]) -> list[list[int]]:
    """LCS lengths of every pair of `seqs` (symmetric; the diagonal is each length)."""
    n = len(seqs)
    result = [[0] * n for _ in range(n)]
    offsets: list[int] = []
    masks: dict[int, int] = {}
    guards = 0
    position = 0
    for j, seq in enumerate(seqs):
        result[j][j] = len(seq)
        if j:
            row = _lcs_lengths_against(seq, masks, position, guards, offsets, seqs)
            for i, length in enumerate(row):
                result[i][j] = result[j][i] = length
        offsets.append(position)
        for word, bits in _position_masks(seq, position).items():
            masks[word] = masks.get(word, 0) | bits
        position += len(seq)
        guards |= 1 << position
        position += 1
    return result


def _lcs_lengths_against(
    seq: Sequence[int],
    masks: dict[int, int],
    width: int,
    guards: int,
    offsets: Sequence[int],
    earlier: Sequence[Sequence[int]],
) -> list[int]:
    """LCS of `seq` with each of the earlier sequences laid out in `masks` (see the module)."""
    keep = ((1 << width) - 1) & ~guards
    v = keep
    for word in seq:
        u = masks.get(word)
        if u is not None:
            u &= v
            if u:
                v = ((v + u) | (v - u)) & keep
    lengths = []
    for i, offset in enumerate(offsets):
        size = len(earlier[i])
        segment = (v >> offset) & ((1 << size) - 1)
        lengths.append(size - segment.bit_count())
    return lengths


def lcs_alignment(a: Sequence[int], b: Sequence[int]) -> list[tuple[int, int]]:
    """Pairs (i, j) with a[i] == b[j] of one longest common subsequence, in order.

    The forward pass keeps each row's bit vector; the table's entry L(j, i) is then the
    count of clear bits among the row's low i bits, read back only along the path.
    """
    m = len(a)
    if not m or not b:
        return []
    masks = _position_masks(a)
    full = (1 << m) - 1
    rows = [full]
    v = full
    for word in b:
        u = masks.get(word, 0) & v
        if u:
            v = ((v + u) | (v - u)) & full
        rows.append(v)

    def table(j: int, i: int) -> int:
        return i - (rows[j] & ((1 << i) - 1)).bit_count()

    pairs: list[tuple[int, int]] = []
    i, j = m, len(b)
    while i and j:
        if a[i - 1] == b[j - 1]:
            pairs.append((i - 1, j - 1))
            i -= 1
            j -= 1
        elif rows[j] == rows[j - 1] or table(j - 1, i) >= table(j, i - 1):
            j -= 1
        else:
            i -= 1
    pairs.reverse()
    return pairs
