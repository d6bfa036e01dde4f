"""Executors give identical results; failed cameras are retried and reported; partial runs are opt-in."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from mot.tracklet_file import load_tracklet_file
from mtmc.executors import import_ray
from mtmc.run_express_mtmc import main as run_express
from tests.conftest import EXAMPLES, INTERSECTION
from tools.make_crop_views import View, make_views

THREE_VIEWS = ("top:0,0.05,1,0.3", "middle:0,0.37,1,0.28", "bottom:0,0.68,1,0.32")


@pytest.fixture(scope="module")
def three_cameras(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("three")
    make_views(str(INTERSECTION), folder, [View.parse(v) for v in THREE_VIEWS], -1.0, 5.0, progress=False)
    return folder


def express(cameras: Path, out: Path, *extra: str, videos: dict[str, Path] | None = None) -> int:
    videos = videos or {name.split(":")[0]: cameras / f"{name.split(':')[0]}.mp4" for name in THREE_VIEWS}
    entries = json.dumps([{"name": name, "video": str(path)} for name, path in videos.items()])
    args = [
        "--config",
        str(EXAMPLES / "express_demo.yaml"),
        "OUTPUT_DIR",
        str(out),
        "EXPRESS.CAMERAS",
        entries,
    ]
    args += ["MTMC.CAMERA_LAYOUT", str(cameras / "layout.txt"), "MOT.VIDEO_OUTPUT", "false"]
    return run_express([*args, "EXPRESS.FINAL_VIDEO_OUTPUT", "false", *extra])


def results(out: Path) -> dict[str, tuple]:
    found = {}
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and p.name[0].isdigit()):  # {i}_{name}/
        mot = load_tracklet_file(folder / "mot.npz").tracklets
        mtmc = load_tracklet_file(folder / "mtmc.npz")
        found[folder.name] = (mot, [t.track_id for t in mtmc.tracklets], mtmc.global_ids)
    return found


def assert_identical(a: dict[str, tuple], b: dict[str, tuple]) -> None:
    assert a.keys() == b.keys()
    for camera in a:
        (mot_a, ids_a, global_a), (mot_b, ids_b, global_b) = a[camera], b[camera]
        assert ids_a == ids_b and global_a == global_b, camera
        assert len(mot_a) == len(mot_b)
        for x, y in zip(mot_a, mot_b, strict=True):
            assert x.track_id == y.track_id
            np.testing.assert_array_equal(x.frames, y.frames)
            np.testing.assert_array_equal(x.bboxes, y.bboxes)
            np.testing.assert_array_equal(x.mean_feature, y.mean_feature)


def niceness() -> int:
    return os.nice(0)


def test_sequential_processes_and_ray_give_identical_outputs(three_cameras: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    ray = import_ray()  # what the executor imports: workers at normal priority
    assert express(three_cameras, tmp_path / "sequential", "EXPRESS.EXECUTOR", "sequential") == 0
    assert express(three_cameras, tmp_path / "processes", "EXPRESS.EXECUTOR", "processes") == 0
    ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, configure_logging=False)
    try:
        # the camera tasks run at this process's priority, not Ray's default niceness 15
        assert ray.get(ray.remote(niceness).remote()) == niceness()
        assert express(three_cameras, tmp_path / "ray", "EXPRESS.EXECUTOR", "ray") == 0
    finally:
        ray.shutdown()
    sequential = results(tmp_path / "sequential")
    assert len(sequential) == 3 and any(len(g) for _, _, g in sequential.values())
    assert_identical(sequential, results(tmp_path / "processes"))
    assert_identical(sequential, results(tmp_path / "ray"))


def broken_video(path: Path) -> Path:
    """An AVI whose header is fine (it opens, 30 frames announced) but whose frames are zeros."""
    cap = cv2.VideoCapture(str(INTERSECTION))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (960, 540))
    for _ in range(30):
        writer.write(cap.read()[1])
    writer.release()
    data = bytearray(path.read_bytes())
    start = data.find(b"movi") + 12
    data[start : len(data) - 2000] = bytes(len(data) - 2000 - start)
    path.write_bytes(bytes(data))
    return path


def test_a_failing_camera_is_retried_reported_and_partial_runs_are_opt_in(
    three_cameras: Path, tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    videos = {"top": three_cameras / "top.mp4", "broken": broken_video(tmp_path / "broken.avi")}
    layout = tmp_path / "layout.txt"
    layout.write_text("0 1 -1 5\n1 0 -1 5\nfps 30 30\n")
    cameras = tmp_path / "cams"
    cameras.mkdir()
    (cameras / "layout.txt").write_text(layout.read_text())
    code = express(cameras, tmp_path / "strict", "EXPRESS.EXECUTOR", "processes", videos=videos)
    err = capfd.readouterr().err
    assert code == 1
    assert (
        "camera 'broken' failed (attempt 1 of 2)" in err and "camera 'broken' failed (attempt 2 of 2)" in err
    )
    assert "no frame could be decoded" in err and "multi-camera matching not run" in err
    assert (tmp_path / "strict" / "0_top" / "mot.npz").is_file()  # the finished camera is kept
    assert not (tmp_path / "strict" / "mtmc.npz").exists()

    code = express(
        cameras, tmp_path / "partial", "EXPRESS.ALLOW_PARTIAL", "true", "EXPRESS.RETRIES", "0", videos=videos
    )
    err = capfd.readouterr().err
    assert code == 1 and "matching the 1 cameras that succeeded" in err
    top = load_tracklet_file(tmp_path / "partial" / "0_top" / "mtmc.npz")
    assert top.global_ids and len(top.global_ids) == len(top.tracklets)
    assert not (tmp_path / "partial" / "1_broken" / "mtmc.npz").exists()
