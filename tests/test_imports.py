"""Layering: which kgrec modules import which (every import that runs, at module level or
inside a function; ``if TYPE_CHECKING:`` blocks are skipped since they never run)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kgrec"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """kgrec modules imported by the file (``from kgrec.x import y`` counts as
    ``kgrec.x.y`` when that is a module, else ``kgrec.x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("kgrec"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kgrec"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return {m for m in found if m in MODULES}


FILES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
MODULES = set(FILES)
GRAPH = {name: _imports(path) - {name} for name, path in FILES.items()}


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


@pytest.mark.parametrize("lower, upper", [
    ("kgrec.models", ("kgrec.train", "kgrec.evaluate", "kgrec.serve", "kgrec.cli",
                      "kgrec.recommender", "kgrec.benchmark")),
    ("kgrec.train", ("kgrec.serve", "kgrec.cli", "kgrec.recommender", "kgrec.benchmark")),
    ("kgrec.serve", ("kgrec.cli", "kgrec.benchmark", "kgrec.web")),
    ("kgrec.graph", ("kgrec.models", "kgrec.train", "kgrec.serve", "kgrec.recommender")),
])
def test_lower_packages_never_import_upper_ones(lower, upper):
    bad = sorted(f"{m} -> {d}" for m, deps in GRAPH.items() if _package(m) == lower
                 for d in deps if d.startswith(upper))
    assert not bad, bad


def _loops() -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan): the import loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in GRAPH[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(component)

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return out


@pytest.mark.parametrize("scope", ["kgrec.models", "kgrec.train", "kgrec.serve", "kgrec.graph",
                                   "kgrec.config", "kgrec.recommender", "kgrec.benchmark",
                                   "kgrec.cli"])
def test_no_import_loops(scope):
    loops = [sorted(c) for c in _loops()
             if any(m == scope or m.startswith(scope + ".") for m in c)]
    assert not loops, loops
