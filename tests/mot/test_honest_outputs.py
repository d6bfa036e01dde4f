"""Honest outputs: boxes inside the frame in every result file; a warning when nothing is tracked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from detection.types import Detections
from mot.base import Tracks
from mot.builder import TrackletBuilder
from mot.pipeline import LoopStats, sparse_result_warnings
from mot.storage import save_all

REPO = Path(__file__).resolve().parents[2]


def test_track_boxes_past_the_frame_are_clipped_in_every_file(shared: Path, tmp_path: Path) -> None:
    frame = cv2.imread(str(shared / "data" / "traffic" / "MVI_20011" / "img00001.jpg"))
    h, w = frame.shape[:2]
    builder = TrackletBuilder(0, 1, 1)
    # a car leaving at the bottom right: the Kalman estimate runs past the image, as it does
    dets = Detections([[w - 60, h - 50, w, h]], [0.9], [2])
    for index in range(3):
        box = [w - 60 + 10 * index, h - 50 + 8 * index, w + 15 * index, h + 12 * index]
        tracks = Tracks([7], [box], [0.9], [2], [0], [True])
        builder.add(index, frame, tracks, dets)
    tracklets = builder.finish()
    save_all(tmp_path, "mot", tracklets, info={"camera": "c"})
    rows = np.loadtxt(tmp_path / "mot.txt", delimiter=",", ndmin=2)
    x, y, bw, bh = rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5]
    assert (x >= 0).all() and (y >= 0).all() and (x + bw <= w + 1e-3).all() and (y + bh <= h + 1e-3).all()
    csv = np.genfromtxt(tmp_path / "mot.csv", delimiter=",", names=True)
    assert len(csv) == 3
    boxes = tracklets[0].bboxes
    assert (boxes[:, 0] + boxes[:, 2] <= w + 1e-3).all() and (boxes[:, 1] + boxes[:, 3] <= h + 1e-3).all()


def test_warnings_say_why_a_result_is_empty() -> None:
    stats = LoopStats(frames=200, detections=3, raw_detections=950)
    warnings = sparse_result_warnings(stats, 0, "MOT.TRACKED_CLASSES [4]")
    assert any("only 3 detections kept in 200 frames" in w and "947 more boxes" in w for w in warnings)
    assert any("no tracklet" in w and "MOT.TRACKED_CLASSES [4]" in w for w in warnings)
    assert sparse_result_warnings(LoopStats(frames=200, detections=900, raw_detections=950), 12) == []


def test_a_run_keeping_no_tracklet_warns(shared: Path, tmp_path: Path) -> None:
    args = [
        sys.executable,
        "mot/run_tracker.py",
        "--config",
        str(REPO / "config" / "examples" / "mot_intersection.yaml"),
    ]
    args += ["OUTPUT_DIR", str(tmp_path / "out"), "MOT.VIDEO", str(shared / "data" / "traffic" / "MVI_20011")]
    args += ["MOT.TRACKED_CLASSES", "[4]", "MOT.VIDEO_OUTPUT", "false"]  # COCO 4: airplane
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "no tracklet was kept from 9 frames" in proc.stderr
    assert "detections kept in 9 frames" in proc.stderr and "MOT.TRACKED_CLASSES [4]" in proc.stderr
