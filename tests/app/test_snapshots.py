"""SVG snapshots of the explorer's main scenes (pytest-textual-snapshot).

Update after an intended visual change with `pytest tests/app/test_snapshots.py
--snapshot-update`, and look at the new SVGs before committing them.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from grove_explorer.app.config import AppConfig
from grove_explorer.app.grove_app import GroveApp
from grove_explorer.app.screens.main import MainScreen
from grove_explorer.app.screenshots import SCENES, ready, scene_config, settle
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.server.backends import BackendSpec, ModelsConfig
from grove_explorer.server.store.sqlite import responses


@pytest.fixture(autouse=True)
def fixed_response_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Response ids from a seeded generator: headers and search hits show their first 8
    characters, and the demo stores its responses one after another, so the same ids are
    drawn every run."""
    rng = random.Random(12)
    monkeypatch.setattr(
        responses,
        "uuid",
        SimpleNamespace(uuid4=lambda: uuid.UUID(int=rng.getrandbits(128), version=4)),
    )


def _app(tmp_path: Path) -> GroveApp:
    return GroveApp(AppConfig(server=None, db=tmp_path / "demo.sqlite3", token_delay_ms=0))


@pytest.mark.parametrize(
    "scene",
    [
        "welcome",
        "explorer",
        "narrow",
        "help",
        "edit",
        "compare",
        "spread",
        "compare-judged",
        "fused",
        "replay",
        "models",
        "annotations",
        "search",
        "tokens",
    ],
)
def test_scene(scene: str, snap_compare, tmp_path: Path) -> None:
    run_scene, size = SCENES[scene]

    async def run_before(pilot) -> None:
        screen = await ready(pilot)
        await run_scene(pilot, screen)

    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=run_before)


def test_arena_before_the_vote(snap_compare, tmp_path: Path) -> None:
    """The blind arena on two offline model names: A and B side by side, no names yet."""
    run_scene, size = SCENES["arena"]

    async def run_before(pilot) -> None:
        screen = await ready(pilot)
        await run_scene(pilot, screen)

    app = GroveApp(scene_config("arena", tmp_path))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def _two_model_app(tmp_path: Path) -> GroveApp:
    """The embedded server with the offline model under two names, alpha and beta."""
    models = ModelsConfig(
        backends=(
            BackendSpec(name="alpha", sampler="offline"),
            BackendSpec(name="beta", sampler="offline"),
        ),
        default_model="alpha",
    )
    config = AppConfig(server=None, db=tmp_path / "two.sqlite3", token_delay_ms=0, models=models)
    return GroveApp(config)


def test_compare_two_model_batch(snap_compare, tmp_path: Path) -> None:
    """Compare after a batch of 2 from alpha and 2 from beta: each column marked by its
    model's colour (left edge, title, name in the header) and the legend counting them.

    Seeds make the texts reproducible; server timings are pinned, as in the compare scene.
    """

    async def run_before(pilot) -> None:
        app = pilot.app
        async with asyncio.timeout(30):
            while not isinstance(app.screen, MainScreen):
                await pilot.pause()
        screen = app.screen
        screen.composer.cursor_blink = False
        service = screen.service
        forest = await service.new_conversation()
        cid = forest.conversation.conversation_id
        await service.set_title(cid, "Two models")
        first = SamplingParams(seed=1, max_tokens=24)
        reply = await service.send(cid, "How do trees grow in a forest?", None, sampling=first)
        assert reply is not None
        # One sample at a time (seeds 3 and 4, as a batch of two from seed 3 would use):
        # two replies sampled in parallel reach the server in either order, and the
        # columns follow the order the server started them.
        for model in ("alpha", "beta"):
            for seed in (3, 4):
                await service.resample_many(
                    cid,
                    reply.response_id,
                    1,
                    sampling=SamplingParams(seed=seed, max_tokens=24),
                    model_name=model,
                )
        forest = service.forest(cid)
        for rid in forest.siblings_of(reply.response_id):
            node = forest.responses[rid]
            forest.add(node.model_copy(update={"time_to_first_token": 0.05, "total_time": 1.45}))
        await settle(pilot)
        screen.thread.focus()
        screen.thread.focus_message(reply.response_id)
        await pilot.press("c")
        await settle(pilot)

    assert snap_compare(_two_model_app(tmp_path), terminal_size=(160, 40), run_before=run_before)


def test_sweep_table(snap_compare, tmp_path: Path) -> None:
    """The results table of a sweep (`W`): two models x two temperatures x two seeds at
    the demo's first reply, judged by the offline demo judge and sorted by score. Seeds
    make it reproducible; timings are pinned by the scene."""
    run_scene, size = SCENES["sweep"]

    async def run_before(pilot) -> None:
        screen = await ready(pilot)
        await run_scene(pilot, screen)

    app = GroveApp(scene_config("sweep", tmp_path))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_share_dialog_on_a_team_server(snap_compare, tmp_path: Path) -> None:
    """Alice shares the conversation: Bob a writer, Carol a reader, Bob highlighted."""
    from grove_explorer.app.screenshots import scene_keys

    db = tmp_path / "demo.sqlite3"
    key = asyncio.run(scene_keys(db))
    run_scene, size = SCENES["share"]

    async def run_before(pilot) -> None:
        screen = await ready(pilot)
        await run_scene(pilot, screen)

    app = GroveApp(AppConfig(server=None, db=db, token_delay_ms=0, api_key=key))
    assert snap_compare(app, terminal_size=size, run_before=run_before)
