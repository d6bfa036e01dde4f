"""Association between tracks (rows) and detections (columns): cost builders and one solver.

Cost builders return (N, M) float64 matrices where lower is better. Gating only writes
``GATED`` into infeasible entries; the solver never knows what a cost means.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from detection.boxes import iou_matrix

GATED = 1e5  # cost of a pair that must never be matched


def iou_distance(tracks_xyxy: np.ndarray, dets_xyxy: np.ndarray, pixel_pad: float = 0.0) -> np.ndarray:
    """``1 - IoU`` of every track box with every detection box.

    ``pixel_pad`` is added to every width and height first: 1.0 gives the pixel-inclusive
    convention of the reference ByteTrack (``cython_bbox``: ``x2 - x1 + 1``), which raises
    the IoU of small boxes and so makes matching more lenient for distant vehicles.
    """
    pad = np.array([0.0, 0.0, pixel_pad, pixel_pad])
    a = np.asarray(tracks_xyxy, np.float64).reshape(-1, 4) + pad
    b = np.asarray(dets_xyxy, np.float64).reshape(-1, 4) + pad
    return 1.0 - iou_matrix(a, b)


def buffered(xyxy: np.ndarray, scale: float) -> np.ndarray:
    """Boxes grown by ``scale`` of their width and height on every side (C-BIoU's buffer)."""
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    pad = (xyxy[:, 2:] - xyxy[:, :2]) * scale
    return np.concatenate([xyxy[:, :2] - pad, xyxy[:, 2:] + pad], axis=1)


def fuse_score(cost: np.ndarray, det_scores: np.ndarray) -> np.ndarray:
    """ByteTrack's score fusion: similarity ``(1 - cost) * score``, so weak detections cost more."""
    return 1.0 - (1.0 - cost) * np.asarray(det_scores, dtype=np.float64)[None, :]


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``1 - a . b`` for L2-normalised feature rows ``a`` (N, D) and ``b`` (M, D)."""
    return 1.0 - np.asarray(a, np.float64) @ np.asarray(b, np.float64).T


def gate(cost: np.ndarray, infeasible: np.ndarray) -> np.ndarray:
    """A copy of ``cost`` with ``GATED`` wherever ``infeasible`` (same shape, bool) is true."""
    return np.where(infeasible, GATED, cost)


def linear_assignment(cost: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal matching in which a pair is taken only when cheaper than leaving both ends unmatched.

    Leaving a row or a column unmatched costs ``threshold / 2``, so the solution is that of
    ``lap.lapjv(cost, extend_cost=True, cost_limit=threshold)`` used by ByteTrack: the (N+M)
    square problem ``[[cost, t/2], [t/2, 0]]`` solved exactly (here with SciPy).

    Returns:
        matches (K, 2) int64 ``(row, column)`` pairs, unmatched rows, unmatched columns.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.zeros((0, 2), np.int64), np.arange(n), np.arange(m)
    extended = np.full((n + m, n + m), threshold / 2.0)
    extended[n:, m:] = 0.0
    extended[:n, :m] = np.minimum(np.nan_to_num(cost, nan=GATED, posinf=GATED), GATED)
    rows, cols = linear_sum_assignment(extended)
    real = (rows < n) & (cols < m)
    matches = np.stack([rows[real], cols[real]], axis=1).astype(np.int64)
    matched_rows = np.zeros(n, bool)
    matched_cols = np.zeros(m, bool)
    matched_rows[matches[:, 0]] = True
    matched_cols[matches[:, 1]] = True
    return matches, np.flatnonzero(~matched_rows), np.flatnonzero(~matched_cols)


def direction_bonus(direction: np.ndarray, origin: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """OC-SORT's velocity direction consistency: (N, M) in [-0.5, 0.5], 0 where a direction is unknown.

    ``direction`` (N, 2) is each track's unit direction between its last observations (from
    observations, not the filter, so camera motion in the filter does not leak in), ``origin``
    (N, 2) its last observed centre, ``targets`` (M, 2) detection centres. The bonus is
    ``(pi / 2 - angle) / pi`` between the track's direction and the way to the detection:
    a detection straight ahead gains, one behind the track loses.
    """
    way = targets[None, :, :] - origin[:, None, :]
    norm = np.linalg.norm(way, axis=2)
    cos = np.einsum("nd,nmd->nm", direction, way) / np.maximum(norm, 1e-6)
    bonus = (np.pi / 2 - np.arccos(np.clip(cos, -1.0, 1.0))) / np.pi
    known = (np.linalg.norm(direction, axis=1) > 0)[:, None] & (norm > 1e-6)
    return np.where(known, bonus, 0.0)
