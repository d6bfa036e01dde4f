"""Start-up model checks: ``--dry-run`` (and every start) loads each model and checks its layout.

Each rejection names the key, the file, what the model expects and what was configured, and
exits with code 2 without a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "examples" / "mot_intersection.yaml"


def dry_run(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "mot/run_tracker.py", "--config", str(CONFIG), "--dry-run"]
    args += ["OUTPUT_DIR", str(tmp_path / "out"), *overrides]
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)


def assert_rejected(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_a_text_file_named_onnx_is_rejected(tmp_path: Path) -> None:
    fake = tmp_path / "detector.onnx"
    fake.write_text("not a model\n")
    assert_rejected(dry_run(tmp_path, "MOT.DETECTOR", str(fake)), "MOT.DETECTOR", str(fake), "cannot load")


def test_a_reid_model_given_as_detector_is_rejected(tmp_path: Path, shared: Path) -> None:
    proc = dry_run(tmp_path, "MOT.DETECTOR", "mobilenetv2_imagenet_features.onnx")
    assert_rejected(proc, "MOT.DETECTOR", "mobilenetv2_imagenet_features.onnx", "[1, 1280]", "[1, 1, N, 7]")


def test_a_wrong_output_format_is_rejected(tmp_path: Path, shared: Path) -> None:
    proc = dry_run(tmp_path, "MOT.DETECTOR", "vehicle-detection-0202", "MOT.DETECTOR_OUTPUT_FORMAT", "yolox")
    assert_rejected(
        proc, "MOT.DETECTOR_OUTPUT_FORMAT", "vehicle-detection-0202.xml", "[1, 1, 200, 7]", "'yolox'"
    )


def test_a_wrong_detector_input_size_is_rejected(tmp_path: Path, shared: Path) -> None:
    proc = dry_run(tmp_path, "MOT.DETECTOR_INPUT_SIZE", "[640, 640]")
    assert_rejected(proc, "MOT.DETECTOR_INPUT_SIZE", "yolox_nano.onnx", "[416, 416]", "[640, 640]")


def test_a_wrong_reid_input_size_is_rejected(tmp_path: Path, shared: Path) -> None:
    proc = dry_run(tmp_path, "MOT.REID_INPUT_SIZE", "[256, 128]")
    assert_rejected(
        proc, "MOT.REID_INPUT_SIZE", "vehicle_reid_mnv2_aic_vn2cam.onnx", "[224, 224]", "[256, 128]"
    )


def test_a_detector_given_as_reid_model_is_rejected(tmp_path: Path, shared: Path) -> None:
    proc = dry_run(tmp_path, "MOT.REID_ONNX", "yolox_nano.onnx")
    assert_rejected(proc, "MOT.REID_ONNX", "yolox_nano.onnx", "[1, 3549, 85]", "[N, D]")


def test_an_absurd_reid_input_size_is_a_config_error(tmp_path: Path) -> None:
    proc = dry_run(tmp_path, "MOT.REID_INPUT_SIZE", "[100000, 100000]")
    assert_rejected(proc, "MOT.REID_INPUT_SIZE", "2048")


def test_a_class_map_reaching_no_tracked_class_is_rejected(tmp_path: Path, shared: Path) -> None:
    proc = dry_run(tmp_path, "MOT.DETECTOR", "vehicle-detection-0200", "MOT.DETECTOR_CLASS_MAP", "[0]")
    assert_rejected(proc, "MOT.DETECTOR_CLASS_MAP", "vehicle-detection-0200.xml", "[0]", "[2, 3, 5, 7]")


@pytest.mark.parametrize("detector", ["vehicle-detection-0202", "yolox_nano.onnx"])
def test_a_valid_model_passes_and_the_plan_says_where_values_came_from(
    tmp_path: Path, shared: Path, detector: str
) -> None:
    proc = dry_run(tmp_path, "MOT.DETECTOR", detector, "MOT.BYTETRACK.TRACK_THRESH", "0.45")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())["cameras"][0]
    assert plan["model_errors"] == []
    sources = plan["detector_defaults"]
    assert sources["MOT.BYTETRACK.TRACK_THRESH"] == {"value": 0.45, "source": "config"}
    assert sources["MOT.DETECTION_NMS_IOU"]["source"].startswith("detector ")
    assert "values" in proc.stderr and "from detector" in proc.stderr
