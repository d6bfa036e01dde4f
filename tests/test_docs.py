"""README.md and docs/ state what the code does: links, commands, config keys, tables and the module map.

Each check reads the pages as a user would follow them: every relative link and image opens,
every script or console command named exists (the quick ones answer ``--help``), every YAML
example names only known keys, the generated config reference is current, every benchmark
script has its page, and the architecture page's module map lists every module.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml

from config.defaults import SCHEMA_BY_NAME
from tools.config_reference import REFERENCE, with_table

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = REPO / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
# Pages written on other branches of this round; the links to them resolve once those are merged.
PENDING_PAGES = {}
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
SCRIPT = re.compile(r"\b(?:python|bash)\s+((?:[\w-]+/)*[\w-]+\.(?:py|sh))\b")
CONSOLE = re.compile(r"(?<![\w/.-])(mtmc-[a-z-]+)\b")
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)
SOURCE = re.compile(r"`((?:config|detection|reid|mot|mtmc|evaluate|models|tools|bench|tests)/[\w/]+\.py)")


def page_id(page: Path) -> str:
    return str(page.relative_to(REPO))


def text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in text(page).splitlines() if re.match(r"#{1,6} ", line)}


def test_readme_is_short() -> None:
    assert len(text(README).splitlines()) <= 250


def test_ci_runs_the_readme_test_command() -> None:
    readme = text(README)
    assert "bash run.sh " in readme and "bash run_tests.sh " in readme
    ci = (REPO / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "bash run_tests.sh"


def test_config_reference_is_current() -> None:
    page = REFERENCE.read_text(encoding="utf-8")
    assert with_table(page) == page, "run: python tools/config_reference.py --update"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in LINK.findall(text(page)):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        name = str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else str(resolved)
        if name in PENDING_PAGES:
            continue
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, f"{page_id(page)}: {broken}"


def test_pending_pages_are_only_those_not_yet_written() -> None:
    """Once a page of another branch is merged it is checked like the others: drop it from the list."""
    written = sorted(p for p in PENDING_PAGES if (REPO / p).exists())
    assert not written, f"remove from PENDING_PAGES: {written}"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_script_named_exists(page: Path) -> None:
    missing = sorted({s for s in SCRIPT.findall(text(page)) if not (REPO / s).is_file()})
    assert not missing, f"{page_id(page)} names scripts that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_source_file_named_exists(page: Path) -> None:
    """Modules the pages point a reader to (``mot/pipeline.py``, ...) are still where they say."""
    missing = sorted({s for s in SOURCE.findall(text(page)) if not (REPO / s).is_file()})
    assert not missing, f"{page_id(page)} names files that do not exist: {missing}"


def console_scripts() -> dict[str, str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_console_command_named_is_installed(page: Path) -> None:
    unknown = sorted(set(CONSOLE.findall(text(page))) - set(console_scripts()))
    assert not unknown, f"{page_id(page)} names console commands pyproject.toml does not install: {unknown}"


PYTHON_SCRIPTS = sorted({s for page in PAGES for s in SCRIPT.findall(text(page)) if s.endswith(".py")})


@pytest.mark.parametrize("script", PYTHON_SCRIPTS)
def test_every_python_script_named_answers_help(script: str) -> None:
    """Run as the pages write them, from the repository root (bench/ scripts with the tree on PYTHONPATH)."""
    done = subprocess.run(
        [sys.executable, script, "--help"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "usage" in done.stdout, done.stderr[-2000:]


@pytest.mark.parametrize("name", sorted(console_scripts()))
def test_console_script_targets_exist(name: str) -> None:
    module, _, function = console_scripts()[name].partition(":")
    path = REPO / (module.replace(".", "/") + ".py")
    assert path.is_file(), f"{name}: {module} is not a module of this tree"
    assert re.search(rf"^def {function}\(", path.read_text(encoding="utf-8"), re.M), (
        f"{name}: no {function}()"
    )


def yaml_keys(node: dict, prefix: str = "") -> list[str]:
    """Dotted keys of a config mapping; per-camera entries of EXPRESS.CAMERAS are not descended into."""
    keys = []
    for name, value in node.items():
        full = f"{prefix}{name}"
        if isinstance(value, dict) and full not in SCHEMA_BY_NAME:
            keys += yaml_keys(value, f"{full}.")
        else:
            keys.append(full)
    return keys


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_yaml_examples_name_only_known_keys(page: Path) -> None:
    for block in YAML_BLOCK.findall(text(page)):
        data = yaml.safe_load(block)
        assert isinstance(data, dict), f"{page_id(page)}: a yaml example is not a mapping: {block[:80]}"
        unknown = [k for k in yaml_keys(data) if k not in SCHEMA_BY_NAME]
        assert not unknown, f"{page_id(page)}: unknown config keys in an example: {unknown}"


def test_every_benchmark_script_is_on_the_benchmarks_page() -> None:
    page = text(DOCS / "benchmarks.md")
    missing = [p.name for p in sorted((REPO / "bench").glob("*")) if f"bench/{p.name}" not in page]
    assert not missing, f"docs/benchmarks.md does not mention: {missing}"


def test_module_map_lists_every_stage_module() -> None:
    page = text(DOCS / "architecture.md")
    stages = ("config", "detection", "reid", "models", "mot", "mtmc", "evaluate")
    modules = sorted(
        str(p.relative_to(REPO)) for s in stages for p in (REPO / s).rglob("*.py") if p.name != "__init__.py"
    )
    missing = [m for m in modules if f"`{m}`" not in page]
    assert not missing, f"docs/architecture.md's module map misses: {missing}"


def test_every_example_config_is_described() -> None:
    page = text(README) + text(DOCS / "configuration.md")
    examples = sorted(p.name for p in (REPO / "config" / "examples").glob("*.yaml"))
    assert [e for e in examples if f"`{e}`" not in page] == []


def test_the_readme_shows_the_report_screenshot() -> None:
    assert "](docs/report.png)" in text(README) and (DOCS / "report.png").stat().st_size > 10_000
