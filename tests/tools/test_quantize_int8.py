"""tools/quantize_int8.py on real footage: int8 models that load, agree with fp32, run the profile."""

from __future__ import annotations

import argparse
from pathlib import Path

import onnx
import pytest

from config.loader import load_config
from detection.boxes import iou_matrix
from detection.factory import build_detector
from detection.filters import filter_detections
from detection.video import iter_frames
from models.registry import resolve_model
from models.runtime import open_runner
from reid.embedder import ModelEmbedder
from tests.conftest import EXAMPLES
from tools.quantize_int8 import DETECTOR, REID, quantize_models, reid_agreement, spread_frames, vehicle_crops

VEHICLES = [2, 3, 5, 7]


@pytest.fixture(scope="module")
def int8_models(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("int8")
    video = shared / "data" / "traffic" / "intersection_960x540.mp4"
    args = argparse.Namespace(video=str(video), out=out, frames=8, crops=16, detector=DETECTOR, reid=REID)
    return quantize_models(args)


def test_the_models_are_quantized(int8_models: dict[str, Path]) -> None:
    for key in ("det8", "reid8"):
        ops = {node.op_type for node in onnx.load(str(int8_models[key])).graph.node}
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops
        assert int8_models[key].name.endswith("_int8.onnx")


def test_int8_detector_finds_the_vehicles_fp32_finds(shared: Path, int8_models: dict[str, Path]) -> None:
    frame = next(
        f for i, f in iter_frames(str(shared / "data" / "traffic" / "intersection_960x540.mp4")) if i == 200
    )
    found = {}
    for key, conf in (("det32", 0.5), ("det8", 0.25)):  # int8 scores run lower (see docs/models.md, int8)
        det = build_detector(str(int8_models[key]), backend="onnxruntime", conf_threshold=0.1)
        found[key] = filter_detections(det.detect(frame), conf, VEHICLES, None)
    assert len(found["det32"]) >= 5
    best = iou_matrix(found["det32"].xyxy, found["det8"].xyxy).max(axis=1)
    assert (best >= 0.5).mean() >= 0.6  # most confident fp32 vehicles are found again by int8


def test_reid_agreement_measures_the_int8_change_on_real_crops(
    shared: Path, int8_models: dict[str, Path]
) -> None:
    frames = spread_frames(
        str(shared / "data" / "aic_s03_c010" / "c010_first100.mp4"), 3
    )  # not calibration data
    detector = build_detector(str(int8_models["det32"]), backend="onnxruntime")
    crops = vehicle_crops(detector, frames, 24)  # type: ignore[arg-type]
    assert len(crops) >= 6
    fp32, int8 = (ModelEmbedder(open_runner(int8_models[k], "onnxruntime")) for k in ("reid32", "reid8"))
    same = reid_agreement(fp32, fp32, crops)
    assert same["cosine_min"] > 0.9999 and same["same_nearest"] == 1.0
    changed = reid_agreement(fp32, int8, crops)
    assert 0.0 < changed["cosine_mean"] < 0.999  # really int8, and still the same kind of feature
    assert changed["cosine_min"] <= changed["cosine_mean"]


def test_the_int8_profile_validates_with_the_quantized_models(
    int8_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VEHICLE_MTMC_MODELS", str(int8_models["det8"].parent))
    cfg = load_config(
        EXAMPLES / "profiles" / "mot_intersection_int8.yaml", ["OUTPUT_DIR", str(tmp_path)], mode="mot"
    )
    assert resolve_model(cfg.MOT.DETECTOR) == int8_models["det8"]
