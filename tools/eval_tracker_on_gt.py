"""Tracking accuracy on real trajectories: degrade ground truth into detections, track, score.

    python tools/eval_tracker_on_gt.py [--gt ../shared/data/aic_s02/ground_truth_S02.txt]
        [--tracker bytetrack_iou] [--drop 0.10] [--jitter 0.03] [--fp 0.05] [--seed 0]
        [--set DIRECTION_WEIGHT=0 --set KALMAN_STATE=xywh ...]

Each camera of an AI City ground-truth file is one sequence. Its boxes become detections:

* drop: each ground-truth box is missed with probability ``--drop``;
* jitter: the box centre moves by N(0, jitter x size) and width and height are scaled by
  1 + N(0, jitter), independently per box;
* scores: kept boxes score U(0.5, 1.0), except a fraction ``--weak`` that scores U(0.1, 0.5)
  (occluded or blurred vehicles); ByteTrack can use those only in its second association;
* false positives: per frame, Poisson(fp x boxes in that frame) extra boxes with sizes drawn
  from the camera's ground truth, uniformly placed, scoring U(0.1, 0.7);
* every detection is a car (COCO 2); the frame rate is ``--fps`` (S02: 10).

The tracker runs on every frame from 1 to the camera's last annotated frame; its tracklets
(kept as the MOT runner keeps them: confirmed, at least ``--min-frames`` boxes) are scored
against the clean ground truth at IoU 0.5. Seeded: the same arguments give the same table.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from config.defaults import get_cfg_defaults
from detection.types import Detections
from evaluate.formats import BoxRows, aic_camera_ids, from_tracklets, read_aic_ground_truth
from evaluate.metrics import evaluate_many
from evaluate.report import format_table
from mot.builder import TrackletBuilder
from mot.camera_setup import tracker_params
from mot.factory import build_tracker
from mot.tracklet import Tracklet
from tools.eval_tracker_on_kitti import parse_overrides

log = logging.getLogger("tools.eval_tracker_on_gt")

DEFAULT_GT = Path(__file__).resolve().parents[2] / "shared" / "data" / "aic_s02" / "ground_truth_S02.txt"
CAR = 2
SHOWN = ("MOTA", "IDF1", "IDP", "IDR", "HOTA", "FP", "FN", "IDSW", "GT_IDs", "Pred_IDs")


def degrade(
    gt: BoxRows,
    rng: np.random.Generator,
    drop: float = 0.10,
    jitter: float = 0.03,
    fp_rate: float = 0.05,
    weak: float = 0.10,
    image_wh: tuple[int, int] = (1920, 1080),
) -> dict[int, Detections]:
    """Detections per frame (1-based, every frame up to the last annotated one) from one camera's boxes."""
    last = int(gt.frame.max()) if len(gt) else 0
    keep = rng.random(len(gt)) >= drop
    xywh = gt.xywh[keep].copy()
    frames = gt.frame[keep]
    centre = xywh[:, :2] + xywh[:, 2:] / 2 + rng.normal(0, jitter, (len(xywh), 2)) * xywh[:, 2:]
    size = xywh[:, 2:] * np.clip(1 + rng.normal(0, jitter, (len(xywh), 2)), 0.5, None)
    boxes = np.hstack([centre - size / 2, centre + size / 2])
    scores = np.where(
        rng.random(len(boxes)) < weak, rng.uniform(0.1, 0.5, len(boxes)), rng.uniform(0.5, 1.0, len(boxes))
    )
    per_frame_gt = np.bincount(gt.frame, minlength=last + 1)
    n_fp = rng.poisson(fp_rate * per_frame_gt)
    fp_frames = np.repeat(np.arange(last + 1), n_fp)
    fp_size = gt.xywh[rng.integers(0, max(1, len(gt)), len(fp_frames)), 2:] if len(gt) else np.zeros((0, 2))
    fp_xy = rng.uniform(0, 1, (len(fp_frames), 2)) * (np.array(image_wh) - fp_size)
    fp_boxes = np.hstack([fp_xy, fp_xy + fp_size])
    fp_scores = rng.uniform(0.1, 0.7, len(fp_frames))
    all_frames = np.concatenate([frames, fp_frames])
    all_boxes = np.vstack([boxes, fp_boxes])
    all_scores = np.concatenate([scores, fp_scores])
    order = np.argsort(all_frames, kind="stable")
    bounds = np.searchsorted(all_frames[order], np.arange(last + 2))
    out = {}
    for frame in range(1, last + 1):
        rows = order[bounds[frame] : bounds[frame + 1]]
        out[frame] = Detections(all_boxes[rows], all_scores[rows], np.full(len(rows), CAR))
    return out


