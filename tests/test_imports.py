"""bench/ has no import cycle between its packages (nor between its top-level modules).

Every import counts, also the ones inside functions: a lazy import hides a cycle from
Python's loader, not from the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def unit_of(module: str) -> str | None:
    """bench.results.store -> bench.results; bench.cli -> bench.cli; others -> None."""
    parts = module.split(".")
    if parts[0] != "bench" or len(parts) < 2:
        return None
    return ".".join(parts[:2])


def module_name(path: Path) -> str:
    rel = path.relative_to(BENCH.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def unit_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in BENCH.rglob("*.py"):
        src = unit_of(module_name(path))
        if src is None:
            continue
        for target in imports_of(path):
            dst = unit_of(target)
            if dst and dst != src and (BENCH.parent / dst.replace(".", "/")).exists() or (
                    dst and (BENCH.parent / (dst.replace(".", "/") + ".py")).exists()):
                if dst != src:
                    graph.setdefault(src, set()).add(dst)
        graph.setdefault(src, set())
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_between_bench_packages():
    cycle = find_cycle(unit_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_results_layer_sits_below_analysis_report_execute_and_cli():
    graph = unit_graph()
    below = {"bench.results"}
    for unit in ("bench.analysis", "bench.report", "bench.execute", "bench.cli"):
        assert unit not in _reachable(graph, "bench.results"), unit
    assert below <= _reachable(graph, "bench.report") | {"bench.results"}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.mark.parametrize("graph, cycle", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": set()}, None),
])
def test_the_cycle_finder_finds_cycles(graph, cycle):
    assert find_cycle(graph) == cycle
