"""Compare's spread view (`S`) and similarity order (`o`), through the pilot on a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from grove_explorer.app.screens.compare.spread_view import SpreadScreen, similar_order
from grove_explorer.server.backends import ModelsConfig
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from tests.app.test_compare import SIZE, conversation_with_siblings, open_compare
from tests.app_helpers import explorer, settle, until
from tests.conftest import openai_backend
from tests.fake_openai import DEFAULT_EMBEDDINGS_MODEL, FakeOpenAI

TEXTS = [
    "The oak grows slowly and lives for centuries in the forest.",
    "Birch trees grow fast on open ground after a fire.",
    "The oak grows slowly and it lives for centuries in a forest.",
    "Birch trees grow quickly on open ground after fires.",
]


class _Column:
    def __init__(self, text: str) -> None:
        self.text = text


def test_similar_order_keeps_near_duplicates_together_and_streaming_last() -> None:
    columns = {f"r{k}": _Column(t) for k, t in enumerate(TEXTS)}
    columns["live"] = _Column("")
    ids = ["r0", "r1", "live", "r2", "r3"]
    order = similar_order(ids, columns, {"live"})
    assert order[-1] == "live"
    position = {rid: k for k, rid in enumerate(order)}
    assert abs(position["r0"] - position["r2"]) == 1
    assert abs(position["r1"] - position["r3"]) == 1


async def test_o_orders_by_similarity_and_S_shows_the_spread(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, siblings = await conversation_with_siblings(screen, extra=0)
        service = screen.service
        # Hand-written siblings with known texts: 0 and 2 alike, 1 and 3 alike.
        for text in TEXTS:
            await service.edit(cid, siblings[0], text)
        compare = await open_compare(pilot, screen, siblings[0])
        await settle(pilot)
        assert len(compare.columns) == 5
        await pilot.press("o")
        await pilot.pause()
        assert compare.sort == "similar"
        assert "similarity" in compare.sub_title
        shown = [c.node.message for c in compare.visible_columns]
        position = {text: k for k, text in enumerate(shown)}
        assert abs(position[TEXTS[0]] - position[TEXTS[2]]) == 1
        assert abs(position[TEXTS[1]] - position[TEXTS[3]]) == 1
        await pilot.press("o")
        await pilot.pause()
        assert compare.sort == "sampled"

        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SpreadScreen), "spread view")
        spread = app.screen
        assert isinstance(spread, SpreadScreen)
        await until(pilot, lambda: spread.report is not None, "spread report")
        await settle(pilot)
        report = spread.report
        assert report is not None and report.count == 5
        assert report.measure == "rouge-l"
        assert sorted(report.labels) == [f"#{k}" for k in range(1, 6)], "numbered as columns"
        oak = {k for k, n in enumerate(spread.nodes) if "oak" in n.message}
        assert tuple(sorted(oak)) in report.clusters, "the two oak replies are near-duplicates"
        text = spread.body_text()
        assert "Spread of 5 samples" in text and "ROUGE-L" in text
        assert "clusters of near-duplicates" in text
        assert "length (words)" in text
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is compare, "back to compare")


async def test_S_without_a_finished_sample_says_so(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        _, siblings = await conversation_with_siblings(screen, extra=0)
        compare = await open_compare(pilot, screen, siblings[0])
        await pilot.press("x")  # hide the only column
        await pilot.pause()
        await pilot.press("S")
        await pilot.pause()
        assert app.screen is compare


@pytest.fixture
async def embedding_server(
    server_config: ServerConfig, fake_openai: FakeOpenAI
) -> AsyncIterator[GroveServer]:
    """The fake endpoint with embeddings as the default model."""
    backend = openai_backend(fake_openai, embeddings_model=DEFAULT_EMBEDDINGS_MODEL)
    models = ModelsConfig(backends=(backend,), default_model="fake")
    running = GroveServer(replace(server_config, models=models))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def test_the_spread_view_embeds_when_the_model_offers_it(
    embedding_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    async with explorer(embedding_server.address, size=SIZE) as (app, pilot, screen):
        cid, siblings = await conversation_with_siblings(screen, extra=1)
        await screen.service.edit(cid, siblings[0], "A hand-written reply about birches.")
        compare = await open_compare(pilot, screen, siblings[0])
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SpreadScreen), "spread view")
        spread = app.screen
        assert isinstance(spread, SpreadScreen)
        await until(pilot, lambda: spread.report is not None, "spread report")
        report = spread.report
        assert report is not None and report.count == len(compare.visible_columns) == 3
        assert report.measure == "embedding-cosine"
        assert report.embeddings_model == DEFAULT_EMBEDDINGS_MODEL
        sent = fake_openai.embedding_requests[-1]["input"]
        assert sorted(sent) == sorted(n.message for n in spread.nodes)
        await settle(pilot)
        assert f"cosine of embeddings ({DEFAULT_EMBEDDINGS_MODEL})" in spread.body_text()
        await pilot.press("escape")
        # A failing endpoint: the view falls back to words and says why.
        fake_openai.fail_status = 500
        await until(pilot, lambda: app.screen is compare, "back to compare")
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SpreadScreen), "spread view again")
        again = app.screen
        assert isinstance(again, SpreadScreen)
        await until(pilot, lambda: again.report is not None, "fallback report")
        assert again.report is not None and again.report.measure == "rouge-l"
        assert "Embeddings failed" in again.report.note
