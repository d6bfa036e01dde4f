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
