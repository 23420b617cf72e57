"""The Compare screen: sibling samples side by side, sampled in parallel, diffed by word.

Opened on a model message, it shows every child of that message's parent (model samples
and manual replies) as fixed-width columns in one scrollable row, so scrolling up and
down moves all columns together. `R` samples N new siblings at once
(`ConversationService.resample_many`), each streaming into its own column, from the
conversation's model or the one chosen with `p` (with the sampling parameters); Esc stops
them (the server keeps the partial replies) or, when nothing streams, closes the screen;
Enter continues the conversation from the focused sample.

Like the explorer, this screen never touches gRPC: it calls the service in workers and
redraws from the service's events (one Message class each, `app.events`), ignoring those
of other conversations or parents.
Sampling runs in app-level workers, so picking a sample while others still stream does not
cancel them: they finish in the background and the explorer shows them.

Streaming columns are cheap by design (see `app.widgets.sample_column`): token events
only queue text, and one timer draws every dirty column at most `FLUSH_HZ` times a
second, so the event loop stays free for the gRPC readers even with many live columns.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, ScrollableContainer, Vertical
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from grove_explorer.app import events
from grove_explorer.app.diffing import common_prefix_words, similarity, word_diff, words
from grove_explorer.app.errors import describe_error, error_title
from grove_explorer.app.events import connect_service
from grove_explorer.app.safe_text import clean, first_line
from grove_explorer.app.screens.dialogs import DIALOG_CSS
from grove_explorer.app.screens.help import HelpScreen, binding_rows
from grove_explorer.app.widgets.sample_column import MARKER, SampleColumn, sampling_parts
from grove_explorer.app.workers import run_service_call
from grove_explorer.client.catalog import ModelCatalog
from grove_explorer.client.events import StreamFailed
from grove_explorer.client.models import Forest, ResponseNode
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.service import ConversationService

log = logging.getLogger(__name__)

DEFAULT_SAMPLES = 4
"""Samples drawn by `R` without a count prefix."""

MAX_SAMPLES = 16
"""Upper bound of one batch: each sample is a server stream and a live column."""

FLUSH_HZ = 20
"""How often, at most, streamed text is drawn (all dirty columns in one frame)."""

SORTS: tuple[str, ...] = ("sampled", "length", "logprob", "time")
SORT_LABELS = {
    "sampled": "order sampled",
    "length": "length (shortest first)",
    "logprob": "mean logprob (highest first)",
    "time": "total time (fastest first)",
}

MAX_SEED = 2**63 - 1
MAX_INT32 = 2**31 - 1


# -- sampling parameters ---------------------------------------------------------------------


def parse_sampling(temperature: str, top_p: str, max_tokens: str, seed: str) -> SamplingParams:
    """Reads the params form; empty fields mean the server's default.

    Raises ValueError with one sentence per bad field (newline-separated). Only the
    shape of each value is checked here (numbers, integers, signs, top_p in (0, 1]); the
    server checks its own limits (e.g. the highest temperature) and says so if refused.
    """
    errors: list[str] = []

    def number(name: str, raw: str) -> float | None:
        raw = raw.strip()
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            errors.append(f"{name} must be a number (e.g. 0.8), not {clean(raw)!r}.")
            return None
        if not math.isfinite(value) or value < 0:
            errors.append(f"{name} must be a finite number ≥ 0, not {clean(raw)!r}.")
            return None
        return value

    def integer(name: str, raw: str, low: int, high: int) -> int | None:
        raw = raw.strip()
        if not raw:
            return None
        try:
            value = int(raw)
        except ValueError:
            errors.append(f"{name} must be a whole number, not {clean(raw)!r}.")
            return None
        if not low <= value <= high:
            errors.append(f"{name} must be between {low} and {high}, not {value}.")
            return None
        return value

    t = number("temperature", temperature)
    p = number("top_p", top_p)
    if p is not None and not 0 < p <= 1:
        errors.append(f"top_p must be greater than 0 and at most 1, not {p:g}.")
    m = integer("max_tokens", max_tokens, 1, MAX_INT32)
    s = integer("seed", seed, 0, MAX_SEED)
    if errors:
        raise ValueError("\n".join(errors))
    return SamplingParams(temperature=t, top_p=p, max_tokens=m, seed=s)


def describe_sampling(sampling: SamplingParams | None) -> str:
    """The params of the next batch in a few words ("server defaults" when none are set)."""
    if sampling is None:
        return "server defaults"
    return ", ".join(sampling_parts(sampling, seed_suffix="+i")) or "server defaults"


@dataclass(frozen=True, slots=True)
class BatchSettings:
    """What the params form returns: the batch's sampling parameters and model.

    `model_name` is None when the form offered no model choice (the server listed none).
    """

    sampling: SamplingParams
    model_name: str | None = None


def _field_text(value: float | int | None) -> str:
    """A param as the form shows it: empty for the server default, 0.8 not 0.8000000119."""
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


class SamplingScreen(ModalScreen[BatchSettings | None]):
    """A form for the next batch's model and sampling parameters; None when cancelled.

    Bad values keep the form open with the reasons under it: nothing is sent. The model
    list holds the catalog's names (`ConversationService.models()`), shown as plain text.
    """

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="SamplingScreen")
        + """
    SamplingScreen Grid {
        grid-size: 2;
        grid-columns: 16 1fr;
        grid-rows: 3;
        height: auto;
        margin-top: 1;
    }
    SamplingScreen Grid > Label {
        padding: 1 0 0 0;
    }
    SamplingScreen #params-error {
        color: $error;
        height: auto;
        margin-top: 1;
    }
    SamplingScreen Input.-invalid {
        border: tall $error;
    }
    SamplingScreen Select > SelectCurrent {
        /* A Horizontal too: undo the dialog's button-row rule. */
        margin-top: 0;
        align-horizontal: left;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    FIELDS = ("temperature", "top_p", "max_tokens", "seed")

    def __init__(
        self,
        current: SamplingParams | None,
        models: Sequence[str] = (),
        model_name: str = "",
    ) -> None:
        """`models` to choose from (none: no model field), `model_name` chosen at first."""
        super().__init__()
        self._current = current or SamplingParams()
        names = list(dict.fromkeys(models))
        if names and model_name and model_name not in names:
            names.append(model_name)  # e.g. a model the server no longer lists
        self._models = names
        self._model_name = model_name if model_name in names else (names[0] if names else "")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Sampling parameters for the next batch", style="bold"))
            yield Static(
                Text(
                    "Empty fields use the server's default. With a seed, sample i of a "
                    "batch uses seed + i.",
                    style="dim",
                )
            )
            with Grid():
                for name in self.FIELDS:
                    value = getattr(self._current, name)
                    yield Label(name)
                    yield Input(
                        _field_text(value),
                        placeholder="server default",
                        id=f"param-{name}",
                    )
                if self._models:
                    yield Label("model")
                    yield Select(
                        [(Text(clean(name)), name) for name in self._models],
                        value=self._model_name,
                        allow_blank=False,
                        id="param-model",
                    )
            yield Static("", id="params-error", markup=False)
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Use for next R", id="use", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#param-temperature", Input).focus()

    @property
    def error(self) -> str:
        """The validation message shown (empty when the values are fine)."""
        return str(self.query_one("#params-error", Static).content)

    @on(Input.Submitted)
    def _input_submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#use")
    def _use_pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_submit(self) -> None:
        """Validates the form; dismisses with the params, or shows why not."""
        values = {name: self.query_one(f"#param-{name}", Input).value for name in self.FIELDS}
        try:
            params = parse_sampling(**values)
        except ValueError as error:
            message = str(error)
            self.query_one("#params-error", Static).update(Text(message))
            first_bad = None
            for name in self.FIELDS:
                bad = message.startswith(name) or f"\n{name} " in message
                widget = self.query_one(f"#param-{name}", Input)
                widget.set_class(bad, "-invalid")
                if bad and first_bad is None:
                    first_bad = widget
            if first_bad is not None:
                first_bad.focus()
            self.app.bell()
            return
        self.dismiss(BatchSettings(params, self.model_name))

    @property
    def model_name(self) -> str | None:
        """The model chosen for the batch (None when the form offers no choice)."""
        if not self._models:
            return None
        value = self.query_one("#param-model", Select).value
        return value if isinstance(value, str) else self._model_name

    def action_cancel(self) -> None:
        """Closes without changing the params."""
        self.dismiss(None)


