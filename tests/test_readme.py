"""The README states what the code does: its config table and its two commands."""

from __future__ import annotations

from pathlib import Path

from tools.config_reference import README, with_table

REPO = Path(__file__).resolve().parent.parent


def test_config_reference_in_readme_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert with_table(text) == text, "run: python tools/config_reference.py --update"


def test_ci_runs_the_readme_test_command() -> None:
    readme = README.read_text(encoding="utf-8")
    assert "bash run.sh " in readme and "bash run_tests.sh " in readme
    ci = (REPO / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "bash run_tests.sh"
