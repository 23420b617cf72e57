"""Fusing in the compare screen: marking samples, and `F`, a fused reply in a new column.

`m` marks or unmarks the focused sample; `F` fuses the marked finished samples (none
marked: every shown finished sample) after the fuse form (`fuse_form.py`). A checklist
fusion first asks the service for the samples' points (ExtractPoints) and shows them
checked. The fused reply streams through `ConversationService.fuse` into a new column
(a sibling of its sources, headed "⊕ fused from N"); failures become notifications.
"""

from __future__ import annotations

import logging
from functools import partial

from grove_explorer.app.errors import describe_error
from grove_explorer.app.screens.compare.core import CompareCore
from grove_explorer.app.screens.compare.fuse_form import FuseScreen, FuseSettings, PointsScreen
from grove_explorer.app.workers import run_service_call
from grove_explorer.client.catalog import ModelCatalog
from grove_explorer.client.judgements import ExtractedPoints
from grove_explorer.client.service.fusing import fusion_of

log = logging.getLogger(__name__)

MARKED_TITLE = "✓ marked to fuse"
"""The border title of a marked column (plain text, no markup)."""


class FusingCompare(CompareCore):
    """The compare screen's marks and fusion (keys `m` and `F` are bound in `screen.py`)."""

    DEFAULT_CSS = """
    FusingCompare SampleColumn.-marked {
        border-title-color: $success;
        border-title-style: bold;
    }
    """

    @property
    def marked(self) -> list[str]:
        """Ids of the marked samples still shown, in display order."""
        return [
            column.response_id
            for column in self.visible_columns
            if column.has_class("-marked") and not column.streaming
        ]

    def action_mark(self) -> None:
        """Marks (or unmarks) the focused sample for the next fusion."""
        column = self.focused_column
        if column is None:
            return
        if column.streaming:
            self.notify("A streaming sample can be fused once it has finished.", timeout=3)
            return
        marked = not column.has_class("-marked")
        column.set_class(marked, "-marked")
        column.border_title = MARKED_TITLE if marked else None
        count = len(self.marked)
        self.notify(f"{count} marked to fuse (F).", timeout=2)

    def fuse_sources(self) -> list[str]:
        """What `F` fuses: the marked samples, else every shown finished sample."""
        return self.marked or [c.response_id for c in self.visible_columns if not c.streaming]

    def action_fuse(self) -> None:
        """Opens the fuse form for the marked (else all shown finished) samples."""
        sources = self.fuse_sources()
        if len(sources) < 2:
            self.notify(
                f"Fusing needs at least 2 finished samples; {len(sources)} "
                f"{'is' if len(sources) == 1 else 'are'} shown (R samples more).",
                severity="warning",
                timeout=5,
            )
            return
        self.run_worker(
            self._open_fuse_form(sources),
            group="compare-fuse",
            exclusive=True,
            exit_on_error=False,
        )

    async def _open_fuse_form(self, sources: list[str]) -> None:
        catalog: ModelCatalog | None
        try:
            catalog = await self.service.models()
        except Exception as error:  # the conversation's model writes it then
            log.debug("ListModels failed; no model choice in the fuse form", exc_info=True)
            self.notify(f"No model list: {describe_error(error)}", severity="warning", markup=False)
            catalog = None
        names = [m.name for m in catalog.models] if catalog is not None else []
        model = self.model_name or self._conversation_model(catalog)
        if self.is_current:
            self.app.push_screen(
                FuseScreen(len(sources), names, model), partial(self._fuse_chosen, sources)
            )

    def _fuse_chosen(self, sources: list[str], settings: FuseSettings | None) -> None:
        if settings is None:
            return
        if settings.mode != "checklist":
            self.start_fusion(sources, settings)
            return
        self.notify("Listing the samples' points…", timeout=2)
        run_service_call(
            self,
            self.service.extract_points(
                self.conversation_id, sources, model_name=settings.model_name or ""
            ),
            done=partial(self.show_points, sources, settings),
            name="compare: extract points",
            group="compare-fuse",
        )

    def show_points(
        self, sources: list[str], settings: FuseSettings, points: ExtractedPoints
    ) -> None:
        """Shows the points as a checklist, then fuses from the checked ones."""
        if not points.points:
            self.notify(f"No points were found in the {len(sources)} samples.", severity="warning")
            return

        def checked(chosen: list[str] | None) -> None:
            if chosen:
                self.start_fusion(sources, settings, chosen)

        if self.is_attached:
            self.app.push_screen(PointsScreen(points, len(sources)), checked)

    def start_fusion(
        self, sources: list[str], settings: FuseSettings, points: list[str] | None = None
    ) -> None:
        """Streams the fused reply into a new column (it takes the highlight)."""
        try:
            fusion = fusion_of(sources, settings.mode, settings.instruction, points or ())
        except ValueError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self._errors_shown = set()
        self._focus_new = True
        # App-level (detached): the fusion keeps streaming if Compare closes.
        run_service_call(
            self,
            self.service.fuse(
                self.conversation_id,
                fusion,
                sampling=self.sampling,
                model_name=settings.model_name,
            ),
            always=self._after_call,
            name="compare: fuse",
            group="compare",
            detached=True,
        )
