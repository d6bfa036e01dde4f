"""tools/quantize_openvino.py on real footage: an int8 IR that finds fp32's vehicles and runs the profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import load_config
from detection.boxes import iou_matrix
from detection.factory import build_detector
from detection.video import iter_frames
from models.registry import resolve_model
from tests.conftest import EXAMPLES
from tools.quantize_openvino import main as quantize_main

pytest.importorskip("nncf")
SIZE = [576, 1024]


@pytest.fixture(scope="module")
def int8_model(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ov_int8")
    video = shared / "data" / "traffic" / "intersection_960x540.mp4"  # calibration: not the test camera
    code = quantize_main(["--video", str(video), "--frames", "6", "--out", str(out), "--no-report"])
    assert code == 0
    return out / "vehicle-detection-0202-int8.xml"


def test_the_ir_is_quantized(int8_model: Path) -> None:
    text = int8_model.read_text()
    assert 'type="FakeQuantize"' in text and int8_model.with_suffix(".bin").is_file()


def test_int8_finds_the_parked_cars_fp32_finds_on_another_camera(shared: Path, int8_model: Path) -> None:
    frame = next(
        f for i, f in iter_frames(str(shared / "data" / "aic_s03_c010" / "c010_first100.mp4")) if i == 50
    )
    found = {}
    for key, model in (("fp32", "vehicle-detection-0202.xml"), ("int8", str(int8_model))):
        detector = build_detector(model, input_size=SIZE, conf_threshold=0.1)
        dets = detector.detect(frame)
        found[key] = dets.xyxy[dets.score >= 0.3]
        assert (dets.class_id == 2).all()  # the fp32 model's class map, through the manifest
    assert len(found["fp32"]) >= 4
    best = iou_matrix(found["fp32"], found["int8"]).max(axis=1)
    assert (best >= 0.7).mean() >= 0.75


def test_the_int8_profile_takes_the_fp32_models_values(
    int8_model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VEHICLE_MTMC_MODELS", str(int8_model.parent))
    cfg = load_config(EXAMPLES / "profile_int8.yaml", ["OUTPUT_DIR", str(tmp_path)], mode="mot")
    assert resolve_model(cfg.MOT.DETECTOR) == int8_model
    assert list(cfg.MOT.DETECTOR_INPUT_SIZE) == SIZE
    assert cfg.MOT.BYTETRACK.NEW_TRACK_THRESH == 0.6


def test_a_video_that_is_not_there_is_a_clean_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert quantize_main(["--video", str(tmp_path / "none.mp4"), "--out", str(tmp_path)]) == 2
    assert "none.mp4: no such video file or image folder" in caplog.text
    assert not any(p.suffix == ".xml" for p in tmp_path.iterdir())
