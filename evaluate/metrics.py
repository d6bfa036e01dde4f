"""CLEAR (MOTA, MOTP, FP, FN, IDSW, Frag, MT/PT/ML), Identity (IDF1, IDP, IDR) and HOTA via TrackEval.

TrackEval (the official HOTA implementation, numpy-2 compatible) does the scoring; this
module only turns ``BoxRows`` into its per-sequence input: timesteps are the distinct
(camera, frame) pairs of ground truth and predictions, ids are renumbered 0..n-1 and
similarities are box IoUs. A multi-camera evaluation is therefore one sequence whose
timesteps are every (camera, frame) pair: the AI City Challenge score, in which a global
id must stay the same across cameras to count as one identity.

MOTP is reported as TrackEval defines it: the mean IoU of matched boxes (motmetrics reports
the mean distance 1 - IoU instead). HOTA, DetA and AssA are averaged over TrackEval's 19
localisation thresholds and do not depend on ``min_iou``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from trackeval.metrics import CLEAR, HOTA, Identity

from detection.boxes import iou_matrix, xywh_to_xyxy
from evaluate.formats import BoxRows

RATIO_FIELDS = ("IDF1", "IDP", "IDR", "MOTA", "MOTP", "HOTA", "DetA", "AssA", "Recall", "Precision")
INTEGER_FIELDS = (
    "FP",
    "FN",
    "IDSW",
    "Frag",
    "MT",
    "PT",
    "ML",
    "GT_IDs",
    "GT_boxes",
    "Pred_IDs",
    "Pred_boxes",
)
SUMMARY_FIELDS = RATIO_FIELDS + INTEGER_FIELDS
Summary = dict[str, float]


def _metrics(min_iou: float) -> list[Any]:
    config = {"THRESHOLD": min_iou, "PRINT_CONFIG": False}
    return [CLEAR(config), Identity(config), HOTA({"PRINT_CONFIG": False})]


def drop_in_ignored_regions(pred: BoxRows, gt: BoxRows) -> BoxRows:
    """Predictions at least half inside one of ``gt.ignored`` regions of their camera are removed."""
    if len(gt.ignored) == 0 or len(pred) == 0:
        return pred
    inside = np.zeros(len(pred), bool)
    pred_xyxy = xywh_to_xyxy(pred.xywh)
    areas = np.maximum(pred.xywh[:, 2] * pred.xywh[:, 3], 1e-9)
    for camera, *region in gt.ignored:
        r = xywh_to_xyxy(np.array(region))[0]
        w = np.clip(np.minimum(pred_xyxy[:, 2], r[2]) - np.maximum(pred_xyxy[:, 0], r[0]), 0, None)
        h = np.clip(np.minimum(pred_xyxy[:, 3], r[3]) - np.maximum(pred_xyxy[:, 1], r[1]), 0, None)
        inside |= (pred.camera == camera) & (w * h >= 0.5 * areas)
    return pred.select(~inside)


def sequence_data(
    gt: BoxRows, pred: BoxRows, min_iou: float = 0.5, ignore_fp: bool = False
) -> dict[str, Any]:
    """TrackEval's per-sequence input; ``ignore_fp`` first drops predictions that match no ground truth."""
    pred = drop_in_ignored_regions(pred, gt)
    keys = np.concatenate([_timestep_keys(gt), _timestep_keys(pred)])
    steps, inverse = np.unique(keys, return_inverse=True)
    gt_step, pred_step = inverse[: len(gt)], inverse[len(gt) :]
    gt_ids, gt_index = np.unique(gt.track_id, return_inverse=True)
    pred_ids, pred_index = np.unique(pred.track_id, return_inverse=True)
    gt_rows, pred_rows = _rows_by_step(gt_step, len(steps)), _rows_by_step(pred_step, len(steps))
    gt_xyxy, pred_xyxy = xywh_to_xyxy(gt.xywh), xywh_to_xyxy(pred.xywh)
    data: dict[str, Any] = {"gt_ids": [], "tracker_ids": [], "similarity_scores": []}
    for g, p in zip(gt_rows, pred_rows, strict=True):
        similarity = iou_matrix(gt_xyxy[g], pred_xyxy[p])
        if ignore_fp and len(p):
            matched = (similarity >= min_iou).any(axis=0) if len(g) else np.zeros(len(p), bool)
            p, similarity = p[matched], similarity[:, matched]
        data["gt_ids"].append(gt_index[g])
        data["tracker_ids"].append(pred_index[p])
        data["similarity_scores"].append(similarity)
    data["num_timesteps"] = len(steps)
    data["num_gt_ids"] = len(gt_ids)
    data["num_gt_dets"] = len(gt)
    data["num_tracker_ids"] = len(pred_ids)
    data["num_tracker_dets"] = int(sum(len(t) for t in data["tracker_ids"]))
    return data


