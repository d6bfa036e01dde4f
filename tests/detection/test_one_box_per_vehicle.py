"""Class-agnostic NMS among the tracked vehicle classes, on real frames.

YOLOX-Nano scores the white van of the intersection clip as car, truck and bus at once
(frame 112: 0.58 / 0.52 / 0.47, boxes overlapping at IoU > 0.8); class-aware NMS keeps all
three and each becomes a track. Merged, one box remains, with every class's score kept.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from config.defaults import COCO_VEHICLES, get_cfg_defaults
from detection.boxes import iou_matrix
from detection.factory import build_detector
from detection.filters import filter_detections
from mot.builder import TrackletBuilder
from mot.camera_setup import tracker_params
from mot.factory import build_tracker

VAN_FRAME = 112
VAN_BOX = np.array([170, 314, 286, 449], np.float32)  # where the van is in that frame
CAR, BUS, TRUCK = 2, 5, 7


def read_frames(video: Path, start: int, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    for _ in range(count):
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert frames, f"cannot read {video}"
    return frames


def boxes_on_van(dets, score: float = 0.3):
    dets = filter_detections(dets, score, COCO_VEHICLES)
    return dets[iou_matrix(VAN_BOX[None], dets.xyxy)[0] > 0.7]


@pytest.fixture(scope="module")
def van_frame(shared: Path) -> np.ndarray:
    return read_frames(shared / "data" / "traffic" / "intersection_960x540.mp4", VAN_FRAME, 1)[0]


def test_class_aware_nms_keeps_three_boxes_on_the_van(van_frame: np.ndarray) -> None:
    aware = build_detector("yolox_nano.onnx", conf_threshold=0.1, shared_classes=None)
    on_van = boxes_on_van(aware.detect(van_frame))
    assert len(on_van) >= 2 and len(set(on_van.class_id.tolist())) >= 2


def test_the_van_gives_one_box_with_every_class_score(van_frame: np.ndarray) -> None:
    aware = boxes_on_van(build_detector("yolox_nano.onnx", conf_threshold=0.1).detect(van_frame))
    merged = build_detector("yolox_nano.onnx", conf_threshold=0.1, shared_classes=COCO_VEHICLES)
    on_van = boxes_on_van(merged.detect(van_frame))
    assert len(on_van) == 1
    best = int(np.argmax(aware.score))
    assert on_van.class_id[0] == aware.class_id[best] and on_van.score[0] == pytest.approx(aware.score[best])
    table = on_van.class_scores[0]
    for class_id, score in zip(aware.class_id, aware.score, strict=True):
        assert table[class_id] >= score - 1e-6  # no class's evidence lost
    assert (table[[CAR, BUS, TRUCK]] > 0.3).sum() >= 2


def long_overlaps(tracklets, iou_limit: float = 0.7, run_limit: int = 3) -> list[tuple[int, int, int]]:
    """Pairs of tracks overlapping above ``iou_limit`` for more than ``run_limit`` consecutive frames."""
    by_frame: dict[int, list[tuple[int, np.ndarray]]] = {}
    for t in tracklets:
        for frame, box in zip(t.frames.tolist(), t.bboxes, strict=True):
            by_frame.setdefault(frame, []).append((t.track_id, np.r_[box[:2], box[:2] + box[2:]]))
    runs: dict[tuple[int, int], int] = {}
    found = []
    for frame in sorted(by_frame):
        ids = [i for i, _ in by_frame[frame]]
        iou = iou_matrix(np.array([b for _, b in by_frame[frame]]), np.array([b for _, b in by_frame[frame]]))
        now = {(ids[a], ids[b]) for a, b in zip(*np.nonzero(np.triu(iou, 1) > iou_limit), strict=True)}
        runs = {pair: runs.get(pair, 0) + 1 for pair in now}
        found += [(frame, *pair) for pair, n in runs.items() if n == run_limit + 1]
    return found


def track_clip(frames: list[np.ndarray], fps: float, agnostic: bool = True):
    cfg = get_cfg_defaults()
    detector = build_detector(
        "yolox_nano.onnx",
        conf_threshold=cfg.MOT.DETECTION_CONF_THRESH,
        shared_classes=COCO_VEHICLES if agnostic else None,
    )
    tracker = build_tracker("bytetrack_iou", tracker_params(cfg.MOT), frame_rate=fps)
    builder = TrackletBuilder(0, cfg.MOT.MIN_FRAMES, 1)
    for index, frame in enumerate(frames):
        dets = filter_detections(detector.detect(frame), cfg.MOT.DETECTION_CONF_THRESH, COCO_VEHICLES)
        builder.add(index, frame, tracker.update(dets), dets)
    builder.end(tracker.finish())
    return builder.finish()


@pytest.fixture(scope="module")
def busy_frames(shared: Path) -> list[np.ndarray]:
    # frames 80-150: vehicles YOLOX scores as two or three classes at once
    return read_frames(shared / "data" / "traffic" / "intersection_960x540.mp4", 80, 70)


def test_no_duplicate_tracks_on_the_intersection_clip(busy_frames: list[np.ndarray]) -> None:
    tracklets = track_clip(busy_frames, 30.0)
    assert len(tracklets) >= 5
    assert long_overlaps(tracklets) == []


def test_class_aware_nms_gives_duplicate_tracks_there(busy_frames: list[np.ndarray]) -> None:
    assert len(long_overlaps(track_clip(busy_frames, 30.0, agnostic=False))) >= 2


def test_no_duplicate_tracks_on_the_c010_clip(shared: Path) -> None:
    frames = read_frames(shared / "data" / "aic_s03_c010" / "c010_first100.mp4", 0, 100)
    tracklets = track_clip(frames, 10.0)
    assert len(tracklets) >= 3
    assert long_overlaps(tracklets) == []
