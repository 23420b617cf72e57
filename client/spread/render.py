"""The spread report as plain text lines: the one renderer the CLI and the TUI share.

Pure strings (no Rich markup, no escapes): the CLI prints them, the TUI shows them as
plain `Text`. Texts that come from samples (answers, contested words) are stripped of
control characters here too, so the lines are safe to print to a terminal as they are.
Distributions are drawn with Unicode block elements: a sparkline of the values in batch
order and a histogram of horizontal bars.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from grove_explorer.client.spread.distributions import Distribution
from grove_explorer.client.spread.report import SpreadReport

SPARKS = "▁▂▃▄▅▆▇█"
BAR = "█"
PARTIAL_BARS = " ▏▎▍▌▋▊▉"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
SPARK_CELLS = 60
"""The disagreement sparkline's width: a longer medoid is drawn as means of equal runs."""
MATRIX_MAX = 16
"""The matrix itself is drawn up to this many samples; larger batches get its summary."""


def inert(text: str, limit: int = 60) -> str:
    """Sample text made safe and short for one report line (no controls, one line)."""
    text = " ".join(_CONTROL.sub("", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sparkline(
    values: Sequence[float | None], low: float | None = None, high: float | None = None
) -> str:
    """One character per value, its height by value (a space for an unknown value).

    The scale runs from `low` to `high` (the values' own range when not given): shares
    are drawn on 0..1 so that a batch in full agreement shows a flat floor, not a middle.
    """
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    low = min(known) if low is None else low
    high = max(known) if high is None else high
    span = high - low
    top = len(SPARKS) - 1
    return "".join(" " if v is None else SPARKS[_level(v, low, span, top)] for v in values)


def _level(value: float, low: float, span: float, top: int) -> int:
    if not span:
        return top // 2
    return max(0, min(top, round((value - low) / span * top)))


def bar(count: int, most: int, width: int) -> str:
    """A horizontal bar of `count` out of `most` in `width` cells, with eighth-cell ends."""
    if most <= 0 or count <= 0:
        return ""
    eighths = max(1, round(count / most * width * 8))
    full, rest = divmod(eighths, 8)
    return BAR * full + (PARTIAL_BARS[rest] if rest else "")


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("words", "tokens"):
        return f"{value:.0f}"
    return f"{value:.3g}"  # seconds and nats: three significant digits, small or large


def _bin_label(dist: Distribution, k: int) -> str:
    """A bin's range: "120-129" for whole counts, its lower edge otherwise."""
    low = dist.edges[k]
    if dist.unit not in ("words", "tokens"):
        return _figure(low, dist.unit)
    last = k == len(dist.bins) - 1
    high = dist.edges[k + 1] if last else dist.edges[k + 1] - 1
    return f"{low:.0f}" if high <= low else f"{low:.0f}\u2013{high:.0f}"


def histogram_lines(dist: Distribution, width: int = 24) -> list[str]:
    """The distribution's summary line, sparkline and one bar line per bin."""
    missing = f" · {dist.missing} without" if dist.missing else ""
    if not dist.bins:
        return [f"{dist.name}: none known{missing}"]
    head = (
        f"{dist.name} ({dist.unit}): min {_figure(dist.minimum, dist.unit)} · median "
        f"{_figure(dist.median, dist.unit)} · mean {_figure(dist.mean, dist.unit)} · max "
        f"{_figure(dist.maximum, dist.unit)}{missing}"
    )
    lines = [head, f"  by sample  {sparkline(dist.values)}"]
    most = max(dist.bins)
    labels = [_bin_label(dist, k) for k in range(len(dist.bins))]
    label_width = max(len(label) for label in labels)
    for label, count in zip(labels, dist.bins, strict=True):
        lines.append(f"  {label:>{label_width}} │{bar(count, most, width):<{width}} {count}")
    return lines


def render_report(report: SpreadReport, width: int = 80) -> list[str]:
    """The whole report as lines of at most about `width` characters."""
    n = report.count
    lines = [
        f"Spread of {n} sample{'s' if n != 1 else ''} · similarity: {report.measure_label}",
    ]
    if report.note:
        lines.append(report.note)
    if n < 2:
        lines.append("One sample: nothing to compare.")
    else:
        lines += _similarity_lines(report)
    lines.append("")
    lines += _answer_lines(report)
    lines.append("")
    lines += _disagreement_lines(report)
    bar_width = max(8, min(32, width - 30))
    for dist in report.distributions:
        lines.append("")
        lines += histogram_lines(dist, bar_width)
    return lines


def _similarity_lines(report: SpreadReport) -> list[str]:
    labels = report.labels
    s = report.summary
    lines = [
        f"pairs: mean {s.mean:.2f} · min {s.minimum:.2f} ({_pair(labels, s.least)}) · "
        f"max {s.maximum:.2f} ({_pair(labels, s.most)})",
        f"token-overlap Jaccard mean {report.jaccard_mean:.2f} · ROUGE-L F1 mean "
        f"{report.rouge_l_mean:.2f}",
        f"medoid (most typical): {labels[report.medoid]}",
        f"order (seriation): {' '.join(_marked(report, i) for i in report.order)}",
    ]
    multi = [c for c in report.clusters if len(c) > 1]
    lines.append(
        f"clusters of near-duplicates (similarity ≥ {report.threshold:.2f}): "
        f"{len(multi)} of 2+ samples, {len(report.clusters) - len(multi)} alone"
    )
    for number, cluster in enumerate(multi, 1):
        members = " ".join(labels[i] for i in cluster)
        lines.append(f"  {report.cluster_mark(number - 1)} ({len(cluster)}): {members}")
    if len(report.matrix) <= MATRIX_MAX:
        lines += _matrix_lines(report)
    else:
        lines.append(f"(matrix of {len(report.matrix)}\u00d7{len(report.matrix)} in --json)")
    return lines


def _matrix_lines(report: SpreadReport) -> list[str]:
    order = report.order
    labels = [report.labels[i][:6] for i in order]
    header = "       " + " ".join(f"{x:>6}" for x in labels)
    lines = ["similarity matrix (seriation order):", header]
    for row_index, i in enumerate(order):
        cells = " ".join("     ·" if i == j else f"{report.matrix[i][j]:6.2f}" for j in order)
        lines.append(f"{labels[row_index]:>6} {cells}")
    return lines


def _answer_lines(report: SpreadReport) -> list[str]:
    tally = report.answers
    if not tally.answered:
        return [f"short answers: none found in {tally.without} samples"]
    tie = " (tied)" if tally.tied else ""
    lines = [
        f"majority answer: {inert(tally.majority)!s} — {tally.majority_count} of "
        f"{tally.answered} answered ({tally.share:.0%}){tie} · {tally.without} without a "
        "short answer"
    ]
    shown = tally.counts[:8]
    most = shown[0][1]
    for answer, count in shown:
        lines.append(f"  {bar(count, most, 16):<16} {count:>3}  {inert(answer, 40)}")
    if len(tally.counts) > len(shown):
        lines.append(f"  … {len(tally.counts) - len(shown)} more answers (in --json)")
    return lines


def _disagreement_lines(report: SpreadReport) -> list[str]:
    d = report.disagreement
    if d is None:
        return ["disagreement: needs two samples"]
    label = report.labels[d.reference]
    lines = [
        f"disagreement with the medoid {label} ({d.reference_words} words): mean "
        f"{d.mean_share:.0%} · {_count(d.agreed_words, 'word')} shared by all · "
        f"first divergence at word {d.first_divergence}",
        f"  along the medoid  {sparkline(_downsample(d.shares, SPARK_CELLS), 0.0, 1.0)}"
        + _cells_note(d.reference_words),
    ]
    if d.spans:
        more = ""
        if d.spans_total > len(d.spans):
            more = f" (longest {len(d.spans)} of {d.spans_total})"
        lines.append(f"contested spans (≥ half of the others differ){more}:")
        for span in d.spans:
            where = (
                f"word {span.start}"
                if span.end - span.start == 1
                else f"words {span.start}\u2013{span.end - 1}"
            )
            lines.append(f"  {where} ({span.mean_share:.0%}): {inert(span.words)}")
    return lines


def _downsample(values: Sequence[float], cells: int) -> list[float]:
    """At most `cells` values: the mean of each of `cells` equal runs."""
    if len(values) <= cells:
        return list(values)
    step = len(values) / cells
    out = []
    for k in range(cells):
        run = values[int(k * step) : max(int(k * step) + 1, int((k + 1) * step))]
        out.append(sum(run) / len(run))
    return out


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _pair(labels: Sequence[str], pair: tuple[int, int]) -> str:
    return f"{labels[pair[0]]}\u2013{labels[pair[1]]}"


def _marked(report: SpreadReport, index: int) -> str:
    """A sample's label with its cluster's letter ("9fcdb9e1[A]"), bare when alone."""
    mark = report.cluster_mark(report.cluster_of(index))
    return f"{report.labels[index]}[{mark}]" if mark else report.labels[index]


def _cells_note(words: int) -> str:
    """Says how many words one sparkline cell stands for, when it is more than one."""
    if words <= SPARK_CELLS:
        return ""
    return f"  (a cell is ~{words / SPARK_CELLS:.1f} words)"
