"""Several cameras in one loop with shared detector batches give each camera its own run's results."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from config.defaults import get_cfg_defaults
from mot.camera import run_camera, run_cameras_batched
from mot.model_cache import ModelCache
from mot.tracklet import Tracklet


def clip(source: Path, path: Path, start: int, count: int) -> Path:
    """Frames start .. start+count of a real video, losslessly enough for the test (MJPG, read back as is)."""
    cap = cv2.VideoCapture(str(source))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (960, 540))
    for _ in range(count):
        ok, frame = cap.read()
        assert ok
        writer.write(frame)
    writer.release()
    cap.release()
    return path


@pytest.fixture(scope="module")
def clips(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    tmp = tmp_path_factory.mktemp("clips")
    video = shared / "data" / "traffic" / "intersection_960x540.mp4"
    return [clip(video, tmp / "a.avi", 0, 18), clip(video, tmp / "b.avi", 120, 12)]  # different lengths


def camera_cfg(video: Path, backend: str, out: Path):
    cfg = get_cfg_defaults()
    cfg.OUTPUT_DIR = str(out)
    cfg.MOT.VIDEO = str(video)
    cfg.MOT.DETECTOR = "yolox_nano.onnx"  # an ONNX file both backends read
    cfg.MOT.DETECTOR_BACKEND = backend
    cfg.MOT.MIN_FRAMES = 2
    cfg.MOT.PIPELINE_LOOKAHEAD = 2
    return cfg


def assert_same(a: list[Tracklet], b: list[Tracklet], box_tol: float = 0.0, feature_tol: float = 0.0) -> None:
    assert [t.track_id for t in a] == [t.track_id for t in b]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.frames, y.frames)
        np.testing.assert_allclose(x.bboxes, y.bboxes, rtol=0, atol=box_tol)
        np.testing.assert_allclose(x.mean_feature, y.mean_feature, rtol=0, atol=feature_tol)


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_batched_cameras_match_per_camera_runs(clips: list[Path], tmp_path: Path, backend: str) -> None:
    if backend == "openvino":
        pytest.importorskip("openvino")
    models = ModelCache(threads=1)
    alone = [
        run_camera(
            camera_cfg(v, backend, tmp_path / f"alone{i}"),
            i,
            f"cam{i}",
            tmp_path / f"alone{i}",
            models,
            progress=False,
        )
        for i, v in enumerate(clips)
    ]
    cameras = [
        (camera_cfg(v, backend, tmp_path / f"b{i}"), i, f"cam{i}", tmp_path / f"b{i}")
        for i, v in enumerate(clips)
    ]
    together = run_cameras_batched(cameras, models, progress=False)
    detector = models.detector(cameras[0][0].MOT, batched=True)
    # OpenVINO runs the frames as one real batch; the ONNX model has a fixed batch of 1 and loops
    assert detector._fixed_batch is (backend == "onnxruntime")
    assert [r.stats.frames for r in together] == [18, 12]
    assert all(r.complete for r in together) and (tmp_path / "b1" / "mot.npz").is_file()
    for one, both in zip(alone, together, strict=True):
        assert len(one.tracklets) > 3
        assert_same(one.tracklets, both.tracklets)


def test_the_batched_executor_gives_the_sequential_executors_tracklets(
    clips: list[Path], tmp_path: Path
) -> None:
    from mtmc.executors import run_cameras
    from mtmc.express import camera_jobs

    outcomes = {}
    for executor in ("sequential", "batched"):
        cfg = get_cfg_defaults()
        cfg.OUTPUT_DIR = str(tmp_path / executor)
        cfg.MOT.MIN_FRAMES = 2
        cfg.SYSTEM.NUM_THREADS = 1
        cfg.EXPRESS.EXECUTOR = executor
        cfg.EXPRESS.CAMERAS = [{"name": f"cam{i}", "video": str(v)} for i, v in enumerate(clips)]
        outcomes[executor] = run_cameras(cfg, camera_jobs(cfg), progress=False)
    for seq, bat in zip(outcomes["sequential"], outcomes["batched"], strict=True):
        assert seq.ok and bat.ok and bat.attempts == 1
        assert len(seq.tracklets) > 3
        # the default detector (an OpenVINO IR reshaped to a dynamic batch) computes a batch
        # with other kernels than one frame: the same tracks, boxes equal to 1e-3 px
        assert_same(seq.tracklets, bat.tracklets, box_tol=1e-3, feature_tol=1e-4)
