"""Every layer stays rooms of one job: no import circle, no module over ~600 lines.

Checked for the whole project at once (server, SDK, app and contract), with the same
circle finder CI runs (`python tools/import_cycles.py`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.import_cycles import LAYERS, import_graph, one_cycle, strongly_connected

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 600
GENERATED = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def test_the_graph_sees_every_layer() -> None:
    graph = import_graph()
    assert "grove_explorer.server.servicer.rpcs" in graph["grove_explorer.server.servicer"]
    assert "grove_explorer.client.forest" in graph["grove_explorer.client.conversation"]
    assert "grove_explorer.protos.chat_pb2" in graph["grove_explorer.client.convert"]
    assert (
        "grove_explorer.app.screens.tokens"
        in graph["grove_explorer.app.screens.main.token_actions"]
    )


def test_no_import_circle_among_our_modules() -> None:
    graph = import_graph()
    circles = [one_cycle(graph, c) for c in strongly_connected(graph)]
    assert circles == [], "\n".join(" -> ".join(c) for c in circles)


def test_the_circle_finder_finds_circles_and_only_those() -> None:
    graph = {
        "a": {"b"},
        "b": {"c"},
        "c": {"a", "d"},
        "d": {"e"},
        "e": set(),
        "x": {"y"},
        "y": {"x"},
        "outside": {"elsewhere"},
    }
    components = sorted(strongly_connected(graph))
    assert components == [["a", "b", "c"], ["x", "y"]]
    assert one_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("layer", LAYERS)
def test_no_module_is_over_600_lines(layer: str) -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in (ROOT / layer).rglob("*.py")
        if not path.name.endswith(GENERATED)
    }
    assert sizes, f"no modules found in {layer}/"
    too_big = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not too_big, f"split by responsibility: {too_big}"


def test_the_token_view_does_not_know_the_explorer() -> None:
    """The old main <-> tokens circle: the explorer opens the token view, not the reverse."""
    graph = import_graph()
    token_view = [m for m in graph if m.startswith("grove_explorer.app.screens.tokens")]
    assert len(token_view) > 1
    for module in token_view:
        assert not any(t.startswith("grove_explorer.app.screens.main") for t in graph[module])
