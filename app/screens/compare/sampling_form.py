"""The params form of the compare screen: the next batch's model and sampling parameters.

`parse_sampling` reads the form's fields (empty means the server's default) and says what
is wrong with each bad one; `SamplingScreen` is the modal form itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from grove_explorer.app.safe_text import clean
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
