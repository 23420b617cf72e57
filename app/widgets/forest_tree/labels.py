"""Labels of the forest pane: one line per run, built from plain strings (never markup).

Message text reaches a label only through `first_line`, inside a `rich.text.Text`, so it is
never parsed as markup and carries no control characters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Span, Text
from textual.widget import Widget

from grove_explorer.app.safe_text import first_line
from grove_explorer.app.widgets.forest_tree.items import (
    DEPTH_MARK,
    HUMAN_GLYPH,
    MODEL_GLYPH,
    TOTALS_MARK,
    ForestItem,
)

if TYPE_CHECKING:
    from grove_explorer.client.forest import Totals

# Used until the widget's CSS is applied (labels are rebuilt once it is).
FALLBACK_STYLES: dict[str, Style] = {
    "human": Style(color="green"),
    "model": Style(color="blue"),
    "current": Style(bold=True),
    "muted": Style(dim=True),
    "marker": Style(color="yellow"),
    "annotation": Style(color="magenta", bold=True),
    "hoist": Style(color="cyan", italic=True),
    "streaming": Style(italic=True, color="magenta"),
}


def _compact(number: int) -> str:
    """1234 → "1.2k", 56_789 → "57k", 1_500_000 → "1.5M" (short enough for a label)."""
    if number < 1000:
        return str(number)
    size, unit = (1_000_000, "M") if number >= 1_000_000 else (1_000, "k")
    value = number / size
    return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"


def _duration(seconds: float) -> str:
    """Seconds as "0.8s", "42s", "12m", "3.1h"."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def format_totals(totals: Totals) -> str:
    """A subtree's totals as a label shows them: "Σ12 3.4kt 5.2s"."""
    count, tokens, seconds = totals
    return f"{TOTALS_MARK}{count} {_compact(tokens)}t {_duration(seconds)}"


def label_styles(widget: Widget) -> dict[str, Style]:
    """Label styles from the widget's component classes: colour and text style, no background.

    The full style is used because a translucent colour such as `$text-muted` only
    resolves against the background (the partial style blends it with white). The
    background is dropped so hover and cursor highlights still show through labels.
    """
    styles: dict[str, Style] = {}
    for role, fallback in FALLBACK_STYLES.items():
        try:
            full = widget.get_component_rich_style(f"forest-tree--{role}")
        except KeyError:  # CSS not applied yet (not mounted): rebuilt once it is
            styles[role] = fallback
            continue
        styles[role] = Style(
            color=full.color,
            bold=full.bold,
            italic=full.italic,
            dim=full.dim,
            underline=full.underline,
        )
    return styles


def run_label(
    item: ForestItem,
    styles: dict[str, Style],
    *,
    on_path: bool,
    totals: Totals | None,
    live: str | None,
    text_width: int,
    depth_mark: bool = False,
) -> Text:
    """The run's one-line label.

    Built as one string plus spans rather than by repeated `Text.append`, which is
    several times slower and runs once per materialised node. `live` is the progress text
    of a run ending in a streaming placeholder. `depth_mark` starts the label with the
    run's depth ("↳41 ") where the pane draws it shallower than it is; flattened runs
    always carry it.
    """
    muted = styles["muted"]
    first = item.first
    body = styles["current"] if on_path else None
    pieces: list[tuple[str, Style | None]] = []
    if item.flattened or depth_mark:
        pieces.append((f"{DEPTH_MARK}{item.depth} ", muted))
    glyph_style = styles["human"] if first.is_human else styles["model"]
    glyph = HUMAN_GLYPH if first.is_human else MODEL_GLYPH
    pieces.append((glyph, glyph_style))  # keeps its role colour on the current path
    pieces.append((" ", None))
    # Totals, sibling position and markers come before the text, which the pane may cut off.
    if totals is not None:
        pieces.append((f"{format_totals(totals)} ", muted))
    if item.sibling_count > 1:
        pieces.append((f"{item.sibling_index}/{item.sibling_count} ", muted))
    marks = item.marks
    if marks:
        pieces.append((f"{marks} ", styles["marker"]))
    noted = item.annotation_marks
    if noted:
        pieces.append((f"{noted} ", styles["annotation"]))
    if live is not None and len(item.responses) == 1:
        pieces.append((live, styles["streaming"]))
    else:
        line = first_line(first.message, text_width).replace("\t", " ")
        if line:
            pieces.append((line, body))
        else:
            pieces.append(("(empty)", muted + body if body else muted))
    if item.extra:
        pieces.append((f" +{item.extra}", muted))
    if live is not None and len(item.responses) > 1:
        pieces.append((f" {MODEL_GLYPH} {live}", styles["streaming"]))
    spans: list[Span] = []
    offset = 0
    for text, style in pieces:
        end = offset + len(text)
        if style is not None and end > offset:
            spans.append(Span(offset, end, style))
        offset = end
    return Text("".join(text for text, _ in pieces), spans=spans, no_wrap=True, end="")
