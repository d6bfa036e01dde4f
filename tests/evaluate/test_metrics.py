"""Metrics against motmetrics' published TUD values, hand-worked cases, and the file readers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluate.formats import BoxRows, read_aic_ground_truth, read_detrac_xml, read_mot_challenge
from evaluate.metrics import evaluate, evaluate_many
from evaluate.run_eval import main as run_eval

# motmetrics 1.4.0, motmetrics/tests/test_metrics.py::test_motchallenge_files; the last value is its
# MOTP, the mean distance 1 - IoU.
TUD_FIELDS = (
    "IDF1",
    "IDP",
    "IDR",
    "Recall",
    "Precision",
    "GT_IDs",
    "MT",
    "PT",
    "ML",
    "FP",
    "FN",
    "IDSW",
    "Frag",
    "MOTA",
)
TUD_EXPECTED = {
    "TUD-Campus": (
        0.557659,
        0.729730,
        0.451253,
        0.582173,
        0.941441,
        8,
        1,
        6,
        1,
        13,
        150,
        7,
        7,
        0.526462,
        0.277201,
    ),
    "TUD-Stadtmitte": (
        0.644619,
        0.819760,
        0.531142,
        0.608997,
        0.939920,
        10,
        5,
        4,
        1,
        45,
        452,
        7,
        6,
        0.564014,
        0.345904,
    ),
    "COMBINED": (
        0.624296,
        0.799176,
        0.512211,
        0.602640,
        0.940268,
        18,
        6,
        10,
        2,
        58,
        602,
        14,
        13,
        0.555116,
        0.330177,
    ),
}


def test_tud_sequences_match_motmetrics_reference_values() -> None:
    motmetrics = pytest.importorskip("motmetrics")
    data = Path(motmetrics.__file__).parent / "data"
    sequences = {
        name: (
            read_mot_challenge(data / name / "gt.txt"),
            read_mot_challenge(data / name / "test.txt", drop_zero_flag=False),
        )
        for name in ("TUD-Campus", "TUD-Stadtmitte")
    }
    results = evaluate_many(sequences)
    for name, (*expected, motp_distance) in TUD_EXPECTED.items():
        for metric, value in zip(TUD_FIELDS, expected, strict=True):
            assert results[name][metric] == pytest.approx(value, abs=1e-6), (name, metric)
        assert results[name]["MOTP"] == pytest.approx(1 - motp_distance, abs=1e-6)


def rows(frames: list[int], ids: list[int], boxes: list[list[float]], camera: int | list[int] = 0) -> BoxRows:
    return BoxRows(camera, frames, ids, boxes)


def test_hand_worked_sequence() -> None:
    a, b = [0, 0, 10, 10], [100, 0, 10, 10]
    gt = rows([1, 1, 2, 2, 3, 3, 4, 4], [1, 2] * 4, [a, b] * 4)
    # frame 1 both right (ids 7, 8); frame 2 one missed and a false positive; frames 3-4 ids swapped
    far = [500, 500, 10, 10]
    pred = rows([1, 1, 2, 2, 3, 3, 4, 4], [7, 8, 7, 9, 8, 7, 8, 7], [a, b, a, far, a, b, a, b])
    r = evaluate(gt, pred)
    # CLEAR: 8 GT boxes, FN 1 (frame 2, b), FP 1 (the far box), switches: frame 3 both ids change -> 2
    assert (r["FN"], r["FP"], r["IDSW"]) == (1, 1, 2)
    assert r["MOTA"] == pytest.approx(1 - (1 + 1 + 2) / 8)
    # Identity: best one-to-one id pairing: gt1<->7 (frames 1, 2) or gt1<->8 (frames 3, 4): IDTP = 2 + 2 = 4
    # (gt1-7: 2, gt2-8: 1, or gt1-8: 2, gt2-7: 2 -> 4). IDF1 = 2 IDTP / (8 GT + 8 predicted) = 0.5
    assert r["IDF1"] == pytest.approx(0.5)
    assert r["GT_IDs"] == 2 and r["Pred_IDs"] == 3


def test_multi_camera_boxes_are_keyed_by_camera_and_frame() -> None:
    box = [0, 0, 10, 10]
    gt = rows([1, 2, 1, 2], [1, 1, 1, 1], [box] * 4, camera=[0, 0, 1, 1])
    same = rows([1, 2, 1, 2], [5, 5, 5, 5], [box] * 4, camera=[0, 0, 1, 1])
    split = rows([1, 2, 1, 2], [5, 5, 6, 6], [box] * 4, camera=[0, 0, 1, 1])
    assert evaluate(gt, same)["IDF1"] == pytest.approx(1.0)
    # a global id that changes between cameras: half of the identity is lost
    assert evaluate(gt, split)["IDF1"] == pytest.approx(0.5)
    # frame 1 of camera 0 and frame 1 of camera 1 are different timesteps: no false switches
    assert evaluate(gt, same)["IDSW"] == 0 and evaluate(gt, same)["FP"] == 0


def test_min_iou_and_ignore_fp() -> None:
    gt = rows([1], [1], [[0, 0, 10, 10]])
    pred = rows([1, 1], [1, 2], [[0, 0, 10, 14], [300, 300, 10, 10]])  # IoU 100 / 140 = 0.71
    assert evaluate(gt, pred, min_iou=0.5)["FN"] == 0
    assert evaluate(gt, pred, min_iou=0.8)["FN"] == 1
    assert evaluate(gt, pred)["FP"] == 1
    assert evaluate(gt, pred, ignore_fp=True)["FP"] == 0  # flattering: the stray box vanished


def test_detrac_xml_and_its_ignored_regions(shared: Path) -> None:
    gt = read_detrac_xml(shared / "data/traffic/MVI_20011.xml")
    assert sorted(set(gt.frame.tolist())) == [1, 2]
    assert sorted(set(gt.track_id.tolist())) == [1, 2, 3]
    np.testing.assert_allclose(gt.xywh[0], [592.75, 378.8, 160.05, 162.2])
    assert len(gt.ignored) == 7
    # a prediction inside an ignored region is not a false positive; one elsewhere is
    inside = rows([1], [9], [[790, 30, 20, 20]])
    outside = rows([1], [9], [[400, 400, 20, 20]])
    assert evaluate(gt, inside)["FP"] == 0
    assert evaluate(gt, outside)["FP"] == 1


def test_ai_city_multi_camera_ground_truth(shared: Path) -> None:
    gt = read_aic_ground_truth(shared / "data/aic_s02/ground_truth_S02.txt")
    assert len(gt) == 20956 and sorted(set(gt.camera.tolist())) == [0, 1, 2, 3]
    assert len(np.unique(gt.track_id)) == 145
    assert evaluate(gt, gt)["IDF1"] == pytest.approx(1.0)


def test_eval_command_writes_csv_and_json(tmp_path: Path) -> None:
    gt, pred = tmp_path / "gt.txt", tmp_path / "pred.txt"
    gt.write_text("1,1,0,0,10,10,1,-1,-1,-1\n2,1,1,0,10,10,1,-1,-1,-1\n2,2,50,50,10,10,0,-1,-1,-1\n")
    pred.write_text("1,3,0,0,10,10,1,-1,-1,-1\n2,3,1,0,10,10,1,-1,-1,-1\n")
    config = tmp_path / "eval.yaml"
    config.write_text(
        f"OUTPUT_DIR: {tmp_path / 'out'}\nEVAL:\n  GROUND_TRUTHS: [gt.txt]\n  PREDICTIONS: [pred.txt]\n"
    )
    assert run_eval(["--config", str(config)]) == 0
    report = (tmp_path / "out" / "eval.csv").read_text()
    assert report.startswith("sequence,IDF1,") and "\ngt," not in report
    summary = json.loads((tmp_path / "out" / "eval.json").read_text())
    (name,) = summary
    assert summary[name]["MOTA"] == 1.0 and summary[name]["GT_boxes"] == 2  # the flag-0 row is ignored
