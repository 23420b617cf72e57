"""The spread of a Compare batch: the statistics view (`S`) and the similarity order (`o`).

`SpreadScreen` shows the same report as `grove stats` (`client.spread.render_report`) for
the finished columns shown, in their display order: similarity, clusters, seriation
order, majority answer, disagreement along the medoid, distributions. Similarity is by
embeddings when the conversation's model offers them (`supports_embeddings`; fetched
through the service), else by ROUGE-L of words; the report's first line says which, and a
failed embedding call falls back to words with a note. The statistics are computed off
the event loop (`asyncio.to_thread`), so a big batch never freezes the screen.

`similar_order` is Compare's "similar" sort: the seriation order of the finished
columns by ROUGE-L of words (streaming ones keep their place at the end, in sampling
order), memoised per set of texts, since a view refresh asks for it again and again.
It never calls the network: the order must be there on the keypress.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import ClassVar, Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from grove_explorer.app.errors import describe_error
from grove_explorer.app.safe_text import clean
from grove_explorer.client.models import ResponseNode
from grove_explorer.client.service import ConversationService
from grove_explorer.client.spread import SpreadReport, render_report, spread_report
from grove_explorer.client.spread.grouping import seriation
from grove_explorer.client.spread.samples import sample_of
from grove_explorer.client.spread.similarity import embeddable, place_vectors, rouge_l_matrix
from grove_explorer.client.spread.words import Vocabulary, normal_words

log = logging.getLogger(__name__)


class _HasText(Protocol):
    @property
    def text(self) -> str: ...


def similar_order(
    ids: Sequence[str], columns: Mapping[str, _HasText], streaming: Collection[str]
) -> list[str]:
    """`ids` reordered so similar finished samples sit together (see the module)."""
    finished = [rid for rid in ids if rid not in streaming]
    order = _seriation_of(tuple(columns[rid].text for rid in finished))
    return [finished[i] for i in order] + [rid for rid in ids if rid in streaming]


@lru_cache(maxsize=8)
def _seriation_of(texts: tuple[str, ...]) -> tuple[int, ...]:
    vocabulary = Vocabulary()
    seqs = [vocabulary.encode(normal_words(text)) for text in texts]
    return tuple(seriation(rouge_l_matrix(seqs)))


class SpreadScreen(ModalScreen[None]):
    """The spread report of the shown finished samples; Esc or q closes it."""

    DEFAULT_CSS = """
    SpreadScreen {
        align: center middle;
        background: $background 60%;
    }
    SpreadScreen > VerticalScroll {
        width: 100;
        max-width: 95%;
        height: 90%;
        border: thick $primary 70%;
        background: $surface;
        padding: 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,S", "dismiss(None)", "Close", id="spread_close"),
        Binding("up,k", "scroll(-1)", "Scroll up", show=False),
        Binding("down,j", "scroll(1)", "Scroll down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown,space", "page(1)", "Page down", show=False),
    ]

    def __init__(
        self,
        service: ConversationService,
        conversation_id: str,
        nodes: Sequence[ResponseNode],
        model_name: str,
        labels: Sequence[str] = (),
    ) -> None:
        """Reads `nodes` (finished samples, display order).

        Embeds with `model_name`'s backend when it offers embeddings ("" = the default).
        `labels` name the samples in the report as the columns do ("#3" for the third
        sibling); without them, the first characters of their ids.
        """
        super().__init__()
        self.service = service
        self.conversation_id = conversation_id
        self.nodes = list(nodes)
        self.model_name = model_name
        self.labels = list(labels)
        self.report: SpreadReport | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="spread-scroll"):
            yield Static(
                Text(f"Reading the spread of {len(self.nodes)} samples…"), id="spread-body"
            )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).border_title = "Spread"
        self.run_worker(self._compute(), group="spread", exclusive=True, exit_on_error=False)

    async def _compute(self) -> None:
        samples = [sample_of(node, mean_logprob=node.mean_logprob) for node in self.nodes]
        if len(self.labels) == len(samples):
            pairs = zip(samples, self.labels, strict=True)
            samples = [replace(sample, label=label) for sample, label in pairs]
        vectors, embeddings_model, note = await self._embeddings([s.text for s in samples])
        report = await asyncio.to_thread(
            spread_report, samples, vectors, embeddings_model=embeddings_model, note=note
        )
        self.report = report
        width = max(40, self.query_one("#spread-scroll").size.width - 2)
        lines = render_report(report, width)
        self.query_one("#spread-body", Static).update(Text(clean("\n".join(lines))))

    async def _embeddings(self, texts: Sequence[str]) -> tuple[list[list[float]] | None, str, str]:
        """(vectors, the backend's model, a note) — (None, "", note) means words are used."""
        if len(texts) < 2:
            return None, "", ""
        try:
            catalog = await self.service.models()
        except Exception:  # the statistics work without the catalog
            log.debug("ListModels failed; spread by words", exc_info=True)
            return None, "", ""
        model = catalog.model(self.model_name)
        if model is None or not model.supports_embeddings:
            return None, "", ""
        wanted = embeddable(texts)
        if not wanted:
            return None, "", ""
        try:
            result = await self.service.embed(wanted, model.name)
        except Exception as error:
            return None, "", f"Embeddings failed ({describe_error(error)}); word overlap used."
        return place_vectors(texts, result.vectors), result.embeddings_model, ""

    def action_scroll(self, delta: int) -> None:
        """Scrolls the report by a line."""
        self.query_one(VerticalScroll).scroll_relative(y=delta, animate=False)

    def action_page(self, delta: int) -> None:
        """Scrolls the report by a page."""
        scroll = self.query_one(VerticalScroll)
        if delta < 0:
            scroll.scroll_page_up(animate=False)
        else:
            scroll.scroll_page_down(animate=False)

    def body_text(self) -> str:
        """The report as shown (for tests)."""
        content = self.query_one("#spread-body", Static).render()
        return content.plain if isinstance(content, Text) else str(content)
