"""The most typical sample, clusters of near-duplicates, and the seriation order.

The order keeps similar samples side by side.

All three read one similarity matrix (the report's chosen measure), so they agree with
each other and with what the report says was used.
"""

from __future__ import annotations

from collections.abc import Sequence

Matrix = Sequence[Sequence[float]]


def centrality(matrix: Matrix) -> list[float]:
    """Each sample's mean similarity to the others (1.0 for a batch of one)."""
    n = len(matrix)
    if n < 2:
        return [1.0] * n
    return [(sum(row) - row[i]) / (n - 1) for i, row in enumerate(matrix)]


def medoid(matrix: Matrix) -> int:
    """The most central sample: the highest mean similarity to the rest (first on ties)."""
    scores = centrality(matrix)
    return max(range(len(scores)), key=lambda i: (scores[i], -i)) if scores else -1


def clusters(matrix: Matrix, threshold: float) -> list[list[int]]:
    """Groups of near-duplicates: single-linkage at `threshold`, largest group first.

    Two samples are linked when their similarity is at least `threshold`; a cluster is a
    connected component of those links, so a chain of near-duplicates is one cluster even
    when its ends differ more. Singletons are included (a sample like no other is a
    cluster of one), so the clusters partition the batch. Ties keep the earliest member
    first.
    """
    n = len(matrix)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i):
            if matrix[i][j] >= threshold:
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def seriation(matrix: Matrix) -> list[int]:
    """An order of the samples in which similar ones sit together.

    A greedy nearest-neighbour chain grown at both ends: it starts at the medoid (the
    most central sample) and repeatedly adds the unplaced sample most similar to either
    end of the chain, at that end. Unlike a one-ended chain, the medoid's two closest
    groups both stay next to it. The chain is then read from the end whose sample is
    more central, so the first column is typical rather than an outlier. O(n²) for n
    samples; ties go to the earliest sample, so the order is deterministic.
    """
    n = len(matrix)
    if n < 3:
        return list(range(n))
    start = medoid(matrix)
    chain = [start]
    left = right = start
    unplaced = set(range(n)) - {start}
    while unplaced:
        best_left = max(unplaced, key=lambda k: (matrix[left][k], -k))
        best_right = max(unplaced, key=lambda k: (matrix[right][k], -k))
        if matrix[left][best_left] > matrix[right][best_right]:
            chain.insert(0, best_left)
            left = best_left
            unplaced.discard(best_left)
        else:
            chain.append(best_right)
            right = best_right
            unplaced.discard(best_right)
    scores = centrality(matrix)
    if scores[chain[-1]] > scores[chain[0]]:
        chain.reverse()
    return chain
