"""Fails when Grove's own modules import each other in a circle.

A circle (a imports b, b imports a, directly or through others) makes modules that can
only be understood, tested and changed together; the redesign removed them and this check
keeps them out. Imports under `TYPE_CHECKING` count too: they tie modules together just
the same for a reader. The graph is grimp's (the library import-linter uses); circles are
the strongly connected components of more than one module, printed with one concrete
cycle each.

Usage: `python tools/import_cycles.py`; exit status 1 when there is a circle.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping

LAYERS = ("protos", "client", "server", "app")
NAMESPACE = "grove_explorer"


def strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (import chains can be long); components of size > 1."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def one_cycle(graph: Mapping[str, set[str]], component: list[str]) -> list[str]:
    """A concrete cycle through the component's first module (breadth-first, shortest)."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return component


def import_graph() -> dict[str, set[str]]:
    """Our modules and the modules of ours each imports directly."""
    import grimp

    graph = grimp.build_graph(
        *(f"{NAMESPACE}.{layer}" for layer in LAYERS),
        include_external_packages=False,
        exclude_type_checking_imports=False,
    )
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def main() -> int:
    """Prints every circle; 0 when there is none."""
    graph = import_graph()
    components = strongly_connected(graph)
    for component in components:
        print(f"import circle among {len(component)} modules:")
        print("  " + " -> ".join(one_cycle(graph, component)))
    if components:
        return 1
    print(f"no import circles among {len(graph)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
