"""Geometry of the clustering: where a vehicle cannot be twice (re-entry into one view:
``mtmc.reentry``).

**Hand-over** (``handover_conflicts``): two tracklets seen at the same moment far from where
their views touch cannot be one vehicle.

A layout's ``handover a b x0 y0 x1 y1`` lines (``config.layout.Handover``) say where cameras a
and b hand a vehicle over: while one vehicle is in view of both, its box in camera a meets
that rectangle. So a tracklet of camera a and one of camera b that overlap in time are two
vehicles when, at a moment both are seen, either box misses its camera's rectangle (the demo's
two white vans, on screen together 746 px apart, are the case). Only pairs of cameras with a
handover line are checked; the others keep the timing rules of ``mtmc.compatibility``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from config.layout import CameraLayout
from mot.tracklet import Tracklet
from mtmc.compatibility import TrackletTimes


def handover_conflicts(
    tracklets: Sequence[Tracklet], times: TrackletTimes, layout: CameraLayout
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, j)``, ``i < j``, of tracklets that the handover rectangles prove to be two vehicles."""
    regions = {(h.camera, h.other): np.asarray(h.box) for h in layout.handover}
    out_i: list[int] = []
    out_j: list[int] = []
    for a, b in {(min(c, o), max(c, o)) for c, o in regions}:
        left, right = np.flatnonzero(times.camera == a), np.flatnonzero(times.camera == b)
        right = right[np.argsort(times.start[right], kind="stable")]
        upto = np.searchsorted(times.start[right], times.end[left], side="right")
        for p, stop in zip(left.tolist(), upto.tolist(), strict=True):
            for q in right[:stop][times.end[right[:stop]] >= times.start[p]].tolist():
                if _apart(tracklets[p], tracklets[q], layout, regions.get((a, b)), regions.get((b, a))):
                    out_i.append(min(p, q))
                    out_j.append(max(p, q))
    return np.array(out_i, np.int64), np.array(out_j, np.int64)


def _apart(
    p: Tracklet, q: Tracklet, layout: CameraLayout, box_p: np.ndarray | None, box_q: np.ndarray | None
) -> bool:
    """Whether at a moment both are seen a box misses its camera's handover rectangle."""
    tp = layout.global_time(p.camera, p.frames)
    tq = layout.global_time(q.camera, q.frames)
    half = 0.5 / min(layout.fps[p.camera], layout.fps[q.camera])  # one frame's tolerance on the clock
    at_q = np.clip(np.searchsorted(tq, tp), 0, len(tq) - 1)
    near = np.abs(tq[at_q] - tp) <= half
    near |= np.abs(tq[np.maximum(at_q - 1, 0)] - tp) <= half
    if not near.any():
        return False
    rows_q = np.clip(np.searchsorted(tq, tp[near] - half), 0, len(tq) - 1)
    return bool(
        (box_p is not None and not _meets(p.bboxes[near], box_p).all())
        or (box_q is not None and not _meets(q.bboxes[rows_q], box_q).all())
    )


def _meets(xywh: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Whether each box (x, y, w, h) meets the rectangle (x0, y0, x1, y1)."""
    x1, y1 = xywh[:, 0] + xywh[:, 2], xywh[:, 1] + xywh[:, 3]
    return (xywh[:, 0] <= box[2]) & (x1 >= box[0]) & (xywh[:, 1] <= box[3]) & (y1 >= box[1])
