"""Multi-camera scores: per camera, and all cameras as one sequence (the AI City Challenge score).

In the multi-camera score a vehicle keeps one identity only if its global id is the same in
every camera, so cross-camera mistakes lower IDF1. Boxes are keyed by (camera, frame).
``drop_single_cam`` ignores ground-truth vehicles and predicted ids seen by one camera only
(as the original project offered); ``ignore_fp`` drops predictions matching no ground truth,
which flatters every number and is never the default.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evaluate.formats import BoxRows
from evaluate.metrics import Summary, evaluate_many

MULTI_CAMERA = "MULTI-CAMERA"


def multi_camera_only(rows: BoxRows) -> BoxRows:
    """Rows of identities that appear in two or more cameras."""
    if len(rows) == 0:
        return rows
    pairs = np.unique(np.stack([rows.track_id, rows.camera], axis=1), axis=0)
    ids, cams = np.unique(pairs[:, 0], return_counts=True)
    return rows.select(np.isin(rows.track_id, ids[cams > 1]))


def evaluate_cameras(
    ground_truths: Sequence[BoxRows],
    predictions: Sequence[BoxRows],
    names: Sequence[str],
    min_iou: float = 0.5,
    drop_single_cam: bool = False,
    ignore_fp: bool = False,
) -> dict[str, Summary]:
    """Per-camera summaries plus ``MULTI-CAMERA``; camera ``i`` rows must carry camera ``i``."""
    gts = [
        BoxRows(i, g.frame, g.track_id, g.xywh, np.c_[np.full(len(g.ignored), i), g.ignored[:, 1:]])
        for i, g in enumerate(ground_truths)
    ]
    preds = [BoxRows(i, p.frame, p.track_id, p.xywh) for i, p in enumerate(predictions)]
    all_gt, all_pred = BoxRows.concat(gts), BoxRows.concat(preds)
    if drop_single_cam:
        all_gt, all_pred = multi_camera_only(all_gt), multi_camera_only(all_pred)
    per_camera = evaluate_many(
        {name: (all_gt.for_camera(i), all_pred.for_camera(i)) for i, name in enumerate(names)},
        min_iou,
        ignore_fp,
    )
    per_camera.pop("COMBINED", None)
    per_camera[MULTI_CAMERA] = evaluate_many({MULTI_CAMERA: (all_gt, all_pred)}, min_iou, ignore_fp)[
        MULTI_CAMERA
    ]
    return per_camera
