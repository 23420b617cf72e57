"""The explorer's `P`: replay the path to the focused message under another setup.

The form asks for the model, system prompt and parameters; the replay runs in a worker
(each step one AddResponse, said in a notification: "Replaying step 2 of 4…"), and the
replay view opens on what it made. Enter there continues from the replayed leaf. A replay
that stops part way says where, keeps what it made (in the tree, marked ↻) and shows it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from grove_explorer.app.errors import describe_error
from grove_explorer.app.screens.main.core import ExplorerCore

if TYPE_CHECKING:
    from grove_explorer.app.screens.replay.form import ReplaySettings
    from grove_explorer.client.replaying import ReplayResult

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 4.0


class ReplayLaunch(ExplorerCore):
    """`action_replay` of the explorer: form, worker, view."""

    def action_replay(self) -> None:
        """Replays the path to the focused message under a model the form asks for."""
        target = self._target()
        cid = self.conversation_id
        forest = self.forest
        if target is None or cid is None or forest is None or target.streaming:
            self.notify("Replay works on a finished message of a path.", severity="warning")
            return
        here = target.response_id
        turns = len(forest.path_to(here))
        # From here on: only along the path shown, and only when it goes on below here.
        path = [node.response_id for node in forest.current_path]
        end = path[-1] if here in path and path[-1] != here else None
        turns_on = len(path) - path.index(here) if end is not None else 0
        self.run_worker(
            self._open_form(cid, here, end, turns, turns_on), group="replay", exit_on_error=False
        )

    async def _open_form(
        self, cid: str, here: str, end: str | None, turns: int, turns_on: int
    ) -> None:
        from grove_explorer.app.screens.replay.form import ReplayFormScreen

        try:
            catalog = await self.service.models()
            models = [m.name for m in catalog.models]
            prompts = [p.name for p in catalog.system_prompts]
        except Exception as error:  # the form takes a typed name then
            log.debug("ListModels failed; the replay form asks for a name", exc_info=True)
            self.notify(f"No model list: {describe_error(error)}", severity="warning", markup=False)
            models, prompts = [], []
        current = self.service.settings(cid).model_name

        def chosen(settings: ReplaySettings | None) -> None:
            if settings is None:
                return
            if settings.from_here and end is not None:
                work = self._replay(cid, end, settings, from_response_id=here)
            else:
                work = self._replay(cid, here, settings)
            self.run_worker(work, group="replay", exit_on_error=False)

        form = ReplayFormScreen(turns, models, current, prompts, turns_on=turns_on)
        self.app.push_screen(form, chosen)

    async def _replay(
        self,
        cid: str,
        leaf_id: str,
        settings: ReplaySettings,
        *,
        from_response_id: str | None = None,
    ) -> None:
        from grove_explorer.client.replaying import ReplayStoppedError
        from grove_explorer.client.sampler import SamplingParams

        sampling = None
        if settings.temperature is not None or settings.seed is not None:
            sampling = SamplingParams(temperature=settings.temperature, seed=settings.seed)

        def progress(step: int, total: int) -> None:
            self.notify(f"Replaying step {step} of {total}…", timeout=PROGRESS_SECONDS)

        try:
            result = await self.service.replay(
                cid,
                leaf_id,
                model_name=settings.model_name,
                system_prompt_name=settings.system_prompt_name,
                sampling=sampling,
                from_response_id=from_response_id,
                progress=progress,
            )
        except ReplayStoppedError as stopped:
            self.notify(str(stopped), severity="error", markup=False, timeout=10)
            result = stopped.partial
        except Exception as error:  # never a traceback: the server's sentence
            self.notify(describe_error(error), severity="error", markup=False)
            return
        self._refresh_views()
        if result.turns or result.extra_ids:
            self.show_replay(result)

    def show_replay(self, result: ReplayResult) -> None:
        """Opens the replay view; Enter there continues from the replayed leaf."""
        forest = self.forest
        if forest is None:
            return
        from grove_explorer.app.screens.replay.view import ReplayScreen

        def back(leaf_id: str | None) -> None:
            if leaf_id is not None:
                self._go_to(leaf_id)

        self.app.push_screen(ReplayScreen(dict(forest.responses), result), back)
