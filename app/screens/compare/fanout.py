"""Fan-out of one Compare batch across models: the plan, each model's colour, the legend.

A batch samples `per_model` replies from each model of `FanOut.models` (empty: the
conversation's own model), all in parallel. Columns are marked by model: every model
name gets a colour from a small palette the first time a Compare screen shows it, and
keeps it for the session (`CompareSession`, one per `ConversationService`, i.e. per app),
so a multi-model batch reads at a glance and the same model looks the same on every
Compare screen. The session also remembers the last fan-out set, so a new Compare screen
(or the explorer's `8R`) samples across the same models.

Why the session and not a file: the layout state file (`app.layout_state`) holds pane
widths only; the fan-out set is a working choice of this session's comparisons.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from rich.text import Text

from grove_explorer.app.safe_text import clean
from grove_explorer.client.models import ResponseNode
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.service import ConversationService

DEFAULT_SAMPLES = 4
"""Samples per model drawn by `R` without a count prefix (until the form sets another)."""

MAX_SAMPLES = 16
"""Upper bound of one batch over all its models: each sample is a server stream and a live
column (the bench's 16-column run keeps this responsive)."""

PALETTE: tuple[str, ...] = (
    "#5fafff",  # blue
    "#ffaf5f",  # orange
    "#87d75f",  # green
    "#d787d7",  # violet
    "#ffd75f",  # yellow
    "#5fd7d7",  # cyan
    "#ff8787",  # red
    "#afafaf",  # grey
)
"""Model colours, distinct on dark and light themes; the ninth model reuses the first."""

SWATCH = "■"
UNNAMED = "(default model)"
"""Shown for a sample whose model name the server did not report."""


def model_label(name: str) -> str:
    """A model name as shown: cleaned of control characters, never empty."""
    return clean(name).strip() or UNNAMED


@dataclass(frozen=True, slots=True)
class FanOut:
    """The next batch: `per_model` samples from each of `models` (empty: the conversation's)."""

    models: tuple[str, ...] = ()
    per_model: int = DEFAULT_SAMPLES

    def total(self, per_model: int | None = None) -> int:
        """Samples in the batch (with `per_model` instead of the set's own, e.g. a count)."""
        return max(1, len(self.models)) * (self.per_model if per_model is None else per_model)

    def capped(self, per_model: int) -> tuple[int, int]:
        """`per_model` lowered so the batch stays within `MAX_SAMPLES`: (each, total)."""
        width = max(1, len(self.models))
        each = max(1, min(per_model, MAX_SAMPLES // width))
        return each, each * width

    def describe(self, per_model: int | None = None) -> str:
        """The plan in a few words, e.g. "2 x alpha + 2 x beta" or "4"."""
        k = self.per_model if per_model is None else per_model
        if not self.models:
            return str(k)
        return " + ".join(f"{k} x {model_label(m)}" for m in self.models)


@dataclass(slots=True)
class CompareSession:
    """What Compare screens of one app session share: model colours and the last fan-out."""

    colours: dict[str, str] = field(default_factory=dict)
    fan_out: FanOut | None = None
    """The last fan-out set chosen in a params form (None: never chosen)."""

    def colour(self, model: str) -> str:
        """The model's colour: given at first sight, the same for the rest of the session."""
        if model not in self.colours:
            self.colours[model] = PALETTE[len(self.colours) % len(PALETTE)]
        return self.colours[model]

    def legend(self, models: Iterable[str]) -> Text:
        """Each model shown, in its colour, with its count: "■ alpha x3  ■ beta x2".

        Models appear in order of first appearance in `models`.
        """
        counts = Counter(models)
        out = Text()
        for index, (model, count) in enumerate(counts.items()):
            if index:
                out.append("  ")
            out.append(SWATCH + " ", style=self.colour(model))
            out.append(model_label(model), style=f"bold {self.colour(model)}")
            out.append(f" x{count}")
        return out


_SESSIONS: WeakKeyDictionary[ConversationService, CompareSession] = WeakKeyDictionary()


def session_of(service: ConversationService) -> CompareSession:
    """The Compare session of an app (keyed by its service; gone with it)."""
    session = _SESSIONS.get(service)
    if session is None:
        session = _SESSIONS[service] = CompareSession()
    return session


async def fan_out_batch(
    service: ConversationService,
    conversation_id: str,
    anchor_id: str,
    per_model: int,
    models: Sequence[str],
    sampling: SamplingParams | None,
) -> list[ResponseNode | None]:
    """`per_model` new siblings of `anchor_id` from each of `models`, all in parallel.

    One `resample_many` per model, run together: each model's samples get seeds seed + i
    (reproducible per model), and their columns join in the order of `models`. No models:
    one batch from the conversation's model. The result lists every stored reply, model
    by model (None where a stream failed; a `StreamFailed` event says why). A refused
    call (e.g. the anchor left the forest) is raised once every other batch has ended.
    """
    if not models:
        return await service.resample_many(conversation_id, anchor_id, per_model, sampling=sampling)
    batches = await asyncio.gather(
        *(
            service.resample_many(
                conversation_id, anchor_id, per_model, sampling=sampling, model_name=model
            )
            for model in models
        ),
        return_exceptions=True,  # one refused model must not cut the others short
    )
    results: list[ResponseNode | None] = []
    for batch in batches:
        if isinstance(batch, BaseException):
            raise batch
        results.extend(batch)
    return results
