"""The model picker: which model and system prompt a conversation's new replies use.

The screen lists what the server offers (`ConversationService.models()`, i.e. ListModels)
and dismisses with the chosen `ConversationSettings`; the explorer applies it with
`ConversationService.configure`. It never talks to the server itself.

Names, descriptions and prompt texts come from a server's configuration file, so they are
untrusted text: every line is built as a Rich `Text` from cleaned strings, never parsed as
markup, and control characters (escape sequences) are stripped before they are drawn.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from grove_explorer.app.safe_text import clean, first_line
from grove_explorer.app.screens.dialogs import DIALOG_CSS
from grove_explorer.client.catalog import ModelCatalog, ModelInfo, SystemPromptInfo
from grove_explorer.client.service import ConversationSettings

CURRENT = "●"
"""Marks the model and prompt the conversation uses now."""
RAW_LABEL = "raw model — no system prompt"
TEXT_WIDTH = 76
"""Characters of a description or prompt text shown (its first line, cut)."""


def logprobs_label(supports: bool | None) -> str:
    """Whether a model's replies carry token logprobs ("logprobs ?" when the server can't tell)."""
    if supports is None:
        return "logprobs ?"
    return "logprobs" if supports else "no logprobs"


def modes_label(modes: tuple[str, ...]) -> str:
    """What the model does: "chat", "continues text" (a base model), or both (C continues)."""
    names = {"chat": "chat", "completion": "continues text"}
    return " + ".join(names.get(mode, clean(mode)) for mode in modes)


def model_option(model: ModelInfo, *, current: bool) -> Text:
    """Three lines: marker, name, backend and upstream model; defaults; description."""
    upstream = first_line(model.upstream_model, 40)
    backend = first_line(model.backend, 20) + (f" · {upstream}" if upstream else "")
    text = Text.assemble(
        (f"{CURRENT} " if current else "  ", "bold green"),
        (first_line(model.name, 40) or "(unnamed)", "bold"),
        "  ",
        (backend, "dim"),
    )
    if model.is_default:
        text.append("  server default", style="italic cyan")
    details = (
        clean(model.defaults_label),
        logprobs_label(model.supports_logprobs),
        modes_label(model.modes),
    )
    text.append("\n    ")
    text.append(" · ".join(part for part in details if part), style="dim")
    description = first_line(model.description, TEXT_WIDTH)
    if description:
        text.append("\n    ")
        text.append(description, style="italic")
    return text


def prompt_option(prompt: SystemPromptInfo | None, *, current: bool) -> Text:
    """One line: marker, the prompt's label and its first line (None: the raw model)."""
    marker = (f"{CURRENT} " if current else "  ", "bold green")
    if prompt is None:
        return Text.assemble(marker, (RAW_LABEL, "bold"))
    label = first_line(prompt.label, 20) or "default"
    return Text.assemble(
        marker,
        (label, "bold"),
        "  ",
        (first_line(prompt.text, TEXT_WIDTH - len(label)) or "(empty)", "dim"),
    )


class ModelList(OptionList):
    """The models of the catalog."""


class PromptList(OptionList):
    """The system prompts of the catalog, then the raw model."""


class ModelPickerScreen(ModalScreen[ConversationSettings | None]):
    """Chooses the model and system prompt of new replies; None when cancelled.

    Enter (or a click) in either list applies the highlighted model together with the
    highlighted prompt, so one Enter changes just the model; Tab moves between the lists.
    """

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="ModelPickerScreen")
        + """
    ModelPickerScreen > Vertical {
        width: 96;
    }
    ModelPickerScreen .picker-heading {
        margin-top: 1;
        text-style: bold;
    }
    ModelPickerScreen OptionList {
        height: auto;
        max-height: 15;
        border: tall $border-blurred;
    }
    ModelPickerScreen OptionList:focus {
        border: tall $border;
    }
    ModelPickerScreen PromptList {
        max-height: 8;
    }
    ModelPickerScreen #picker-hint {
        margin-top: 1;
        color: $text-muted;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("tab", "switch_list", "Other list", show=False),
        Binding("shift+tab", "switch_list", "Other list", show=False),
    ]

    def __init__(self, catalog: ModelCatalog, current: ConversationSettings) -> None:
        super().__init__()
        self.catalog = catalog
        self.current = current
        self._models = list(catalog.models)
        # None stands for "raw model": no system prompt at all.
        self._prompts: list[SystemPromptInfo | None] = [*catalog.system_prompts, None]
        current_model = catalog.model(current.model_name)
        self._current_model = current_model.name if current_model is not None else None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Model and system prompt for new replies", style="bold"))
            yield Static(Text("Model", style="bold"), classes="picker-heading")
            yield ModelList(
                *(
                    Option(model_option(m, current=m.name == self._current_model), id=f"m{i}")
                    for i, m in enumerate(self._models)
                ),
                id="picker-models",
            )
            yield Static(Text("System prompt", style="bold"), classes="picker-heading")
            yield PromptList(
                *(
                    Option(prompt_option(p, current=self._is_current_prompt(p)), id=f"p{i}")
                    for i, p in enumerate(self._prompts)
                ),
                id="picker-prompts",
            )
            yield Static(
                Text(
                    "Enter applies the highlighted model and prompt · Tab switches list · "
                    "Esc cancels. Replies already written keep their model.",
                ),
                id="picker-hint",
            )

    def on_mount(self) -> None:
        models = self.model_list
        if self._models:
            models.highlighted = next(
                (i for i, m in enumerate(self._models) if m.name == self._current_model), 0
            )
        self.prompt_list.highlighted = next(
            (i for i, p in enumerate(self._prompts) if self._is_current_prompt(p)), 0
        )
        (models if self._models else self.prompt_list).focus()

    def _is_current_prompt(self, prompt: SystemPromptInfo | None) -> bool:
        if prompt is None:
            return not self.current.use_system_prompt
        return self.current.use_system_prompt and prompt.name == self.current.system_prompt_name

    @property
    def model_list(self) -> ModelList:
        """The list of models."""
        return self.query_one(ModelList)

    @property
    def prompt_list(self) -> PromptList:
        """The list of system prompts (the raw model last)."""
        return self.query_one(PromptList)

    @property
    def model_names(self) -> list[str]:
        """The models offered, in list order (for tests)."""
        return [m.name for m in self._models]

    @property
    def prompt_names(self) -> list[str | None]:
        """The prompts offered, in list order; None is the raw model (for tests)."""
        return [p.name if p is not None else None for p in self._prompts]

    def choice(self) -> ConversationSettings:
        """The settings the highlighted entries stand for."""
        model_name = self.current.model_name
        index = self.model_list.highlighted
        if index is not None and 0 <= index < len(self._models):
            chosen = self._models[index].name
            # Keep "" (follow the server's default) unless another model was chosen.
            if chosen != self._current_model:
                model_name = chosen
        prompt_index = self.prompt_list.highlighted
        if prompt_index is None or not 0 <= prompt_index < len(self._prompts):
            return ConversationSettings(
                model_name, self.current.system_prompt_name, self.current.use_system_prompt
            )
        prompt = self._prompts[prompt_index]
        if prompt is None:
            return ConversationSettings(model_name, "", use_system_prompt=False)
        return ConversationSettings(model_name, prompt.name, use_system_prompt=True)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.choice())

    def action_switch_list(self) -> None:
        """Moves focus to the other list."""
        target = self.prompt_list if self.model_list.has_focus else self.model_list
        if target.option_count:
            target.focus()

    def action_cancel(self) -> None:
        """Closes without changing anything."""
        self.dismiss(None)