def track_sequence(
    detections: dict[int, Detections],
    tracker_name: str,
    fps: float,
    min_frames: int,
    camera: int = 0,
    overrides: Mapping[str, Any] | None = None,
) -> list[Tracklet]:
    """Run the tracker with its config defaults (plus ``overrides``) over the frames; 0-based frames."""
    params = tracker_params(get_cfg_defaults().MOT, tracker_name)
    params.update({str(k).lower(): v for k, v in (overrides or {}).items()})
    tracker = build_tracker(tracker_name, params, frame_rate=fps)
    builder = TrackletBuilder(camera, min_frames=min_frames, samples_per_track=1)
    # a frame-sized view of one pixel: the builder clips boxes to the frame's shape, and no
    # crops are taken without an embedder
    blank = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (1080, 1920, 3))
    for frame in sorted(detections):
        dets = detections[frame]
        if tracker.needs_embeddings:
            dets = dets.with_embedding(np.zeros((len(dets), 1), np.float32) + 1.0)
        builder.add(frame - 1, blank, tracker.update(dets), dets)
    builder.end(tracker.finish())
    return builder.finish()


def run(
    gt_path: Path,
    tracker: str = "bytetrack_iou",
    drop: float = 0.10,
    jitter: float = 0.03,
    fp: float = 0.05,
    weak: float = 0.10,
    seed: int = 0,
    fps: float = 10.0,
    min_frames: int = 3,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Summaries per camera and ``COMBINED``; ``overrides``: tracker config keys (e.g. ``TRACK_THRESH``)."""
    gt_all = read_aic_ground_truth(gt_path)
    names = [f"c{c:03d}" for c in aic_camera_ids(gt_path)]
    rng = np.random.default_rng(seed)
    sequences = {}
    for camera, name in enumerate(names):
        gt = gt_all.for_camera(camera)
        dets = degrade(gt, rng, drop, jitter, fp, weak)
        tracklets = track_sequence(dets, tracker, fps, min_frames, camera, overrides)
        sequences[name] = (gt, from_tracklets(tracklets))
        log.info("%s: %d ground-truth boxes, %d tracklets", name, len(gt), len(tracklets))
    return evaluate_many(sequences)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gt", type=Path, default=DEFAULT_GT, help="AI City multi-camera ground truth")
    parser.add_argument("--tracker", default="bytetrack_iou", choices=("bytetrack_iou", "deepsort"))
    parser.add_argument("--drop", type=float, default=0.10, help="fraction of boxes missed")
    parser.add_argument("--jitter", type=float, default=0.03, help="box noise, fraction of its size")
    parser.add_argument("--fp", type=float, default=0.05, help="false positives per true box")
    parser.add_argument("--weak", type=float, default=0.10, help="fraction of true boxes with low scores")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--min-frames", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="MOT.BYTETRACK key")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if not args.gt.is_file():
        log.error("%s: ground-truth file not found", args.gt)
        return 2
    try:
        overrides = parse_overrides(args.set)
    except ValueError as err:
        log.error("%s", err)
        return 2
    results = run(
        args.gt,
        tracker=args.tracker,
        drop=args.drop,
        jitter=args.jitter,
        fp=args.fp,
        weak=args.weak,
        seed=args.seed,
        fps=args.fps,
        min_frames=args.min_frames,
        overrides=overrides,
    )
    print(format_table(results, SHOWN))
    return 0


if __name__ == "__main__":
    sys.exit(main())
