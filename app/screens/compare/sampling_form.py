"""The params form of the compare screen: the next batch's models, samples and parameters.

`parse_sampling` reads the parameter fields (empty means the server's default) and
`parse_fan_out` the models and samples per model; both say what is wrong with each bad
field. `SamplingScreen` is the modal form itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, SelectionList, Static

from grove_explorer.app.safe_text import clean
from grove_explorer.app.screens.compare.fanout import DEFAULT_SAMPLES, MAX_SAMPLES, FanOut
from grove_explorer.app.screens.dialogs import DIALOG_CSS
from grove_explorer.app.widgets.sample_column import sampling_parts
from grove_explorer.client.sampler import SamplingParams

MAX_SEED = 2**63 - 1
MAX_INT32 = 2**31 - 1


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


def parse_fan_out(samples: str, models: Sequence[str], *, offered: bool) -> FanOut:
    """Reads the samples-per-model field and the models ticked in the list.

    Raises ValueError with one sentence per bad field, each starting with the field's
    name ("samples …", "models …"). `offered` says whether the form had a model list (a
    server that lists no models leaves the batch on the conversation's model).
    """
    errors: list[str] = []
    raw = samples.strip()
    k: int | None = None
    if not raw:
        k = DEFAULT_SAMPLES
    else:
        try:
            k = int(raw)
        except ValueError:
            errors.append(
                f"samples must be a whole number from 1 to {MAX_SAMPLES}, not {clean(raw)!r}."
            )
        else:
            if not 1 <= k <= MAX_SAMPLES:
                errors.append(f"samples must be between 1 and {MAX_SAMPLES}, not {k}.")
                k = None
    chosen = tuple(dict.fromkeys(models))
    if offered and not chosen:
        errors.append("models: pick at least one (Space ticks the highlighted model).")
    if k is not None and chosen and k * len(chosen) > MAX_SAMPLES:
        errors.append(
            f"samples: {len(chosen)} models x {k} = {k * len(chosen)} is over {MAX_SAMPLES} "
            f"per batch; at most {MAX_SAMPLES // len(chosen)} each."
        )
    if errors or k is None:
        raise ValueError("\n".join(errors))
    return FanOut(chosen, k)


@dataclass(frozen=True, slots=True)
class BatchSettings:
    """What the params form returns: the batch's parameters, models and samples per model.

    `fan_out.models` is empty when the form offered no model choice (the server listed
    none): the batch then samples from the conversation's model.
    """

    sampling: SamplingParams
    fan_out: FanOut = field(default_factory=FanOut)


def _field_text(value: float | int | None) -> str:
    """A param as the form shows it: empty for the server default, 0.8 not 0.8000000119."""
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


class SamplingScreen(ModalScreen[BatchSettings | None]):
    """A form for the next batch's models, samples per model and parameters; None: cancelled.

    Keyboard only: Tab moves between fields, Space (or Enter) ticks the highlighted model in
    the list, Enter in a text field uses the form. Bad values keep the form open with the
    reasons under it and the bad fields marked: nothing is sent. The model list holds the
    catalog's names (`ConversationService.models()`), shown as plain text.
    """

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="SamplingScreen")
        + """
    SamplingScreen > Vertical {
        width: 80;
        overflow-y: auto;
    }
    SamplingScreen Grid {
        grid-size: 4;
        grid-columns: 13 1fr 13 1fr;
        grid-rows: 3;
        height: auto;
        margin-top: 1;
    }
    SamplingScreen Grid > Label {
        padding: 1 0 0 1;
    }
    SamplingScreen #param-models {
        height: auto;
        max-height: 10;
    }
    SamplingScreen #params-error {
        color: $error;
        height: auto;
        margin-top: 1;
        display: none;
    }
    SamplingScreen #params-error.-shown {
        display: block;
    }
    SamplingScreen Input.-invalid, SamplingScreen SelectionList.-invalid {
        border: tall $error;
    }
    """
    )
    # Ctrl+S submits from any field: Enter on a Select opens its list instead.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Use", priority=True),
    ]
    FIELDS = ("temperature", "top_p", "max_tokens", "seed")

    def __init__(
        self,
        current: SamplingParams | None,
        models: Sequence[str] = (),
        chosen: Sequence[str] = (),
        samples: int = DEFAULT_SAMPLES,
    ) -> None:
        """`models` to choose from (none: no model list), `chosen` ticked at first."""
        super().__init__()
        self._current = current or SamplingParams()
        names = list(dict.fromkeys(models))
        for name in chosen:
            if names and name and name not in names:
                names.append(name)  # e.g. a model the server no longer lists
        self._models = names
        self._chosen = [name for name in chosen if name in names] or names[:1]
        self._samples = samples

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("The next batch: models, samples and parameters", style="bold"))
            yield Static(
                Text(
                    "R samples this many from each ticked model, in parallel. Empty: the "
                    "server's default; a seed S gives sample i seed S + i.",
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
                yield Label("samples")
                yield Input(
                    str(self._samples),
                    placeholder=f"{DEFAULT_SAMPLES} per model",
                    id="param-samples",
                    tooltip=f"samples per model (1-{MAX_SAMPLES} in all)",
                )
            if self._models:
                yield Label(
                    Text.assemble(
                        ("models", "bold"), (" · Space ticks · ↑↓ move · Tab next field", "dim")
                    )
                )
                yield SelectionList[str](
                    *[(Text(clean(n)), n, n in self._chosen) for n in self._models],
                    id="param-models",
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

    @property
    def chosen_models(self) -> list[str]:
        """The models ticked now, in the list's order (empty when there is no list)."""
        if not self._models:
            return []
        ticked = set(self.query_one("#param-models", SelectionList).selected)
        return [name for name in self._models if name in ticked]

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
        """Validates the form; dismisses with the batch's settings, or shows why not."""
        values = {name: self.query_one(f"#param-{name}", Input).value for name in self.FIELDS}
        errors: list[str] = []
        params = fan_out = None
        try:
            params = parse_sampling(**values)
        except ValueError as error:
            errors.append(str(error))
        try:
            fan_out = parse_fan_out(
                self.query_one("#param-samples", Input).value,
                self.chosen_models,
                offered=bool(self._models),
            )
        except ValueError as error:
            errors.append(str(error))
        if params is None or fan_out is None:
            self._show_errors("\n".join(errors))
            return
        self.dismiss(BatchSettings(params, fan_out))

    def _show_errors(self, message: str) -> None:
        """Shows the reasons and marks each bad field; focus goes to the first one."""
        shown = self.query_one("#params-error", Static)
        shown.update(Text(message))
        shown.add_class("-shown")
        first_bad = None
        names = [*self.FIELDS, "samples", *(["models"] if self._models else [])]
        for name in names:
            bad = message.startswith(name) or f"\n{name}" in message
            widget = self.query_one(f"#param-{name}")
            widget.set_class(bad, "-invalid")
            if bad and first_bad is None:
                first_bad = widget
        if first_bad is not None:
            first_bad.focus()
        self.app.bell()

    def action_cancel(self) -> None:
        """Closes without changing the batch."""
        self.dismiss(None)
