"""Detector-aware defaults: score distributions and a threshold grid per detector on the c010 clip.

    python bench/bench_detector_defaults.py [--detectors yolox_nano.onnx vehicle-detection-0202 ...]
        [--tile 0] [--out /tmp/detector_grid.csv]

For each detector the clip's frames are detected once (class-agnostic NMS among the tracked
vehicle classes, a low score floor), then every (NMS IoU, score floor, ByteTrack track /
new-track threshold) of the grid is tracked exactly as ``mot/run_tracker.py`` does (same
selector, tracker, ``TrackletBuilder`` with MIN_FRAMES) and scored with TrackEval against
``gt.txt`` at IoU 0.5 (video frame k = gt frame k + 1). Detection recall is reported for
moving and parked cars apart (``gt_flags.txt``). It also prints each detector's score
quantiles for detections matched to a ground-truth car and for unmatched ones, the evidence
used to choose thresholds by the detector's score scale rather than by the grid's best cell.
Times are not measured here (the machine is shared); see docs/models.md.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from config.defaults import get_cfg_defaults
from detection.boxes import iou_matrix, nms_merge, xywh_to_xyxy
from detection.factory import build_detector
from detection.types import Detections
from evaluate.formats import from_tracklets, read_mot_challenge
from evaluate.metrics import evaluate
from mot.builder import TrackletBuilder
from mot.camera_setup import tracker_params
from mot.factory import build_tracker

SHARED = Path(__file__).resolve().parents[2] / "shared"
CLIP = SHARED / "data" / "aic_s03_c010"
VEHICLES = [2, 3, 5, 7]
FLOOR = 0.05


def detect_clip(
    model: str, video: Path, tile: int, input_size: list[int]
) -> tuple[list[np.ndarray], list[Detections]]:
    """Every frame's candidates (floor FLOOR, no NMS yet) and the frames' shapes."""
    detector = build_detector(
        model, conf_threshold=FLOOR, nms_iou=0.999, tile_size=tile, input_size=input_size
    )
    inner = getattr(detector, "detector", detector)
    inner.max_detections = 100_000
    cap = cv2.VideoCapture(str(video))
    frames, dets = [], []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(np.zeros((*frame.shape[:2], 1), np.uint8))  # only the shape is needed later
        d = detector.detect_batch([frame])[0]
        dets.append(d[np.isin(d.class_id, VEHICLES)])
    return frames, dets


def suppress(dets: Detections, iou: float) -> Detections:
    keep, scores = nms_merge(dets.xyxy, dets.score, dets.class_id, iou, VEHICLES, prior=dets.class_scores)
    kept = dets[keep]
    return Detections(kept.xyxy, kept.score, kept.class_id, class_scores=scores)


def track(frames: list[np.ndarray], dets: list[Detections], floor: float, high: float, new: float) -> list:
    cfg = get_cfg_defaults()
    params = tracker_params(cfg.MOT, "bytetrack_iou")
    params.update(track_thresh=high, new_track_thresh=new, low_thresh=floor)
    tracker = build_tracker("bytetrack_iou", params, frame_rate=10.0)
    builder = TrackletBuilder(0, cfg.MOT.MIN_FRAMES, 1)
    for index, (frame, d) in enumerate(zip(frames, dets, strict=True)):
        d = d[d.score >= floor]
        builder.add(index, frame, tracker.update(d), d)
    builder.end(tracker.finish())
    return builder.finish()


def parked_flags() -> dict[tuple[int, int], bool]:
    flags = {}
    for line in (CLIP / "gt_flags.txt").read_text().splitlines():
        frame, tid, _, parked, _ = line.split(",")
        flags[(int(frame), int(tid))] = parked == "1"
    return flags


def recall_split(gt, pred, flags: dict[tuple[int, int], bool]) -> tuple[float, float]:
    """Box recall at IoU 0.5 for moving and parked ground truth (one-to-one per frame)."""
    hit = {True: [0, 0], False: [0, 0]}
    for frame in np.unique(gt.frame):
        g = gt.frame == frame
        p = pred.frame == frame
        matched = np.zeros(int(g.sum()), bool)
        if p.any():
            iou = iou_matrix(xywh_to_xyxy(gt.xywh[g]), xywh_to_xyxy(pred.xywh[p]))
            rows, cols = linear_sum_assignment(-iou)
            matched[rows[iou[rows, cols] >= 0.5]] = True
        for tid, m in zip(gt.track_id[g], matched, strict=True):
            parked = flags.get((int(frame), int(tid)), False)
            hit[parked][0] += int(m)
            hit[parked][1] += 1
    return tuple(h / t if t else float("nan") for h, t in (hit[False], hit[True]))  # type: ignore[return-value]


def score_quantiles(gt, dets: list[Detections], iou: float) -> str:
    """Quantiles of matched (true) and unmatched detection scores after NMS at ``iou``."""
    true, false = [], []
    for index, d in enumerate(dets):
        d = suppress(d, iou)
        g = gt.frame == index + 1
        matched = np.zeros(len(d), bool)
        if g.any() and len(d):
            m = iou_matrix(xywh_to_xyxy(gt.xywh[g]), d.xyxy)
            rows, cols = linear_sum_assignment(-m)
            matched[cols[m[rows, cols] >= 0.5]] = True
        true += d.score[matched].tolist()
        false += d.score[~matched].tolist()
    q = (0.1, 0.25, 0.5, 0.75, 0.9)
    tq = np.quantile(true, q).round(2).tolist() if true else []
    fq = np.quantile(false, q).round(2).tolist() if false else []
    return f"true n={len(true)} q{q}={tq}; unmatched n={len(false)} q={fq}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--detectors",
        nargs="+",
        default=["yolox_nano.onnx", "vehicle-detection-0202", "vehicle-detection-0200", "yolov8n_int8.onnx"],
    )
    parser.add_argument("--tile", type=int, default=0)
    parser.add_argument(
        "--input-size", type=int, nargs="*", default=[], help="[height width] (OpenVINO reshapes)"
    )
    parser.add_argument("--nms", type=float, nargs="+", default=[0.45, 0.6, 0.7])
    parser.add_argument("--floors", type=float, nargs="+", default=[0.05, 0.1])
    parser.add_argument("--highs", type=float, nargs="+", default=[0.2, 0.25, 0.3, 0.4, 0.5, 0.6])
    parser.add_argument("--new-offsets", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--out", type=Path, default=Path("/tmp/detector_grid.csv"))
    args = parser.parse_args()
    gt = read_mot_challenge(CLIP / "gt.txt")
    flags = parked_flags()
    fields = [
        "detector",
        "size",
        "tile",
        "nms",
        "floor",
        "high",
        "new",
        "HOTA",
        "MOTA",
        "IDF1",
        "IDSW",
        "moving",
        "parked",
    ]
    with args.out.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(fields)
        for model in args.detectors:
            frames, raw = detect_clip(model, CLIP / "c010_first100.mp4", args.tile, args.input_size)
            print(
                f"{model} tile {args.tile} size {args.input_size}: {score_quantiles(gt, raw, 0.7)}",
                flush=True,
            )
            for nms in args.nms:
                dets = [suppress(d, nms) for d in raw]
                for floor, high, off in itertools.product(args.floors, args.highs, args.new_offsets):
                    if high < floor:
                        continue
                    tracklets = track(frames, dets, floor, high, round(high + off, 3))
                    pred = from_tracklets(tracklets)
                    s = evaluate(gt, pred, 0.5)
                    moving, parked = recall_split(gt, pred, flags)
                    row = [
                        model,
                        "x".join(map(str, args.input_size)) or "model",
                        args.tile,
                        nms,
                        floor,
                        high,
                        round(high + off, 3),
                    ]
                    row += [round(s[k], 4) for k in ("HOTA", "MOTA", "IDF1")] + [int(s["IDSW"])]
                    row += [round(moving, 3), round(parked, 3)]
                    out.writerow(row)
                    f.flush()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
