"""The shipped vehicle ReID models: manifest entries, their input convention, the default, a real run."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from config.defaults import get_cfg_defaults
from models.registry import MANIFEST_PATH, MODELS_DIR, resolve_model, sha256_of
from models.runtime import open_runner
from reid.conventions import METADATA_KEY, InputConvention
from reid.factory import build_embedder
from tests.conftest import EXAMPLES, INTERSECTION

SHIPPED = ("vehicle_reid_mnv2_aic_vn2cam", "vehicle_reid_mnv2_vn2cam")  # the default first


def manifest_rows() -> dict[str, dict]:
    return {row["name"]: row for row in json.loads(MANIFEST_PATH.read_text())["models"]}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_matches_its_manifest_entry_and_declares_its_convention(name: str) -> None:
    row = manifest_rows()[name]
    path = MODELS_DIR / row["file"]
    assert path.is_file() and path.stat().st_size <= 5_000_000
    assert sha256_of(path) == row["sha256"]
    assert all(source["licence"] for source in row["training_sources"])
    runner = open_runner(path, "onnxruntime")
    declared = json.loads(runner.metadata[METADATA_KEY])
    assert declared == InputConvention((224, 224)).as_dict() == row["input_convention"]
    assert tuple(runner.input_shape[1:]) == (3, 224, 224)


def test_the_default_reid_model_is_the_shipped_one_and_fits_the_default_convention() -> None:
    mot = get_cfg_defaults().MOT
    assert resolve_model(mot.REID_ONNX) == MODELS_DIR / manifest_rows()[SHIPPED[0]]["file"]
    embedder = build_embedder("onnxruntime", mot.REID_ONNX, input_size=mot.REID_INPUT_SIZE)
    image = cv2.imread(str(INTERSECTION.parent / "MVI_20011" / "img00001.jpg"))
    features = embedder.embed(image, np.array([[300, 200, 420, 300], [500, 250, 600, 330]], np.float32))
    assert features.shape == (2, 1280) and np.allclose(np.linalg.norm(features, axis=1), 1, atol=1e-5)


def test_the_express_pipeline_runs_with_the_shipped_model(tmp_path: Path) -> None:
    from mtmc.run_express_mtmc import main as run_express
    from tools.make_crop_views import DEFAULT_VIEWS, View, make_views

    clip = tmp_path / "clip.mp4"
    capture = cv2.VideoCapture(str(INTERSECTION))
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30, (960, 540))
    for _ in range(30):
        ok, frame = capture.read()
        assert ok
        writer.write(frame)
    writer.release()
    capture.release()
    views = tmp_path / "views"
    make_views(str(clip), views, [View.parse(v) for v in DEFAULT_VIEWS], -1.0, 5.0, progress=False)
    config = (EXAMPLES / "express_demo.yaml").read_text().replace("../../output/demo_cameras", str(views))
    (tmp_path / "express.yaml").write_text(config)
    out = tmp_path / "out"
    model = manifest_rows()[SHIPPED[0]]["file"]
    args = ["--config", str(tmp_path / "express.yaml"), "OUTPUT_DIR", str(out), "MOT.REID_ONNX", model]
    assert run_express([*args, "MOT.VIDEO_OUTPUT", "false", "EXPRESS.FINAL_VIDEO_OUTPUT", "false"]) == 0
    from mot.tracklet_file import load_tracklet_file

    tracklets = load_tracklet_file(out / "0_far" / "mot.npz").tracklets
    assert tracklets and all(
        t.mean_feature is not None and t.mean_feature.shape == (1280,) for t in tracklets
    )
    assert (out / "mtmc.npz").is_file()
