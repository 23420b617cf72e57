"""The distribution ships every package and data file the app needs (not just in editable
installs, where the source tree hides omissions), all under one namespace."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("protos", "client", "server", "app")


def _setup_packages() -> tuple[list[str], dict[str, str]]:
    """The `packages` and `package_dir` setup.py passes to setuptools."""
    import setuptools

    captured: dict[str, object] = {}
    original = setuptools.setup
    setuptools.setup = lambda **kwargs: captured.update(kwargs)  # type: ignore[assignment]
    try:
        code = compile((ROOT / "setup.py").read_text(), "setup.py", "exec")
        exec(code, {"__name__": "__main__", "__file__": str(ROOT / "setup.py")})
    finally:
        setuptools.setup = original
    return captured["packages"], captured["package_dir"]  # type: ignore[return-value]


def test_every_package_is_shipped_under_the_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    packages, package_dir = _setup_packages()
    on_disk = {
        "grove_explorer." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in LAYERS
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk <= set(packages), f"not shipped: {sorted(on_disk - set(packages))}"
    assert all(p.startswith("grove_explorer.") for p in packages)
    assert package_dir == {f"grove_explorer.{layer}": layer for layer in LAYERS}


def test_no_generic_top_level_names_are_installed() -> None:
    """Installed, Grove adds `grove_explorer` only: no `app`, `client`, `server`, `protos`."""
    distribution = importlib.metadata.distribution("grove-explorer")
    assert distribution.entry_points.select(group="console_scripts")["grove"].value == (
        "grove_explorer.app.cli:main"
    )
    import grove_explorer.app
    import grove_explorer.client

    assert Path(grove_explorer.app.__file__).parent == ROOT / "app"
    assert Path(grove_explorer.client.__file__).parent == ROOT / "client"


def test_corpus_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["grove_explorer.server.sampler"]
    corpus = [p for pattern in patterns for p in (ROOT / "server" / "sampler").glob(pattern)]
    assert len(corpus) >= 5
