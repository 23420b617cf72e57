"""SVG snapshots of the explorer's main scenes (pytest-textual-snapshot).

Update after an intended visual change with `pytest tests/app/test_snapshots.py
--snapshot-update`, and look at the new SVGs before committing them.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from grove_explorer.app.config import AppConfig
from grove_explorer.app.grove_app import GroveApp
from grove_explorer.app.screenshots import SCENES, ready
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
