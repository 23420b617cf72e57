"""The compare screen's core: its columns, how they follow the service, how they are drawn.

`CompareCore` keeps one `SampleColumn` per sibling sample, re-keys a streaming column when
its placeholder is stored, and draws coalesced: token events only queue text, and one
timer draws every dirty column in view at most `FLUSH_HZ` times a second (`drawing.py`).
Columns are marked by model colour and batches fan out across models (`fanout.py`).
Sorting, hiding and the word diff are applied in one pass (`_apply_view`), whose work is
in `view_order.py`. The keys live in `screen.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import partial

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.screen import Screen
from textual.widgets import Header

from grove_explorer.app import events
from grove_explorer.app.errors import describe_error, error_title
from grove_explorer.app.events import connect_service
from grove_explorer.app.safe_text import first_line
from grove_explorer.app.screens.compare import view_order
from grove_explorer.app.screens.compare.drawing import CoalescedDrawing
from grove_explorer.app.screens.compare.fanout import (
    MAX_SAMPLES,
    FanOut,
    fan_out_batch,
    session_of,
)
from grove_explorer.app.screens.compare.sampling_form import describe_sampling
from grove_explorer.app.screens.compare.view_order import SORT_LABELS
from grove_explorer.app.widgets.fitting_footer import FittingFooter
from grove_explorer.app.widgets.live_lines import HeaderLines
from grove_explorer.app.widgets.sample_column import MARKER, SampleColumn
from grove_explorer.app.workers import run_service_call
from grove_explorer.client.catalog import ModelCatalog
from grove_explorer.client.events import StreamFailed
from grove_explorer.client.forest import Forest
from grove_explorer.client.models import ResponseNode
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.service import ConversationService


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


class CompareCore(Screen[str | None]):
    """State, columns and drawing of the compare screen; see `CompareScreen` for the keys."""

    def __init__(
        self,
        service: ConversationService,
        conversation_id: str,
        response_id: str,
        *,
        samples: int = 0,
        sampling: SamplingParams | None = None,
        only: Collection[str] | None = None,
        only_label: str = "",
    ) -> None:
        """Compares the siblings of `response_id`; samples `samples` more at once if > 0.

        `only` (e.g. one sweep cell's samples) shows just those siblings: the others start
        hidden, counted in the status line under `only_label`, and X shows them.
        """
        super().__init__()
        self.service = service
        self.conversation_id = conversation_id
        forest = service.forest(conversation_id)
        anchor = forest.responses[response_id]
        self.parent_id: str | None = anchor.parent_id
        self.sampling = sampling
        """Parameters of the next batch (None: the server's defaults)."""
        self.session = session_of(service)
        """What Compare screens of this app share: model colours, the last fan-out set."""
        self.fan_out: FanOut = self.session.fan_out or FanOut()
        """The next batch's models (none: the conversation's) and samples per model."""
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
        self.drawing = CoalescedDrawing(self, self._columns, lambda: self.row)
        """Draws streamed text coalesced, columns in view only (`drawing.py`)."""
        self._view_pending = False
        self._reconcile_pending = False
        self._errors_shown: set[str] = set()
        # Placeholder ids already asked to stop.
        self._stopping: set[str] = set()
        # Samples whose mean logprob was asked of the service (`_fill_logprobs`).
        self._logprob_asked: set[str] = set()
        # Set when this screen starts a batch: its first new column takes the highlight.
        self._focus_new = False
        self.common_prefix = 0
        """Words all shown finished samples share (computed in diff mode)."""
        self._unsubscribe: Callable[[], None] | None = None
        for node in self._sibling_nodes(forest):
            self._new_column(node, forest)
        self.only_label = only_label if only is not None else ""
        """What the columns shown at first are (a sweep cell), "" when every sibling is."""
        if only is not None:
            for rid, column in self._columns.items():
                if rid not in only:
                    self.hidden.add(rid)
                    column.display = False

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with SampleRow(id="columns"):
            yield from (self._columns[rid] for rid in self._order)
        yield HeaderLines(Text(), id="compare-status")
        yield FittingFooter()

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
        self.watch(self.row, "scroll_x", self._scrolled, init=False)
        forest = self._forest()
        parent = forest.responses.get(self.parent_id) if forest and self.parent_id else None
        about = first_line(parent.message, 60) if parent is not None else ""
        self.title = f"Compare · {about}" if about else "Compare samples"
        if self.focused_id not in self._columns:
            self.focused_id = self._order[0] if self._order else None
        self._sync_focus()
        self._refresh_status()
        self._fill_logprobs()
        if self._initial_samples > 0:
            self._start_batch(self._initial_samples)

    def _fill_logprobs(self) -> None:
        """Asks the service for the mean logprob of finished samples without one.

        Those loaded from the server (not streamed here) get it from their cached tokens.
        """
        for rid, column in list(self._columns.items()):
            node = column.node
            if column.streaming or node.mean_logprob is not None or not node.token_count:
                continue
            if rid in self._logprob_asked:
                continue
            self._logprob_asked.add(rid)
            run_service_call(
                self,
                self.service.mean_logprob(self.conversation_id, rid),
                done=partial(self._logprob_known, rid),
                group="logprobs",
            )

    def _logprob_known(self, response_id: str, mean: float | None) -> None:
        column = self._columns.get(response_id)
        if mean is not None and column is not None and not column.streaming:
            column.update_node(column.node.model_copy(update={"mean_logprob": mean}))
            self._schedule_view()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.drawing.stop()

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
        column.mark_model(self.session.colour(node.model_name))
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
        self.drawing.forget(old)
        self._stopping.discard(old)

    def _remove_column(self, response_id: str) -> None:
        column = self._columns.pop(response_id, None)
        if column is None:
            return
        visible = [c.response_id for c in self.visible_columns]
        self._order.remove(response_id)
        self.hidden.discard(response_id)
        self.drawing.forget(response_id)
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
            self.drawing.queue(event.response_id)

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
        if not self.row.is_attached:
            return  # the app's teardown detached the screen: mounting would raise
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
        column = self._columns[node.response_id]
        seen = node.response_id in view_order.ids_in_view(self.row, [column])
        column.complete(node, draw=seen)
        if not seen:
            self.drawing.hold(node.response_id)
        column.mark_model(self.session.colour(node.model_name))
        self._refresh_siblings()
        self._fill_logprobs()
        self._schedule_view()

    # -- coalesced drawing -------------------------------------------------------------------

    def _scrolled(self) -> None:
        """The row scrolled sideways: columns that came into view are drawn at once."""
        self.drawing.bring_into_view()
        self._refresh_status()

    def on_resize(self) -> None:
        self.drawing.bring_into_view()
        self.call_after_refresh(self._refresh_status)

    def _schedule_view(self) -> None:
        """Re-sorts and re-diffs once after a burst of structural changes."""
        if not self._view_pending:
            self._view_pending = True
            self.call_later(self._apply_view)

    def _apply_view(self) -> None:
        self._view_pending = False
        self.drawing.bring_into_view()  # a new order or hidden columns change what is seen
        self._apply_order()
        self._apply_diff()
        self._refresh_status()

    def _conversation_model(self, catalog: ModelCatalog | None) -> str:
        """The model the conversation samples from: its own choice, else the default."""
        try:
            name = self.service.settings(self.conversation_id).model_name
        except KeyError:
            name = ""
        if not name and catalog is not None:
            name = catalog.default_model
        return name

    def ordered_ids(self) -> list[str]:
        """Every column id in display order: the current sort, ties in sampling order."""
        return view_order.ordered_ids(self._order, self._columns, self.sort)

    def _apply_order(self) -> None:
        wanted = [self._columns[rid] for rid in self.ordered_ids()]
        if view_order.place_columns(self.row, wanted):
            self.call_after_refresh(self._scroll_to_focused)

    def _apply_diff(self) -> None:
        columns = list(self._columns.values())
        if not self.diff_mode:
            view_order.show_plain(columns)
            return
        reference = self._columns.get(self.reference_id) if self.reference_id else None
        outcome = view_order.show_diffs(columns, self.visible_columns, reference)
        self.reference_id = outcome.reference_id
        self.common_prefix = outcome.common_prefix

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
        self._refresh_status()  # "columns a-b of n" needs the layout this waited for

    def _refresh_status(self) -> None:
        if not self.is_attached:
            return
        streaming = len(self.streaming_ids)
        n = self._requested_count()
        self.sub_title = f"sort: {SORT_LABELS[self.sort]}"
        visible = self.visible_columns
        status = self.session.legend(c.node.model_name for c in visible)
        first, last = view_order.columns_in_view(self.row, visible)
        if first > 1 or last < len(visible):
            status.append(f"  columns {first}-{last} of {len(visible)}", style="bold reverse")
            status.append(" (←/→ move)", style="dim")
        status.append("\n" if visible else "")
        if self.only_label and self.hidden:
            status.append(f"{self.only_label}: ", style="bold")
        status.append(f"{len(visible)} shown", style="bold")
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
        plan = self.fan_out.describe(n)
        status.append(f" · [count] R samples {plan}: {describe_sampling(self.sampling)}")
        if self.count_prefix:
            status.append(f" · count {self.count_prefix}_", style="bold reverse")
        self.query_one("#compare-status", HeaderLines).show(status)

    def _requested_count(self) -> int:
        """Samples per model of the next batch: the count prefix, else the form's."""
        return int(self.count_prefix) if self.count_prefix else self.fan_out.per_model

    @property
    def model_name(self) -> str | None:
        """The next batch's one model when it samples from a single chosen model."""
        return self.fan_out.models[0] if len(self.fan_out.models) == 1 else None

    @model_name.setter
    def model_name(self, name: str | None) -> None:
        """Samples the next batch from one model (None: the conversation's)."""
        self.fan_out = FanOut(() if name is None else (name,), self.fan_out.per_model)

    # -- running service calls ---------------------------------------------------------------

    def _after_call(self) -> None:
        """After a sampling or stop call, whatever happened: columns and status catch up."""
        if self.is_attached:
            self._schedule_reconcile()
            self._refresh_status()

    def _start_batch(self, n: int) -> None:
        """Samples `n` new siblings from each model of the fan-out set, all in parallel."""
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
        each, total = self.fan_out.capped(n)
        if each < n:
            models = len(self.fan_out.models)
            self.notify(
                f"At most {MAX_SAMPLES} samples per batch: sampling {total} of the "
                f"{self.fan_out.total(n)} asked"
                + (f" ({each} from each of {models} models)." if models > 1 else "."),
                markup=False,
            )
            n = each
        self._errors_shown = set()
        self._focus_new = True
        # App-level (detached), so dismissing this screen does not cancel the streams.
        run_service_call(
            self,
            fan_out_batch(
                self.service, self.conversation_id, anchor, n, self.fan_out.models, self.sampling
            ),
            always=self._after_call,
            name=f"compare: sample {n}",
            group="compare",
            detached=True,
        )
