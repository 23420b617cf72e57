"""`TokenViewScreen`: a reply's tokens, and the alternatives of the token under the cursor.

Enter dismisses the screen with the `TokenBranch` asked for; the explorer samples it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from grove_explorer.app.errors import describe_error, error_title
from grove_explorer.app.safe_text import clean
from grove_explorer.app.screens.dialogs import PromptScreen
from grove_explorer.app.screens.help import HelpScreen, binding_rows
from grove_explorer.app.screens.tokens.analysis import (
    BAR_CELLS,
    UNLIKELY,
    Alternative,
    TokenBranch,
    alternatives,
    percent,
    probability_bar,
    token_stats,
    visible_token,
)
from grove_explorer.app.screens.tokens.token_text import TokenText
from grove_explorer.app.widgets.message_view import (
    BUCKET_LABELS,
    CURSOR_SHADE,
    legend_text,
    probability_bucket,
    sender_label,
    shade_style,
    token_display,
)
from grove_explorer.client.errors import GroveError
from grove_explorer.client.models import ResponseNode
from grove_explorer.client.service import ConversationService
from grove_explorer.client.streams import TokenInfo


class SidePanel(VerticalScroll, can_focus=False):
    """The alternatives panel; scrolls with the mouse only.

    Not focusable: its arrow-key bindings would shadow the screen's alternative choice.
    """


class TokenViewScreen(Screen[TokenBranch | None]):
    """One reply's tokens and their alternatives; dismisses with the branch asked for."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="tokens_close"),
        Binding("left,h", "token(-1)", "Prev token", id="tokens_prev", key_display="←/h"),
        Binding("right,l", "token(1)", "Next token", id="tokens_next", key_display="→/l"),
        Binding("up,k", "alternative(-1)", "Prev alt", id="tokens_alt_prev", key_display="↑/k"),
        Binding("down,j", "alternative(1)", "Next alt", id="tokens_alt_next", key_display="↓/j"),
        Binding(
            "enter",
            "branch",
            "Branch",
            id="tokens_branch",
            tooltip="Branch here: a new reply with the chosen alternative, sampled on",
        ),
        Binding(
            "e",
            "edit_branch",
            "Edit & branch",
            id="tokens_edit",
            tooltip="Type the text to say instead of this token, then branch",
        ),
        Binding(
            "n",
            "unlikely(1)",
            "Next unlikely",
            id="tokens_unlikely_next",
            tooltip="Next token with p < 30%",
        ),
        Binding(
            "N",
            "unlikely(-1)",
            "Prev unlikely",
            id="tokens_unlikely_prev",
            show=False,
            tooltip="Previous token with p < 30%",
        ),
        Binding("w,ctrl+right", "word(1)", "Next word", id="tokens_word_next", show=False),
        Binding("b,ctrl+left", "word(-1)", "Prev word", id="tokens_word_prev", show=False),
        Binding("pagedown", "page(1)", "Page down", id="tokens_page_down", show=False),
        Binding("pageup", "page(-1)", "Page up", id="tokens_page_up", show=False),
        Binding("home,g", "edge(-1)", "First token", id="tokens_first", show=False),
        Binding("end,G", "edge(1)", "Last token", id="tokens_last", show=False),
        Binding("question_mark", "help", "Help", id="tokens_help", show=False),
    ]

    DEFAULT_CSS = """
    TokenViewScreen #tokens-summary {
        height: auto;
        padding: 0 1;
        background: $panel;
    }
    TokenViewScreen #tokens-body {
        height: 1fr;
    }
    TokenViewScreen #tokens-text {
        padding: 0 0 0 1;
    }
    TokenViewScreen #tokens-side {
        width: 46;
        border-left: vkey $panel-lighten-2;
        padding: 0 1;
    }
    TokenViewScreen #tokens-alternatives {
        height: auto;
    }
    """

    def __init__(
        self,
        service: ConversationService,
        conversation_id: str,
        node: ResponseNode,
        *,
        tokens: Sequence[TokenInfo] | None = None,
    ) -> None:
        """Shows `node`'s tokens: those given, else fetched from the service."""
        super().__init__()
        self.service = service
        self.conversation_id = conversation_id
        self.node = node
        self.tokens: tuple[TokenInfo, ...] | None = None if tokens is None else tuple(tokens)
        self.alternatives: list[Alternative] = []
        self.alternative_index = 0
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(Text("Loading tokens…", style="dim"), id="tokens-summary")
        with Horizontal(id="tokens-body"):
            yield TokenText(id="tokens-text")
            with SidePanel(id="tokens-side"):
                yield Static("", id="tokens-alternatives")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Tokens"
        self.sub_title = sender_label(self.node)
        if self.tokens is not None:
            self._show(self.tokens)
        else:
            self.run_worker(self._load(), group="tokens", exclusive=True, exit_on_error=False)

    @property
    def text(self) -> TokenText:
        """The token text widget."""
        return self.query_one(TokenText)

    @property
    def cursor(self) -> int:
        """The token under the cursor."""
        return self.text.cursor

    async def _load(self) -> None:
        try:
            tokens = await self.service.tokens(self.conversation_id, self.node.response_id)
        except GroveError as error:
            self._fail(describe_error(error), error_title(error, "Tokens"))
            return
        except Exception as error:  # never a traceback: say what went wrong
            self._fail(describe_error(error), "Tokens")
            return
        self.tokens = tuple(tokens)
        self._show(self.tokens)

    def _fail(self, message: str, title: str) -> None:
        self.error = message
        self.notify(message, title=title, severity="error", timeout=8)
        self.query_one("#tokens-summary", Static).update(Text(clean(message), style="bold"))

    def _show(self, tokens: Sequence[TokenInfo]) -> None:
        """Draws the summary and the tokens; the cursor starts on the first sampled token."""
        self.query_one("#tokens-summary", Static).update(self._summary(tokens))
        if not tokens:
            self.query_one("#tokens-alternatives", Static).update(
                Text(
                    "No tokens are stored for this reply (it was sampled without logprobs, "
                    "or before tokens were kept).",
                    style="italic",
                )
            )
            return
        first = next((i for i, t in enumerate(tokens) if t.logprob is not None), 0)
        self.text.set_tokens(tokens, first)

    def _summary(self, tokens: Sequence[TokenInfo]) -> Text:
        """Model, token count, mean logprob and perplexity; then the shading legend."""
        stats = token_stats(tokens)
        summary = Text()
        summary.append(sender_label(self.node), style="bold")
        unit = "token" if stats.count == 1 else "tokens"
        parts = [f"{stats.count} {unit}"]
        if stats.sampled < stats.count:
            parts[0] += f" ({stats.count - stats.sampled} given)"
        if stats.mean_logprob is not None:
            parts.append(f"mean logprob {stats.mean_logprob:.3f}")
            assert stats.perplexity is not None
            parts.append(f"perplexity {stats.perplexity:.2f}")
        if self.node.prefix_length:
            parts.append(f"first {self.node.prefix_length} characters given, not sampled")
        if self.node.partial:
            parts.append("partial")
        if tokens and "".join(t.text for t in tokens) != self.node.message:
            parts.append("the tokens do not spell the stored text exactly")
        for part in parts:
            summary.append(" · ", style="dim")
            summary.append(part)
        summary.append("\n")
        summary.append_text(legend_text())
        summary.append(" ")
        summary.append(" cursor ", style=CURSOR_SHADE)
        summary.rstrip()
        return summary

    # -- the alternatives panel ------------------------------------------------------------

    def on_token_text_cursor_moved(self, message: TokenText.CursorMoved) -> None:
        """The cursor moved: list that token's alternatives, the sampled one selected."""
        if self.tokens is None or not self.tokens:
            return
        token = self.tokens[message.index]
        self.alternatives = alternatives(token)
        self.alternative_index = next(
            (i for i, alt in enumerate(self.alternatives) if alt.chosen), 0
        )
        self._draw_panel()

    def _draw_panel(self) -> None:
        if not self.tokens:
            return
        index = self.cursor
        token = self.tokens[index]
        panel = Text()
        panel.append(f"Token {index + 1} of {len(self.tokens)}", style="bold")
        bucket = probability_bucket(token.logprob)
        panel.append("\n")
        if bucket is None:
            panel.append(" given ", style=shade_style(None))
            panel.append(" prefix: not sampled, no probability", style="italic")
        else:
            p = math.exp(min(token.logprob or 0.0, 0.0))
            swatch = shade_style(token.logprob) or "reverse"
            panel.append(f" {BUCKET_LABELS[bucket]} ", style=swatch)
            panel.append(f" p {percent(p)} · logprob {token.logprob:.3f}")
        panel.append("\n\n")
        panel.append("Alternatives", style="bold")
        panel.append("  ● sampled", style="dim")
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(width=2, no_wrap=True)
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        table.add_column(justify="right", no_wrap=True, width=6)
        table.add_column(width=BAR_CELLS, no_wrap=True)
        for position, alt in enumerate(self.alternatives):
            selected = position == self.alternative_index
            marker = ("▸" if selected else " ") + ("●" if alt.chosen else " ")
            table.add_row(
                Text(marker),
                visible_token(alt.text),
                Text(percent(alt.probability)),
                probability_bar(alt.probability),
                style=CURSOR_SHADE if selected else None,
            )
        preview = self._preview()
        footer = Text()
        footer.append("\nNew reply starts with\n", style="bold")
        footer.append_text(preview)
        footer.append("\n\n")
        footer.append("Enter branches · e edits · ↑/↓ choose", style="dim")
        self.query_one("#tokens-alternatives", Static).update(Group(panel, table, footer))

    def _preview(self) -> Text:
        """The end of the text before the cursor token, then the selected alternative."""
        preview = Text(end="")
        text = self.text
        if text.shading is None or not self.alternatives:
            return preview
        start, _ = text.token_range(self.cursor)
        before = text.shading.text.plain[max(0, start - 60) : start].replace("\n", "⏎")
        if start > 60:
            preview.append("…", style="dim")
        preview.append(before)
        alt = self.alternatives[self.alternative_index]
        preview.append(token_display(alt.text).replace("\n", "⏎"), style=CURSOR_SHADE)
        preview.append(" …", style="dim")
        return preview

    @property
    def selected(self) -> Alternative | None:
        """The alternative Enter would branch with."""
        if not self.alternatives:
            return None
        return self.alternatives[self.alternative_index]

    # -- actions ---------------------------------------------------------------------------

    def action_close(self) -> None:
        """Closes the view without branching."""
        self.dismiss(None)

    def action_token(self, delta: int) -> None:
        """Moves the cursor to the previous/next token."""
        self.text.move_to(self.cursor + delta)

    def action_word(self, delta: int) -> None:
        """Moves the cursor to the previous/next word."""
        self.text.move_word(delta)

    def action_page(self, delta: int) -> None:
        """Moves the cursor a page of lines up or down."""
        self.text.move_page(delta)

    def action_edge(self, side: int) -> None:
        """Moves the cursor to the first (-1) or last (1) token."""
        self.text.move_to(0 if side < 0 else len(self.text.tokens) - 1)

    def action_unlikely(self, delta: int) -> None:
        """Moves to the next/previous token with p < 30 %."""
        if not self.text.move_unlikely(delta):
            where = "after" if delta > 0 else "before"
            self.notify(f"No token below {UNLIKELY:.0%} {where} this one.", timeout=2)

    def action_alternative(self, delta: int) -> None:
        """Selects the previous/next alternative of the cursor token."""
        if not self.alternatives:
            return
        index = max(0, min(len(self.alternatives) - 1, self.alternative_index + delta))
        if index != self.alternative_index:
            self.alternative_index = index
            self._draw_panel()

    def action_branch(self) -> None:
        """Branches with the selected alternative at the cursor token."""
        alt = self.selected
        if alt is None:
            return
        self.dismiss(TokenBranch(self.cursor, alt.text))

    def action_edit_branch(self) -> None:
        """Asks for the text to say instead of the cursor token, then branches with it.

        The prompt starts with the selected alternative.
        """
        if not self.tokens:
            return
        alt = self.selected
        index = self.cursor

        def typed(value: str | None) -> None:
            if value is not None:
                self.dismiss(TokenBranch(index, value))

        self.app.push_screen(
            PromptScreen(
                f"Say this instead of token {index + 1} (then sampling goes on)",
                clean(alt.text) if alt is not None else "",
            ),
            typed,
        )

    def action_help(self) -> None:
        """Shows this screen's keys."""
        self.app.push_screen(HelpScreen(binding_rows([self.app, self])))
