"""Layering: no stage module imports the CLIs in tools/ or the scripts in bench/ (STYLE.md, module map)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STAGES = ("config", "detection", "reid", "mot", "mtmc", "evaluate", "models")
TOP_LAYER = ("tools", "bench")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, also those inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def stage_files() -> list[Path]:
    return sorted(p for stage in STAGES for p in (REPO / stage).rglob("*.py"))


def test_the_scan_sees_every_kind_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import tools.annotate\nfrom bench import x\ndef f():\n    from tools.a import b\n")
    assert [m for _, m in imported_modules(sample)] == ["tools.annotate", "bench", "tools.a"]


@pytest.mark.parametrize("path", stage_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_stage_module_does_not_import_tools_or_bench(path: Path) -> None:
    wrong = [
        f"line {line}: {module}"
        for line, module in imported_modules(path)
        if module.split(".")[0] in TOP_LAYER
    ]
    assert not wrong, f"{path.relative_to(REPO)} imports the top layer: {wrong}"


PROJECT = (*STAGES, *TOP_LAYER)


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for top in PROJECT for p in (REPO / top).rglob("*.py")}


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere (top level, inside functions, TYPE_CHECKING).

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module, else of ``pkg``.
    """
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
        graph[name] = {t for t in targets if t in modules and t != name and not name.startswith(f"{t}.")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_sees_a_circle_through_a_function_level_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_between_project_modules() -> None:
    found = cycles(import_graph(project_modules()))
    assert not found, f"modules importing each other (directly or through others): {found}"


# models (runtimes) -> config -> detection -> reid -> mot -> mtmc -> evaluate: imports go leftwards.
LAYERS = ("models", "config", "detection", "reid", "mot", "mtmc", "evaluate")
# Runners (and the express glue they share) compose the stages, evaluation included.
RUNNERS = {
    "mot.run_tracker",
    "mtmc.express",
    "mtmc.run_express_mtmc",
    "mtmc.run_mtmc",
    "mtmc.run_live_mtmc",
    "mtmc.run_report",
    "evaluate.run_eval",
}


def test_stages_import_only_the_stages_to_their_left() -> None:
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    wrong = [
        f"{module} -> {target}"
        for module, targets in sorted(import_graph(project_modules()).items())
        if module.split(".")[0] in rank and module not in RUNNERS
        for target in sorted(targets)
        if rank.get(target.split(".")[0], -1) > rank[module.split(".")[0]]
    ]
    assert not wrong, f"imports against the data flow: {wrong}"
