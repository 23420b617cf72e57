"""The Compare screen: sibling samples side by side, sampled in parallel, diffed by word.

Opened on a model message, it shows every child of that message's parent (model samples
and manual replies) as fixed-width columns in one scrollable row, so scrolling up and
down moves all columns together. `R` samples N new siblings at once from each model of
the batch (`fanout.fan_out_batch`), each streaming into its own column marked by its
model's colour: from the conversation's model, or the set of models chosen with `p` (with
N per model and the sampling parameters); Esc stops
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
from typing import ClassVar

from textual.binding import Binding, BindingType

from grove_explorer.app.errors import describe_error
from grove_explorer.app.screens.compare.fanout import FanOut
from grove_explorer.app.screens.compare.fusing import FusingCompare
from grove_explorer.app.screens.compare.judging import show_rationale, start_judging
from grove_explorer.app.screens.compare.sampling_form import BatchSettings, SamplingScreen
from grove_explorer.app.screens.compare.spread_view import SpreadScreen
from grove_explorer.app.screens.compare.view_order import SORT_LABELS, SORTS
from grove_explorer.app.screens.help import HelpScreen, binding_rows
from grove_explorer.app.workers import run_service_call
from grove_explorer.client.catalog import ModelCatalog
from grove_explorer.client.sampler import SamplingParams

log = logging.getLogger(__name__)


class CompareScreen(FusingCompare):
    """Sibling samples side by side; dismisses with the picked sample's id (None: closed)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Footer order: the research loop first (sample, judge, fuse, read the spread),
        # then the view; keys that do not fit are dropped from the right and every key is
        # in the help (?).
        Binding("escape", "escape", "Stop / close", id="compare_escape"),
        Binding("R", "sample", "Sample N", id="compare_sample"),
        Binding(
            "p",
            "params",
            "Params",
            id="compare_params",
            tooltip="Models, samples per model and sampling parameters of the next batch",
        ),
        Binding("J", "judge", "Judge", id="compare_judge", tooltip="Score the shown samples"),
        Binding("F", "fuse", "Fuse", id="compare_fuse", tooltip="Fuse marked (or all) samples"),
        Binding(
            "S",
            "spread",
            "Spread",
            id="compare_spread",
            tooltip="Statistics of the shown samples: similarity, clusters, answers, spread",
        ),
        Binding("enter", "pick", "Continue this", id="compare_pick"),
        Binding("d", "toggle_diff", "Diff", id="compare_diff"),
        Binding("s", "cycle_sort", "Sort", id="compare_sort"),
        Binding(
            "o",
            "order_similar",
            "Similar",
            id="compare_order_similar",
            tooltip="Order columns so similar samples sit together (again: order sampled)",
        ),
        Binding("x", "hide", "Hide", id="compare_hide"),
        Binding("m", "mark", "Mark to fuse", id="compare_mark"),
        Binding("W", "rationale", "Why (judge)", id="compare_rationale"),
        Binding("left,h", "move(-1)", "Prev", id="compare_prev", key_display="←/h", show=False),
        Binding("right,l", "move(1)", "Next", id="compare_next", key_display="→/l", show=False),
        Binding("D,asterisk", "set_reference", "Reference", id="compare_reference", show=False),
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

    def action_count(self, digit: int) -> None:
        """Builds a count prefix for `R` (e.g. 8 then R samples eight); two digits at most."""
        if len(self.count_prefix) >= 2:
            self.count_prefix = ""
        if digit or self.count_prefix:  # a leading zero counts nothing
            self.count_prefix += str(digit)
        self._refresh_status()

    def action_sample(self) -> None:
        """Samples N new siblings from each model of the batch, in parallel.

        N: the count prefix, else the form's samples per model (4 at first); a batch over
        `MAX_SAMPLES` in all is lowered, and says so.
        """
        n = self._requested_count()
        self.count_prefix = ""
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
        # Detached: the place is stored (or its failure reported) after Compare closes.
        run_service_call(
            self,
            self.service.leaf_saved(self.conversation_id),
            name="save place",
            group="place",
            detached=True,
        )
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
        """Cycles the column order: sampled → length → logprob → time → similar → score."""
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._apply_view()
        self.notify(f"Sorted by {SORT_LABELS[self.sort]}.", timeout=2)

    def action_order_similar(self) -> None:
        """Orders the columns by similarity (seriation), or back to the sampling order."""
        self.sort = "sampled" if self.sort == "similar" else "similar"
        self._apply_view()
        self.notify(f"Sorted by {SORT_LABELS[self.sort]}.", timeout=2)

    def action_spread(self) -> None:
        """Opens the spread statistics of the shown finished samples (see spread_view.py)."""
        finished = [c for c in self.visible_columns if not c.streaming]
        nodes = [c.node for c in finished]
        labels = [f"#{c.sibling[0]}" for c in finished]  # as the column headers number them
        if not nodes:
            self.notify("No finished sample to read yet.", severity="warning", timeout=3)
            return
        try:
            model = self.model_name or self.service.settings(self.conversation_id).model_name
        except KeyError:  # the conversation was closed meanwhile: the default model
            model = ""
        self.app.push_screen(SpreadScreen(self.service, self.conversation_id, nodes, model, labels))

    def action_judge(self) -> None:
        """A judge model scores the shown samples (judging.py)."""
        start_judging(self)

    def action_rationale(self) -> None:
        """The focused sample's judgements in full, rationale included."""
        show_rationale(self)

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
            fan_out = result.fan_out
            if fan_out.models == (conversation_model,):
                # The conversation's own model needs no override (and follows it).
                fan_out = FanOut((), fan_out.per_model)
            self.fan_out = self.session.fan_out = fan_out
            self._refresh_status()

        if self.is_current:
            chosen_models = self.fan_out.models or (conversation_model,)
            self.app.push_screen(
                SamplingScreen(self.sampling, names, chosen_models, self.fan_out.per_model),
                chosen,
            )

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