def evaluate(gt: BoxRows, pred: BoxRows, min_iou: float = 0.5, ignore_fp: bool = False) -> Summary:
    """Every summary metric of one sequence (or one multi-camera evaluation)."""
    return evaluate_many({"seq": (gt, pred)}, min_iou, ignore_fp)["seq"]


def evaluate_many(
    sequences: Mapping[str, tuple[BoxRows, BoxRows]], min_iou: float = 0.5, ignore_fp: bool = False
) -> dict[str, Summary]:
    """Per-sequence summaries plus ``COMBINED`` (TrackEval's combination: counts summed, then ratios)."""
    metrics = _metrics(min_iou)
    raw: dict[str, dict[str, dict[str, Any]]] = {}
    for name, (gt, pred) in sequences.items():
        data = sequence_data(gt, pred, min_iou, ignore_fp)
        raw[name] = {type(m).__name__: m.eval_sequence(data) for m in metrics}
        raw[name]["counts"] = {
            "GT_IDs": data["num_gt_ids"],
            "GT_boxes": data["num_gt_dets"],
            "Pred_IDs": data["num_tracker_ids"],
            "Pred_boxes": data["num_tracker_dets"],
        }
    out = {name: _summary(res) for name, res in raw.items()}
    if len(raw) > 1:
        combined = {
            type(m).__name__: m.combine_sequences({n: r[type(m).__name__] for n, r in raw.items()})
            for m in metrics
        }
        combined["counts"] = {
            k: sum(r["counts"][k] for r in raw.values()) for k in raw[next(iter(raw))]["counts"]
        }
        out["COMBINED"] = _summary(combined)
    return out


def _summary(res: dict[str, dict[str, Any]]) -> Summary:
    clear, identity, hota = res["CLEAR"], res["Identity"], res["HOTA"]
    values = {
        "IDF1": identity["IDF1"],
        "IDP": identity["IDP"],
        "IDR": identity["IDR"],
        "MOTA": clear["MOTA"],
        "MOTP": clear["MOTP"],
        "HOTA": np.mean(hota["HOTA"]),
        "DetA": np.mean(hota["DetA"]),
        "AssA": np.mean(hota["AssA"]),
        "Recall": clear["CLR_Re"],
        "Precision": clear["CLR_Pr"],
        "FP": clear["CLR_FP"],
        "FN": clear["CLR_FN"],
        "IDSW": clear["IDSW"],
        "Frag": clear["Frag"],
        "MT": clear["MT"],
        "PT": clear["PT"],
        "ML": clear["ML"],
        **res["counts"],
    }
    return {k: int(v) if k in INTEGER_FIELDS else float(v) for k, v in values.items()}


def _timestep_keys(rows: BoxRows) -> np.ndarray:
    return rows.camera.astype(np.int64) * (1 << 32) + rows.frame


def _rows_by_step(step: np.ndarray, n_steps: int) -> list[np.ndarray]:
    order = np.argsort(step, kind="stable")
    bounds = np.searchsorted(step[order], np.arange(n_steps + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(n_steps)]