# -- the screen ------------------------------------------------------------------------------


class SampleRow(ScrollableContainer, can_focus=False):
    """The row of columns; scrolls both ways, so vertical scrolling moves every column.

    Not focusable: its arrow-key bindings would shadow the screen's column movement.
    """

    DEFAULT_CSS = """
    SampleRow {
        layout: horizontal;
        height: 1fr;
        overflow: auto auto;
        padding: 0 0 0 1;
    }
    """


class CompareScreen(Screen[str | None]):
    """Sibling samples side by side; dismisses with the picked sample's id (None: closed)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "escape", "Stop / close", id="compare_escape"),
        Binding("left,h", "move(-1)", "Prev", id="compare_prev", key_display="←/h"),
        Binding("right,l", "move(1)", "Next", id="compare_next", key_display="→/l"),
        Binding("enter", "pick", "Continue this", id="compare_pick"),
        Binding("R", "sample", "Sample N", id="compare_sample"),
        Binding(
            "p",
            "params",
            "Params",
            id="compare_params",
            tooltip="Model and sampling parameters of the next batch",
        ),
        Binding("d", "toggle_diff", "Diff", id="compare_diff"),
        Binding("D,asterisk", "set_reference", "Reference", id="compare_reference"),
        Binding("s", "cycle_sort", "Sort", id="compare_sort"),
        Binding("x", "hide", "Hide", id="compare_hide"),
        Binding("X", "show_all", "Show hidden", id="compare_show_all", show=False),
        Binding("question_mark", "help", "Help", id="compare_help", show=False),
        Binding("up,k", "scroll(-1)", "Scroll up", show=False),
        Binding("down,j", "scroll(1)", "Scroll down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown,space", "page(1)", "Page down", show=False),
        Binding("home,g", "top", "Top", show=False),
        Binding("end,G", "bottom", "Bottom", show=False),
        # Count prefix for R; undescribed, so the help lists R once instead of ten digits.
        *(Binding(str(d), f"count({d})", "", show=False) for d in range(10)),
    ]

    DEFAULT_CSS = """
    CompareScreen #compare-status {
        height: auto;
        padding: 0 1;
        background: $panel;
    }
    """

    def __init__(
        self,
        service: ConversationService,
        conversation_id: str,
        response_id: str,
        *,
        samples: int = 0,
        sampling: SamplingParams | None = None,
    ) -> None:
        """Compares the siblings of `response_id`; samples `samples` more at once if > 0."""
        super().__init__()
        self.service = service
        self.conversation_id = conversation_id
        forest = service.forest(conversation_id)
        anchor = forest.responses[response_id]
        self.parent_id: str | None = anchor.parent_id
        self.sampling = sampling
        """Parameters of the next batch (None: the server's defaults)."""
        self.model_name: str | None = None
        """The next batch's model (None: the conversation's)."""
        self.sort = "sampled"
        self.diff_mode = False
        self.reference_id: str | None = None
        self.count_prefix = ""
        self.hidden: set[str] = set()
        self.focused_id: str | None = response_id
        self._anchor_id = response_id
        self._initial_samples = samples
        self._columns: dict[str, SampleColumn] = {}
        # Column ids in the order their samples joined the forest (the "sampled" sort).
        self._order: list[str] = []
        self._dirty: set[str] = set()
        self._flush_timer: Timer | None = None
        self._view_pending = False
        self._reconcile_pending = False
        self._errors_shown: set[str] = set()
        # Placeholder ids already asked to stop.
        self._stopping: set[str] = set()
        # Set when this screen starts a batch: its first new column takes the highlight.
        self._focus_new = False
        self.common_prefix = 0
        """Words all shown finished samples share (computed in diff mode)."""
        self._unsubscribe: Callable[[], None] | None = None
        for node in self._sibling_nodes(forest):
            self._new_column(node, forest)

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with SampleRow(id="columns"):
            yield from (self._columns[rid] for rid in self._order)
        yield Static(id="compare-status", markup=False)
        yield Footer()

    @property
    def row(self) -> ScrollableContainer:
        """The scrollable row holding every column."""
        return self.query_one(SampleRow)

    @property
    def columns(self) -> list[SampleColumn]:
        """Every column (hidden ones too), in display order."""
        return [c for c in self.row.children if isinstance(c, SampleColumn)]

    @property
    def visible_columns(self) -> list[SampleColumn]:
        """The columns shown, in display order."""
        return [c for c in self.columns if c.response_id not in self.hidden]

    def column(self, response_id: str) -> SampleColumn | None:
        """The column of a sample (by stored id, or placeholder id while streaming)."""
        return self._columns.get(response_id)

    @property
    def focused_column(self) -> SampleColumn | None:
        """The highlighted column."""
        return self._columns.get(self.focused_id) if self.focused_id else None

    @property
    def streaming_ids(self) -> list[str]:
        """Placeholder ids of the samples still streaming."""
        return [rid for rid in self._order if self._columns[rid].streaming]

    def on_mount(self) -> None:
        self._unsubscribe = connect_service(self.service, self)
        forest = self._forest()
        parent = forest.responses.get(self.parent_id) if forest and self.parent_id else None
        about = first_line(parent.message, 60) if parent is not None else ""
        self.title = f"Compare · {about}" if about else "Compare samples"
        if self.focused_id not in self._columns:
            self.focused_id = self._order[0] if self._order else None
        self._sync_focus()
        self._refresh_status()
        if self._initial_samples > 0:
            self._start_batch(self._initial_samples)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._flush_timer is not None:
            self._flush_timer.stop()

    # -- model -------------------------------------------------------------------------------

    def _forest(self) -> Forest | None:
        try:
            return self.service.forest(self.conversation_id)
        except KeyError:
            return None

    def _sibling_nodes(self, forest: Forest) -> list[ResponseNode]:
        """The model (and manual) children of the parent, oldest first."""
        nodes = (forest.responses[rid] for rid in forest.children_of(self.parent_id))
        return [node for node in nodes if not node.is_human]

    def _sibling(self, forest: Forest | None, response_id: str) -> tuple[int, int]:
        if forest is None or response_id not in forest.responses:
            return (0, 0)
        return forest.sibling_index(response_id)

    def _new_column(self, node: ResponseNode, forest: Forest | None) -> SampleColumn:
        column = SampleColumn(node, self._sibling(forest, node.response_id))
        self._columns[node.response_id] = column
        self._order.append(node.response_id)
        return column

    def _rekey(self, old: str, new: str) -> None:
        """A placeholder became a stored response: its column now goes by the new id."""
        self._columns[new] = self._columns.pop(old)
        self._order[self._order.index(old)] = new
        if old in self.hidden:
            self.hidden.discard(old)
            self.hidden.add(new)
        if self.focused_id == old:
            self.focused_id = new
        if self.reference_id == old:
            self.reference_id = new
        self._dirty.discard(old)
        self._stopping.discard(old)

    def _remove_column(self, response_id: str) -> None:
        column = self._columns.pop(response_id, None)
        if column is None:
            return
        visible = [c.response_id for c in self.visible_columns]
        self._order.remove(response_id)
        self.hidden.discard(response_id)
        self._dirty.discard(response_id)
        self._stopping.discard(response_id)
        if self.focused_id == response_id:
            index = visible.index(response_id) if response_id in visible else 0
            rest = [rid for rid in visible if rid != response_id]
            self.focused_id = rest[min(index, len(rest) - 1)] if rest else None
        if self.reference_id == response_id:
            self.reference_id = None
        column.remove()
        self._sync_focus()

    def _refresh_siblings(self) -> None:
        """Updates every "k/n" (a new sample changes n for all)."""
        forest = self._forest()
        for rid, column in self._columns.items():
            column.set_sibling(self._sibling(forest, rid))

    # -- service events ----------------------------------------------------------------------

    @on(events.ConversationDeleted)
    def _on_conversation_deleted(self, message: events.ConversationDeleted) -> None:
        if message.event.conversation_id == self.conversation_id:
            self.dismiss(None)

    @on(events.TokensAppended)
    def _on_tokens_appended(self, message: events.TokensAppended) -> None:
        event = message.event
        if event.conversation_id != self.conversation_id:
            return
        column = self._columns.get(event.response_id)
        if column is not None:
            column.append(event.text, len(event.tokens))
            self._dirty.add(event.response_id)
            self._schedule_flush()

    @on(events.ResponseAdded)
    def _on_response_added(self, message: events.ResponseAdded) -> None:
        if message.event.conversation_id == self.conversation_id:
            self._response_added(message.event.node)

    @on(events.ResponseCompleted)
    def _on_response_completed(self, message: events.ResponseCompleted) -> None:
        event = message.event
        if event.conversation_id == self.conversation_id:
            self._response_completed(event.placeholder_id, event.node)

    @on(events.StreamFailed)
    def _on_stream_failed(self, message: events.StreamFailed) -> None:
        if message.event.conversation_id == self.conversation_id:
            self._stream_failed(message.event)

    @on(events.LeafMoved)
    def _on_leaf_moved(self, message: events.LeafMoved) -> None:
        # A cancelled stream's placeholder is dropped with only this event to say so.
        if message.event.conversation_id == self.conversation_id:
            self._schedule_reconcile()

    def _stream_failed(self, event: StreamFailed) -> None:
        """Drops the failed sample's column, or keeps it when the server kept its partial.

        A partial reply was announced by `ResponseCompleted` first, which re-keyed its
        column to the stored id: that column stays, with what the model wrote.
        """
        partial = event.partial
        if partial is not None:
            if event.placeholder_id in self._columns:  # not re-keyed yet: do it now
                self._response_completed(event.placeholder_id, partial)
            if partial.response_id not in self._columns:
                return
        elif event.placeholder_id in self._columns:
            self._remove_column(event.placeholder_id)
            self._refresh_siblings()
            self._schedule_view()
        else:
            return
        sentence = describe_error(event.error)  # the server says so when it kept a partial
        if sentence not in self._errors_shown:
            self._errors_shown.add(sentence)
            self.notify(
                sentence,
                title=error_title(event.error, "Sampling failed"),
                severity="error",
                timeout=10,
                markup=False,
            )

    def _response_added(self, node: ResponseNode) -> None:
        if node.parent_id != self.parent_id or node.is_human:
            return
        column = self._columns.get(node.response_id)
        if column is not None:
            if not node.streaming:
                column.update_node(node)
            return
        column = self._new_column(node, self._forest())
        self.row.mount(column)
        self._refresh_siblings()
        if self.focused_id is None or (self._focus_new and node.streaming):
            self._focus_new = False
            self.focused_id = node.response_id
            self._sync_focus()
        self._schedule_view()

    def _response_completed(self, placeholder_id: str, node: ResponseNode) -> None:
        if placeholder_id not in self._columns:
            # Not a placeholder we were showing (e.g. it started before this screen).
            self._response_added(node)
            return
        self._rekey(placeholder_id, node.response_id)
        self._columns[node.response_id].complete(node)
        self._refresh_siblings()
        self._schedule_view()

    # -- coalesced drawing -------------------------------------------------------------------

    def _schedule_flush(self) -> None:
        """Draws queued text within 1/FLUSH_HZ s: one content update per dirty column."""
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(1 / FLUSH_HZ, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        dirty, self._dirty = self._dirty, set()
        for rid in dirty:
            column = self._columns.get(rid)
            if column is not None:
                column.flush()

    def _schedule_view(self) -> None:
        """Re-sorts and re-diffs once after a burst of structural changes."""
        if not self._view_pending:
            self._view_pending = True
            self.call_later(self._apply_view)

    def _apply_view(self) -> None:
        self._view_pending = False
        self._apply_order()
        self._apply_diff()
        self._refresh_status()

    def _sort_key(self, column: SampleColumn) -> tuple[Any, ...]:
        node = column.node
        if self.sort == "length":
            return (len(words(column.text)),)
        if self.sort == "logprob":
            mean = node.mean_logprob
            return (mean is None, -(mean or 0.0))
        if self.sort == "time":
            known = not column.streaming and node.total_time > 0
            return (not known, node.total_time)
        return ()

    def ordered_ids(self) -> list[str]:
        """Every column id in display order: the current sort, ties in sampling order."""
        if self.sort == "sampled":
            return list(self._order)
        return sorted(self._order, key=lambda rid: self._sort_key(self._columns[rid]))

    def _apply_order(self) -> None:
        wanted = [self._columns[rid] for rid in self.ordered_ids()]
        row = self.row
        current = [c for c in row.children if isinstance(c, SampleColumn)]
        if current == wanted:
            return
        previous: SampleColumn | None = None
        for column in wanted:
            if column.parent is not row:
                continue  # still being mounted; it joins at the end
            if previous is None:
                row.move_child(column, before=0)
            else:
                row.move_child(column, after=previous)
            previous = column
        self.call_after_refresh(self._scroll_to_focused)

    def _apply_diff(self) -> None:
        if not self.diff_mode:
            for column in self._columns.values():
                column.show_markdown()
            return
        reference = self._columns.get(self.reference_id) if self.reference_id else None
        if reference is None or reference.streaming:
            reference = next((c for c in self.visible_columns if not c.streaming), None)
            self.reference_id = reference.response_id if reference else None
        finished = [c for c in self.visible_columns if not c.streaming]
        texts = [clean(c.text) for c in finished]
        prefix = common_prefix_words(texts) if len(texts) > 1 else 0
        # Samples that differ from their first word need no marker: nothing is shared.
        diverge = prefix > 0 and any(len(words(t)) > prefix for t in texts)
        self.common_prefix = prefix
        ref_text = clean(reference.text) if reference is not None else ""
        for column in self._columns.values():
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

    def _schedule_reconcile(self) -> None:
        if not self._reconcile_pending:
            self._reconcile_pending = True
            self.call_later(self._reconcile)

    def _reconcile(self) -> None:
        """Drops streaming columns whose placeholder left the forest without an event.

        That happens when a stream is cancelled outright (not stopped): the server keeps
        the partial reply under a new id, which reopening the conversation shows.
        """
        self._reconcile_pending = False
        forest = self._forest()
        if forest is None or not self.is_attached:
            return
        gone = [rid for rid in self.streaming_ids if rid not in forest.responses]
        for rid in gone:
            self._remove_column(rid)
        if gone:
            self._refresh_siblings()
            self._schedule_view()

    # -- focus and status --------------------------------------------------------------------

    def _sync_focus(self) -> None:
        for rid, column in self._columns.items():
            column.set_class(rid == self.focused_id, "-focused")
        self.call_after_refresh(self._scroll_to_focused)

    def _scroll_to_focused(self, attempt: int = 0) -> None:
        """Scrolls the focused column into view, horizontally only.

        A column mounted a moment ago may not be laid out yet (no region): try again
        after the next refresh, a few times at most.
        """
        column = self.focused_column
        if column is None or not column.is_attached or column.display is False:
            return
        if not column.virtual_region.width:
            if attempt < 5:
                self.call_after_refresh(self._scroll_to_focused, attempt + 1)
            return
        self.row.scroll_to_region(
            column.virtual_region_with_margin, animate=False, y_axis=False, immediate=True
        )

    def _refresh_status(self) -> None:
        if not self.is_attached:
            return
        streaming = len(self.streaming_ids)
        n = self._requested_count()
        self.sub_title = f"sort: {SORT_LABELS[self.sort]}"
        status = Text()
        status.append(f"{len(self.visible_columns)} shown", style="bold")
        if self.hidden:
            status.append(f" · {len(self.hidden)} hidden (X shows them)")
        if streaming:
            status.append(f" · {streaming} streaming (Esc stops)", style="bold")
        status.append(f" · sort: {SORT_LABELS[self.sort]}")
        if self.diff_mode:
            ref = self._columns.get(self.reference_id) if self.reference_id else None
            label = f"{ref.sibling[0]}/{ref.sibling[1]}" if ref else "none"
            status.append(f" · diff vs {label}: ")
            status.append("inserted", style="bold green")
            status.append(" ")
            status.append("changed", style="bold yellow")
            status.append(" ")
            if self.common_prefix:
                status.append(f"{MARKER} diverge after {self.common_prefix}", style="bold magenta")
            else:
                status.append("no shared opening", style="dim")
        else:
            status.append(" · diff off (d)")
        model = f" from {clean(self.model_name)}" if self.model_name is not None else ""
        status.append(f" · [count] R samples {n}{model}: {describe_sampling(self.sampling)}")
        if self.count_prefix:
            status.append(f" · count {self.count_prefix}_", style="bold reverse")
        self.query_one("#compare-status", Static).update(status)

    def _requested_count(self) -> int:
        return int(self.count_prefix) if self.count_prefix else DEFAULT_SAMPLES

    # -- running service calls ---------------------------------------------------------------

    def _after_call(self) -> None:
        """After a sampling or stop call, whatever happened: columns and status catch up."""
        if self.is_attached:
            self._schedule_reconcile()
            self._refresh_status()

    def _start_batch(self, n: int) -> None:
        forest = self._forest()
        if forest is None:
            self.notify("This conversation is no longer open.", severity="warning")
            return
        anchor: str | None = self._anchor_id
        if anchor not in forest.responses or forest.responses[anchor].streaming:
            # The anchor only names the parent; any stored sibling does.
            anchor = next(
                (node.response_id for node in self._sibling_nodes(forest) if not node.streaming),
                None,
            )
        if anchor is None:
            self.notify("Nothing to sample beside yet.", severity="warning")
            return
        self._anchor_id = anchor
        self._errors_shown = set()
        self._focus_new = True
        # App-level (detached), so dismissing this screen does not cancel the streams.
        run_service_call(
            self,
            self.service.resample_many(
                self.conversation_id,
                anchor,
                n,
                sampling=self.sampling,
                model_name=self.model_name,
            ),
            always=self._after_call,
            name=f"compare: sample {n}",
            group="compare",
            detached=True,
        )

    # -- actions -----------------------------------------------------------------------------

    def action_count(self, digit: int) -> None:
        """Builds a count prefix for `R` (e.g. 8 then R samples eight); two digits at most."""
        if len(self.count_prefix) >= 2:
            self.count_prefix = ""
        if digit or self.count_prefix:  # a leading zero counts nothing
            self.count_prefix += str(digit)
        self._refresh_status()

    def action_sample(self) -> None:
        """Samples N new siblings in parallel (N: the count prefix, else 4)."""
        n = self._requested_count()
        self.count_prefix = ""
        if n > MAX_SAMPLES:
            self.notify(f"At most {MAX_SAMPLES} samples at once; sampling {MAX_SAMPLES}.")
            n = MAX_SAMPLES
        self._start_batch(n)
        self._refresh_status()

    def action_escape(self) -> None:
        """Stops every running sample (partials are kept), else clears a count, else closes."""
        streaming = self.streaming_ids
        if streaming:
            # Asking twice would make the service cancel (not stop) a stream the server
            # already ended, losing its placeholder: each sample is stopped once.
            fresh = [rid for rid in streaming if rid not in self._stopping]
            if not fresh:
                self.notify("Still stopping… partial replies are kept.", timeout=3)
                return
            self._stopping.update(fresh)

            async def stop_all() -> None:
                await asyncio.gather(*(self.service.stop(rid) for rid in fresh))

            run_service_call(
                self,
                stop_all(),
                always=self._after_call,
                name="compare: stop",
                group="compare",
                detached=True,
            )
            count = len(fresh)
            self.notify(
                f"Stopping {count} {'sample' if count == 1 else 'samples'}… "
                "partial replies are kept.",
                timeout=3,
            )
        elif self.count_prefix:
            self.count_prefix = ""
            self._refresh_status()
        else:
            self.dismiss(None)

    def action_move(self, delta: int) -> None:
        """Moves the highlight to the previous/next shown column."""
        ids = [c.response_id for c in self.visible_columns]
        if not ids:
            return
        index = ids.index(self.focused_id) if self.focused_id in ids else 0
        self.focused_id = ids[max(0, min(len(ids) - 1, index + delta))]
        self._sync_focus()

    def action_pick(self) -> None:
        """Continues the conversation from the focused sample (its last-visited leaf)."""
        column = self.focused_column
        if column is None:
            return
        if column.streaming:
            self.notify("This sample is still streaming: wait, or Esc to stop it.", timeout=3)
            return
        forest = self._forest()
        if forest is None or column.response_id not in forest.responses:
            return
        self.service.select(self.conversation_id, forest.descend(column.response_id))
        self.dismiss(column.response_id)

    def action_hide(self) -> None:
        """Hides the focused column (X shows hidden columns again)."""
        column = self.focused_column
        if column is None:
            return
        visible = [c.response_id for c in self.visible_columns]
        index = visible.index(column.response_id)
        self.hidden.add(column.response_id)
        column.display = False
        rest = [rid for rid in visible if rid != column.response_id]
        self.focused_id = rest[min(index, len(rest) - 1)] if rest else None
        self._sync_focus()
        self._schedule_view()

    def action_show_all(self) -> None:
        """Shows every hidden column again."""
        for rid in self.hidden:
            self._columns[rid].display = True
        self.hidden.clear()
        if self.focused_id is None and self._order:
            self.focused_id = self._order[0]
        self._sync_focus()
        self._schedule_view()

    def action_cycle_sort(self) -> None:
        """Cycles the column order: sampled → length → mean logprob → total time."""
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._apply_view()
        self.notify(f"Sorted by {SORT_LABELS[self.sort]}.", timeout=2)

    def action_toggle_diff(self) -> None:
        """Diff mode on (against the focused column) or off."""
        self.diff_mode = not self.diff_mode
        if self.diff_mode:
            column = self.focused_column
            if column is not None and not column.streaming:
                self.reference_id = column.response_id
        self._apply_view()

    def action_set_reference(self) -> None:
        """Makes the focused column the diff reference (turning diff mode on)."""
        column = self.focused_column
        if column is None:
            return
        if column.streaming:
            self.notify("A streaming sample cannot be the reference yet.", timeout=3)
            return
        self.reference_id = column.response_id
        self.diff_mode = True
        self._apply_view()

    def action_params(self) -> None:
        """Opens the form for the next batch's model and sampling parameters.

        The model list comes from the server's catalog (fetched once by the service); a
        server that lists none leaves the form without a model field.
        """
        self.run_worker(
            self._open_params(), group="compare-params", exclusive=True, exit_on_error=False
        )

    async def _open_params(self) -> None:
        catalog: ModelCatalog | None
        try:
            catalog = await self.service.models()
        except Exception as error:  # sampling parameters work without the catalog
            log.debug("ListModels failed; no model choice in the form", exc_info=True)
            self.notify(f"No model list: {describe_error(error)}", severity="warning", markup=False)
            catalog = None
        conversation_model = self._conversation_model(catalog)
        names = [m.name for m in catalog.models] if catalog is not None else []

        def chosen(result: BatchSettings | None) -> None:
            if result is None:
                return
            self.sampling = None if result.sampling == SamplingParams() else result.sampling
            if result.model_name is not None:
                # The conversation's own model needs no override (and follows it).
                keep = result.model_name != conversation_model
                self.model_name = result.model_name if keep else None
            self._refresh_status()

        if self.is_current:
            self.app.push_screen(
                SamplingScreen(self.sampling, names, self.model_name or conversation_model),
                chosen,
            )

    def _conversation_model(self, catalog: ModelCatalog | None) -> str:
        """The model the conversation samples from: its own choice, else the default."""
        try:
            name = self.service.settings(self.conversation_id).model_name
        except KeyError:
            name = ""
        if not name and catalog is not None:
            name = catalog.default_model
        return name

    def action_help(self) -> None:
        """Shows this screen's keys."""
        self.app.push_screen(HelpScreen(binding_rows([self.app, self])))

    def action_scroll(self, delta: int) -> None:
        """Scrolls every column up or down by a line."""
        self.row.scroll_relative(y=delta, animate=False)

    def action_page(self, delta: int) -> None:
        """Scrolls every column up or down by a page."""
        if delta < 0:
            self.row.scroll_page_up(animate=False)
        else:
            self.row.scroll_page_down(animate=False)

    def action_top(self) -> None:
        """Scrolls to the top of the columns."""
        self.row.scroll_to(y=0, animate=False)

    def action_bottom(self) -> None:
        """Scrolls to the bottom of the longest column."""
        self.row.scroll_to(y=self.row.max_scroll_y, animate=False)

    def header_texts(self) -> list[str]:
        """The plain header of each shown column, in display order (for tests)."""
        return [c.header.plain for c in self.visible_columns]
