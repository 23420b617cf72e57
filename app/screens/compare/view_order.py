"""The Compare screen's view pass: the order of its columns and the word diff between them.

Pure functions of the columns (no screen state), so a new order (e.g. by judge score or by
similarity) is one more entry in `SORTS` and one more case in `sort_key`, and the screen
(`core.CompareCore._apply_view`) stays a few lines that call these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from textual.containers import ScrollableContainer

from grove_explorer.app.diffing import common_prefix_words, similarity, word_diff, words
from grove_explorer.app.safe_text import clean
from grove_explorer.app.screens.compare.spread_view import similar_order
from grove_explorer.app.widgets.judgement_badge import latest
from grove_explorer.app.widgets.sample_column import SampleColumn

SORTS: tuple[str, ...] = ("sampled", "length", "logprob", "time", "similar", "score")
SORT_LABELS = {
    "score": "judge score (highest first)",
    "similar": "similarity (similar side by side)",
    "sampled": "order sampled",
    "length": "length (shortest first)",
    "logprob": "mean logprob (highest first)",
    "time": "total time (fastest first)",
}


def sort_key(column: SampleColumn, sort: str) -> tuple[Any, ...]:
    """The key of `column` under `sort` (unknown values last; ties keep sampling order)."""
    node = column.node
    if sort == "length":
        return (len(words(column.text)),)
    if sort == "logprob":
        mean = node.mean_logprob
        return (mean is None, -(mean or 0.0))
    if sort == "time":
        known = not column.streaming and node.total_time > 0
        return (not known, node.total_time)
    if sort == "score":
        judged = latest(node)
        return (judged is None, -(judged.score if judged else 0.0))
    return ()


def ordered_ids(order: Sequence[str], columns: Mapping[str, SampleColumn], sort: str) -> list[str]:
    """Every column id in display order: `sort`, ties in sampling order (`order`)."""
    if sort == "sampled":
        return list(order)
    if sort == "similar":
        streaming = {rid for rid in order if columns[rid].streaming}
        return similar_order(order, columns, streaming)
    return sorted(order, key=lambda rid: sort_key(columns[rid], sort))


def place_columns(row: ScrollableContainer, wanted: Sequence[SampleColumn]) -> bool:
    """Moves the row's columns into `wanted` order; True when anything moved.

    Columns still being mounted are skipped: they join at the end.
    """
    current = [c for c in row.children if isinstance(c, SampleColumn)]
    if current == list(wanted):
        return False
    previous: SampleColumn | None = None
    for column in wanted:
        if column.parent is not row:
            continue
        if previous is None:
            row.move_child(column, before=0)
        else:
            row.move_child(column, after=previous)
        previous = column
    return True


@dataclass(frozen=True, slots=True)
class DiffOutcome:
    """What a diff pass settled: the reference column and the shared opening's words."""

    reference_id: str | None
    common_prefix: int


def show_plain(columns: Sequence[SampleColumn]) -> DiffOutcome:
    """Diff mode off: every column draws its text as Markdown again."""
    for column in columns:
        column.show_markdown()
    return DiffOutcome(None, 0)


def show_diffs(
    columns: Sequence[SampleColumn],
    visible: Sequence[SampleColumn],
    reference: SampleColumn | None,
) -> DiffOutcome:
    """Draws every finished column as a word diff against `reference`.

    A missing or streaming reference is replaced by the first finished visible column.
    The shared opening (`common_prefix_words`) is counted over the finished visible ones.
    """
    if reference is None or reference.streaming:
        reference = next((c for c in visible if not c.streaming), None)
    finished = [c for c in visible if not c.streaming]
    texts = [clean(c.text) for c in finished]
    prefix = common_prefix_words(texts) if len(texts) > 1 else 0
    # Samples that differ from their first word need no marker: nothing is shared.
    diverge = prefix > 0 and any(len(words(t)) > prefix for t in texts)
    ref_text = clean(reference.text) if reference is not None else ""
    for column in columns:
        is_ref = column is reference
        if column.streaming or reference is None:
            # Diffed once it completes: a diff per flush would be per-token work.
            column.show_diff(None, 0, marker=False, reference=is_ref, same=None)
            continue
        text = clean(column.text)
        column.show_diff(
            word_diff(ref_text, text),
            prefix if column in finished else 0,
            marker=diverge and column in finished,
            reference=is_ref,
            same=None if is_ref else similarity(ref_text, text),
        )
    return DiffOutcome(reference.response_id if reference is not None else None, prefix)


def columns_in_view(row: ScrollableContainer, visible: Sequence[SampleColumn]) -> tuple[int, int]:
    """The 1-based first and last of the `visible` columns the row shows now.

    A column counts when at least half of it is inside the row's width, so "columns 5-8
    of 16" names what can be read. Before the first layout every column counts as shown.
    """
    width = row.scrollable_content_region.width
    if not visible or width <= 0:
        return (1, len(visible))
    left = row.scroll_offset.x
    right = left + width
    shown = []
    for index, column in enumerate(visible, 1):
        region = column.virtual_region
        if not region.width:
            return (1, len(visible))
        overlap = min(right, region.right) - max(left, region.x)
        if overlap * 2 >= region.width:
            shown.append(index)
    if not shown:
        return (1, len(visible))
    return (shown[0], shown[-1])


def ids_in_view(row: ScrollableContainer, columns: Sequence[SampleColumn]) -> set[str]:
    """The ids of `columns` that the row shows at least partly now.

    A column not laid out yet (no region: just mounted, or hidden) counts as in view, so
    nothing is held back before the first layout.
    """
    width = row.scrollable_content_region.width
    left = row.scroll_offset.x
    right = left + width
    shown = set()
    for column in columns:
        region = column.virtual_region
        if width <= 0 or not region.width or (region.x < right and region.right > left):
            shown.add(column.response_id)
    return shown
