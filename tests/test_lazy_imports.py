"""Runners import their stages only when a run starts: ``--help`` and ``--dry-run`` stay fast.

Checked by import inspection (which modules are in ``sys.modules`` afterwards), not by timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, REPO

RUNNERS = (
    "mot.run_tracker",
    "mtmc.run_express_mtmc",
    "mtmc.run_mtmc",
    "evaluate.run_eval",
    "mtmc.run_report",
)
# Never needed to print the help: model runtimes, video, tables, metrics, solvers.
HEAVY = (
    "trackeval",
    "scipy",
    "pandas",
    "onnxruntime",
    "openvino",
    "cv2",
    "torch",
    "tqdm",
    "motmetrics",
    "ray",
    "sklearn",
)
# Not needed to check a config and its inputs either (models are checked by their own runtime).
NOT_FOR_DRY_RUN = ("trackeval", "scipy", "pandas", "torch", "motmetrics", "ray", "sklearn")

PROBE = """
import json, sys
import {module} as runner
try:
    code = runner.main({argv!r})
except SystemExit as stop:
    code = stop.code
print(json.dumps({{"code": code, "loaded": sorted(m for m in {names!r} if m in sys.modules)}}))
"""


def loaded_after(module: str, argv: list[str], names: tuple[str, ...]) -> dict:
    script = PROBE.format(module=module, argv=argv, names=names)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", RUNNERS)
def test_help_imports_no_heavy_module(module: str) -> None:
    found = loaded_after(module, ["--help"], HEAVY)
    assert found["code"] == 0
    assert found["loaded"] == [], f"{module} --help imports {found['loaded']}"


@pytest.mark.parametrize(
    ("module", "config"),
    [("mot.run_tracker", "mot_intersection.yaml"), ("mtmc.run_express_mtmc", "express_demo.yaml")],
)
def test_dry_run_imports_no_evaluation_or_solver(
    module: str, config: str, demo_cameras: Path, tmp_path: Path
) -> None:
    argv = ["--config", str(EXAMPLES / config), "--dry-run", "OUTPUT_DIR", str(tmp_path)]
    found = loaded_after(module, argv, NOT_FOR_DRY_RUN)
    assert found["code"] == 0
    assert found["loaded"] == [], f"{module} --dry-run imports {found['loaded']}"
