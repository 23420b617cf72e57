"""The distribution ships every package and data file the app needs (not just in editable
installs, where the source tree hides omissions)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_shipped() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    shipped = set(find_packages(str(ROOT), include=config["packages"]["find"]["include"]))
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("protos", "client", "server", "app")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk <= shipped, f"not shipped: {sorted(on_disk - shipped)}"
    assert {"app.screens", "app.widgets", "server.store", "server.sampler"} <= shipped


def test_corpus_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["server.sampler"]
    corpus = [p for pattern in patterns for p in (ROOT / "server" / "sampler").glob(pattern)]
    assert len(corpus) >= 5
