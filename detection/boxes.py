"""Box geometry as vectorised pure functions. Boxes are float arrays in pixels.

``xyxy``: x1, y1, x2, y2 (corners). ``xywh``: x, y (top-left), width, height.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def xyxy_to_xywh(xyxy: np.ndarray) -> np.ndarray:
    out = np.array(xyxy, dtype=np.float32, copy=True).reshape(-1, 4)
    out[:, 2:] -= out[:, :2]
    return out


def xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    out = np.array(xywh, dtype=np.float32, copy=True).reshape(-1, 4)
    out[:, 2:] += out[:, :2]
    return out


def cxcywh_to_xyxy(cxcywh: np.ndarray) -> np.ndarray:
    half = cxcywh[:, 2:4] / 2
    return np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1)


def area(xyxy: np.ndarray) -> np.ndarray:
    return np.maximum(xyxy[:, 2] - xyxy[:, 0], 0) * np.maximum(xyxy[:, 3] - xyxy[:, 1], 0)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection over union of every box in ``a`` (N, 4) with every box in ``b`` (M, 4)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(width, 0) * np.maximum(height, 0)
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(
    xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float, class_id: np.ndarray | None = None
) -> np.ndarray:
    """Greedy non-maximum suppression (OpenCV's); indices of kept boxes, best first.

    With ``class_id``, boxes of different classes never suppress each other.
    """
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    if len(xyxy) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    # OpenCV keeps only scores above a non-negative threshold: shift them, keeping their order
    positive = (scores - scores.min() + 1.0).astype(np.float32)
    if class_id is None:
        keep = cv2.dnn.NMSBoxes(xywh, positive, 0.0, iou_threshold)
    else:
        classes = np.asarray(class_id, dtype=np.int32).reshape(-1)
        keep = cv2.dnn.NMSBoxesBatched(xywh, positive, classes, 0.0, iou_threshold)
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def clip_xyxy(xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    out = np.asarray(xyxy, dtype=np.float32).copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    return out


def crop_boxes(image: np.ndarray, xyxy: np.ndarray) -> list[np.ndarray]:
    """Views of ``image`` inside each box, clipped to the frame.

    A box with no area inside the frame still gives a 1x1 crop at its nearest edge, so that
    row i of the output always belongs to box i.
    """
    h, w = image.shape[:2]
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    x0 = np.clip(np.floor(boxes[:, 0]), 0, w - 1).astype(int)
    y0 = np.clip(np.floor(boxes[:, 1]), 0, h - 1).astype(int)
    x1 = np.maximum(np.clip(np.ceil(boxes[:, 2]), 0, w).astype(int), x0 + 1)
    y1 = np.maximum(np.clip(np.ceil(boxes[:, 3]), 0, h).astype(int), y0 + 1)
    return [image[b:d, a:c] for a, b, c, d in zip(x0, y0, x1, y1, strict=True)]


def nms_groups(class_id: np.ndarray, shared_classes: Sequence[int] | None) -> np.ndarray:
    """NMS group of each box: its class, except that every class of ``shared_classes`` is one group.

    With the tracked vehicle classes shared, one van scored car 0.58, bus 0.57 and truck 0.54
    gives one box instead of three overlapping tracks; a person and a car still never
    suppress each other.
    """
    groups = np.asarray(class_id, dtype=np.int64).reshape(-1).copy()
    if shared_classes is not None and len(shared_classes) and len(groups):
        shared = np.isin(groups, np.asarray(list(shared_classes), np.int64))
        groups[shared] = max(int(groups.max()), max(shared_classes)) + 1
    return groups


def nms_merge(
    xyxy: np.ndarray,
    scores: np.ndarray,
    class_id: np.ndarray,
    iou_threshold: float,
    shared_classes: Sequence[int] | None = None,
    num_classes: int = 0,
    prior: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """NMS within groups (``nms_groups``) and the class evidence each kept box absorbed.

    Returns ``keep`` (K,) indices best first and ``class_scores`` (K, C): column c holds the
    best score of class c among the boxes of the same group that overlap the kept box above
    ``iou_threshold`` (the kept box included). ``prior`` (N, C') gives each input box's own
    table (boxes already merged once, e.g. per tile); by default a box scores only its class.
    C = max(num_classes, C', max class + 1).
    """
    class_id = np.asarray(class_id, dtype=np.int64).reshape(-1)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    width = max(num_classes, int(class_id.max()) + 1 if len(class_id) else 0)
    if prior is not None:
        width = max(width, prior.shape[1])
    table = np.zeros((len(scores), width), np.float32)
    if prior is not None:
        table[:, : prior.shape[1]] = prior
    table[np.arange(len(scores)), class_id] = np.maximum(table[np.arange(len(scores)), class_id], scores)
    groups = nms_groups(class_id, shared_classes)
    keep = nms(xyxy, scores, iou_threshold, groups)
    merged = np.zeros((len(keep), width), np.float32)
    if len(keep) == 0:
        return keep, merged
    members = iou_matrix(np.asarray(xyxy)[keep], xyxy) > iou_threshold
    members &= groups[keep][:, None] == groups[None, :]
    members[np.arange(len(keep)), keep] = True
    for c in np.flatnonzero(table.any(axis=0)):
        merged[:, c] = np.where(members, table[None, :, c], 0.0).max(axis=1)
    return keep, merged
