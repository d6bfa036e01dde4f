"""mtmc-train-reid's cross-camera pseudo-label loop end to end: two camera views of a real clip, tracked,
labelled across cameras and trained on (no labels at all); then the express pipeline runs with the model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mot.tracklet_file import load_tracklet_file
from mtmc.run_express_mtmc import main as run_express
from tests.tools.test_train_reid import short_clip
from tools.make_crop_views import DEFAULT_VIEWS, View, make_views
from tools.train_reid import main

EXPRESS = """OUTPUT_DIR: {out}
MOT:
  DETECTOR: yolox_nano.onnx
  TRACKER: bytetrack_iou
  MIN_FRAMES: 3
  VIDEO_OUTPUT: false
  REID_ONNX: {model}
  REID_INPUT_SIZE: [64, 64]
MTMC:
  CAMERA_LAYOUT: {layout}
EXPRESS:
  FINAL_VIDEO_OUTPUT: false
  CAMERAS:
    - name: far
      video: {far}
    - name: near
      video: {near}
"""


def test_bad_loop_arguments_exit_2_naming_the_problem(shared: Path, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("torch")
    labels = shared / "data" / "reid_vn2cam" / "labels.csv"
    assert main(["--output", "x.onnx", "--unlabelled", f"{labels},split=test"]) == 2
    assert "only used by the pseudo-label loop: give --rounds N" in caplog.text
    assert main(["--output", "x.onnx", "--unlabelled", str(labels), "--rounds", "1", "--pair-k", "0"]) == 2
    assert "pair k 0: expected an integer >= 1" in caplog.text
    assert main(["--output", "x.onnx", "--unlabelled", f"{labels},truth=nothing", "--rounds", "1"]) == 2
    assert "no 'nothing' column for truth=" in caplog.text
    assert main(["--output", "x.onnx", "--unlabelled", f"{labels},id=3", "--rounds", "1"]) == 2
    assert "got 'id=3'" in caplog.text


def test_footage_alone_trains_a_model_the_express_pipeline_runs_with(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    views = make_views(
        str(short_clip(tmp_path / "clip.mp4", 40)),
        tmp_path / "cams",
        [View.parse(v) for v in DEFAULT_VIEWS],
        -1.0,
        5.0,
        progress=False,
    )
    layout, model = tmp_path / "cams" / "layout.txt", tmp_path / "tiny.onnx"
    table = tmp_path / "table.json"
    args = [
        "--output",
        str(model),
        "--video",
        str(views[0]),
        "--video",
        str(views[1]),
        "--layout",
        str(layout),
    ]
    args += ["--rounds", "1", "--steps", "2", "--p", "4", "--k", "2", "--per-track", "4"]
    args += ["--input-size", "64", "64", "--threads", "1", "--json", str(table)]
    assert main(args) == 0 and model.is_file()
    (mined,) = json.loads(table.read_text())["pseudo_labels"]  # one round, no truth: no final report
    assert mined["scene"] == "footage" and mined["tracklets"] >= 4 and math.isnan(mined["precision"])
    config = tmp_path / "express.yaml"
    out = tmp_path / "run"
    config.write_text(
        EXPRESS.format(out=out, model=model, layout=layout, far=views[0], near=views[1]), encoding="utf-8"
    )
    assert run_express(["--config", str(config)]) == 0
    assert f"REID_ONNX: {model}" in (out / "mtmc.manifest.json").read_text()  # the run's config
    for camera in ("0_far", "1_near"):
        tracklets = load_tracklet_file(out / camera / "mtmc.npz").tracklets
        described = [t.features for t in tracklets if len(t.features)]
        assert described and all(f.shape[1] == 1280 for f in described)
