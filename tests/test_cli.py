"""The runners as users call them: scripts from the repo root and installed console scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from config.loader import load_config
from mot.exports import save_mot_txt
from mot.tracklet import Tracklet
from mot.tracklet_file import save_tracklets

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "config" / "examples"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_express_dry_run_from_the_repo_root(demo_cameras: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = run(
        "mtmc/run_express_mtmc.py",
        "--config",
        str(EXAMPLES / "express_demo.yaml"),
        "--dry-run",
        "OUTPUT_DIR",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    plan = json.loads((out / "plan.json").read_text())
    assert [c["name"] for c in plan["cameras"]] == ["far", "near"]
    assert [c["output_dir"] for c in plan["cameras"]] == [str(out / "0_far"), str(out / "1_near")]
    assert plan["cameras"][0]["video_info"]["frames"] == 252
    assert plan["cameras"][1]["detector"]["model"].endswith("yolox_nano.onnx")
    assert "dry run: configuration, models and inputs are valid" in proc.stderr
    # the recorded effective config is itself a valid config for the same command
    again = load_config(out / "config.yaml", [], mode="express")
    assert again.EXPRESS.CAMERAS[1]["video"] == str(demo_cameras / "near.mp4")


def test_bad_config_exits_2_and_lists_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("MOT:\n  REID_BATCHSIZE: -3\n  TRAKER: x\nMTMC:\n  MIN_SIM: 5\n")
    proc = run("mtmc/run_express_mtmc.py", "--config", str(bad))
    assert proc.returncode == 2
    assert "3 configuration problem(s) in" in proc.stderr
    assert "MOT.REID_BATCHSIZE: expected a positive int, got -3" in proc.stderr
    assert "MOT.TRAKER: unknown key; did you mean 'MOT.TRACKER'?" in proc.stderr
    assert "MTMC.MIN_SIM: expected a number in [-1.0, 1.0], got 5.0" in proc.stderr


def test_mot_dry_run_on_the_intersection_clip(shared: Path, tmp_path: Path) -> None:
    proc = run(
        "mot/run_tracker.py",
        "--config",
        str(EXAMPLES / "mot_intersection.yaml"),
        "--dry-run",
        "--log-level",
        "debug",
        "OUTPUT_DIR",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["cameras"][0]["video_info"] == {"frames": 252, "fps": 30.0, "size": [960, 540]}


def test_unreadable_video_is_named(tmp_path: Path) -> None:
    video = tmp_path / "broken.mp4"
    video.write_bytes(b"\x00" * 1000)
    proc = run(
        "mot/run_tracker.py",
        "--config",
        str(EXAMPLES / "mot_intersection.yaml"),
        "--dry-run",
        "OUTPUT_DIR",
        str(tmp_path / "out"),
        "MOT.VIDEO",
        str(video),
    )
    assert proc.returncode == 2
    assert f"{video}: OpenCV cannot open this video" in proc.stderr
    assert not (tmp_path / "out" / "plan.json").exists()


def test_mtmc_only_and_eval_dry_runs(demo_cameras: Path, tmp_path: Path) -> None:
    files = []
    for cam in range(2):
        tracklets = [Tracklet(1, cam, [0, 1, 2], [[0, 0, 5, 5]] * 3, [0.9] * 3)]
        save_tracklets(tmp_path / f"cam{cam}.npz", tracklets)
        save_mot_txt(tmp_path / f"cam{cam}.txt", tracklets)
        files.append(str(tmp_path / f"cam{cam}.npz"))
    proc = run(
        "mtmc/run_mtmc.py",
        "--config",
        str(EXAMPLES / "mtmc_only.yaml"),
        "--dry-run",
        "OUTPUT_DIR",
        str(tmp_path / "mtmc"),
        "MTMC.TRACKLETS",
        json.dumps(files),
    )
    assert proc.returncode == 0, proc.stderr
    assert "camera 1: 1 tracklets, 3 boxes" in proc.stderr
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(
        f"EVAL:\n  GROUND_TRUTHS: [{tmp_path / 'cam0.txt'}]\n  PREDICTIONS: [{tmp_path / 'cam1.txt'}]\n"
    )
    proc = run("evaluate/run_eval.py", "--config", str(cfg), "--dry-run")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("script", ["mtmc-express", "mtmc-mot", "mtmc-mtmc", "mtmc-eval"])
def test_console_scripts_are_installed(script: str) -> None:
    exe = Path(sys.executable).parent / script
    assert exe.is_file(), f"{exe} missing: install the project (pip install -e .)"
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--config" in proc.stdout
