"""SVG snapshots of the explorer's main scenes (pytest-textual-snapshot).

Update after an intended visual change with `pytest tests/app/test_snapshots.py
--snapshot-update`, and look at the new SVGs before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grove_explorer.app.config import AppConfig
from grove_explorer.app.grove_app import GroveApp
from grove_explorer.app.screenshots import SCENES, ready


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
