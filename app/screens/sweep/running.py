"""A running sweep: a progress bar, samples done of total, failures; then the table.

The sweep runs in a worker of this screen, so Esc (stop) cancels its streams (the server
keeps partial replies, and a re-run skips every sample already finished). When it ends
the screen is replaced by the results table.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, ProgressBar, Static

from grove_explorer.app.screens.sweep.form import SweepRequest
from grove_explorer.app.screens.sweep.table import SweepTableScreen
from grove_explorer.app.workers import run_service_call
from grove_explorer.client.service import ConversationService
from grove_explorer.client.sweeps import SweepProgress, SweepResult


class SweepRunScreen(Screen[None]):
    """Runs one sweep and shows how far it is."""

    DEFAULT_CSS = """
    SweepRunScreen > Vertical {
        padding: 1 2;
        height: auto;
    }
    SweepRunScreen ProgressBar {
        margin: 1 0;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", "Stop", id="sweep_run_stop"),
    ]

    def __init__(
        self,
        service: ConversationService,
        conversation_id: str,
        node_id: str,
        request: SweepRequest,
    ) -> None:
        """Sweeps `request` at `node_id` of the conversation once mounted."""
        super().__init__()
        self.service = service
        self.conversation_id = conversation_id
        self.node_id = node_id
        self.request = request
        self.progress: SweepProgress | None = None
        self.result: SweepResult | None = None
        self._stopped = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Sweep: {self.request.samples} samples", style="bold"))
            yield ProgressBar(total=None, show_eta=False, id="sweep-progress")
            yield Static("starting…", id="sweep-status")
        yield Footer()

    def on_mount(self) -> None:
        run_service_call(self, self._sweep(), always=self._ended, name="sweep")

    async def _sweep(self) -> None:
        request = self.request
        self.result = await self.service.sweep(
            self.conversation_id,
            self.node_id,
            request.spec,
            rubric_name=request.rubric_name,
            on_progress=self._progressed,
        )

    def _progressed(self, progress: SweepProgress) -> None:
        self.progress = progress
        bar = self.query_one("#sweep-progress", ProgressBar)
        bar.update(total=max(progress.total, 1), progress=progress.done)
        skipped = f", {progress.skipped} skipped (done before)" if progress.skipped else ""
        self.query_one("#sweep-status", Static).update(
            Text(
                f"{progress.done}/{progress.total} samples done, {progress.failed} failed" + skipped
            )
        )

    def _ended(self) -> None:
        """The table in this screen's place, or (a failure, notified) back to the explorer."""
        if self._stopped or not self.is_attached or self.app.screen is not self:
            return
        if self.result is None:
            self.app.pop_screen()
            return
        self.app.switch_screen(SweepTableScreen(self.service, self.conversation_id, self.result))

    def action_stop(self) -> None:
        """Stops the sweep (its worker's streams are cancelled) and closes the screen."""
        self.app.notify(
            "Sweep stopped; finished samples are kept and a re-run skips them.",
            severity="warning",
        )
        self._stopped = True
        self.app.pop_screen()
