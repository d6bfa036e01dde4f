"""KITTI tracking files as shipped in ../shared, and TrackEval's KITTI protocol on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluate.kitti import (
    evaluate_kitti,
    kitti_label_frames,
    kitti_track_lines,
    load_kitti,
    read_kitti_detections,
)

SEQUENCES = ("0000", "0002", "0003", "0004", "0005", "0007", "0009", "0011", "0017", "0020")


@pytest.fixture(scope="module")
def kitti(shared: Path) -> Path:
    return shared / "data" / "kitti_train"


def test_label_files_cover_the_documented_4100_frames(kitti: Path) -> None:
    frames = {name: kitti_label_frames(kitti / "label_02" / f"{name}.txt") for name in SEQUENCES}
    assert sum(frames.values()) == 4100
    assert frames["0000"] == 154


def test_detections_are_sigmoid_scores_without_zero_width_boxes(kitti: Path) -> None:
    det_dir = kitti / "det_pointrcnn_car"
    raw = [np.loadtxt(det_dir / f"{n}.txt", delimiter=",", usecols=range(7), ndmin=2) for n in SEQUENCES]
    read = [read_kitti_detections(det_dir / f"{n}.txt") for n in SEQUENCES]
    kept = sum(len(d) for frames in read for d in frames)
    flat = np.concatenate(raw)
    degenerate = (flat[:, 4] <= flat[:, 2]) | (flat[:, 5] <= flat[:, 3])
    assert degenerate.sum() >= 1  # 0000 frame 115 has a box of width 0 at the image border
    assert len(flat) - kept == degenerate.sum()
    first = read[0][0]
    np.testing.assert_allclose(first.score[0], 1 / (1 + np.exp(-8.2981)), rtol=1e-6)
    np.testing.assert_allclose(first.xyxy[0], [298.3125, 165.18, 458.2292, 293.4391], rtol=1e-6)
    boxes = np.concatenate([d.xyxy for frames in read for d in frames])
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    assert all(set(np.unique(d.class_id)) <= {2} for frames in read for d in frames)


def test_load_pads_to_the_label_length_and_names_missing_files(kitti: Path, tmp_path: Path) -> None:
    (seq,) = load_kitti(kitti / "label_02", kitti / "det_pointrcnn_car", ["0003"])
    assert seq.n_frames == len(seq.detections) == kitti_label_frames(kitti / "label_02" / "0003.txt")
    with pytest.raises(ValueError, match=r"0003\.txt: KITTI file not found"):
        load_kitti(kitti / "label_02", tmp_path, ["0003"])


def test_bad_detection_row_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "0000.txt"
    path.write_text("0,2,1,2,30,40,0.5\n1,2,1,2,car,40,0.5\n")
    with pytest.raises(ValueError, match=r"0000.txt:2: expected numbers"):
        read_kitti_detections(path)


def ground_truth_as_results(label: Path) -> list[str]:
    """The label file's Car rows written back as tracker output (ids = ground-truth ids)."""
    rows = [line.split() for line in label.read_text().splitlines()]
    cars = [r for r in rows if r[2] == "Car"]
    return [
        line
        for r in cars
        for line in kitti_track_lines(
            int(r[0]), np.array([int(r[1])]), np.array([[float(v) for v in r[6:10]]]), np.array([1.0])
        )
    ]


def test_ground_truth_scores_perfectly_and_fresh_ids_per_box_score_badly(kitti: Path) -> None:
    label = kitti / "label_02" / "0003.txt"
    n = {"0003": kitti_label_frames(label)}
    perfect = evaluate_kitti({"0003": ground_truth_as_results(label)}, kitti / "label_02", n)["0003"]
    assert perfect["HOTA"] == pytest.approx(1.0) and perfect["IDSW"] == 0 and perfect["FP"] == 0
    (seq,) = load_kitti(kitti / "label_02", kitti / "det_pointrcnn_car", ["0003"])
    lines, next_id = [], 0
    for frame, dets in enumerate(seq.detections):  # every detection a new identity
        ids = np.arange(next_id, next_id + len(dets))
        next_id += len(dets)
        lines += kitti_track_lines(frame, ids, dets.xyxy, dets.score)
    fresh = evaluate_kitti({"0003": lines}, kitti / "label_02", n)["0003"]
    assert fresh["AssA"] < 0.1 < fresh["DetA"]  # detections are good, associations absent
