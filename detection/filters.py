"""Keep only the detections a camera should track: score, class, region of interest."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from detection.types import Detections


def load_mask(path: str | Path) -> np.ndarray:
    """ROI mask image -> (H, W) bool, True where detections are kept (non-black pixels)."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"{path}: cannot read the detection mask image")
    return image > 127


def check_mask_size(mask: np.ndarray, frame_hw: tuple[int, int], path: str | Path) -> None:
    if mask.shape != tuple(frame_hw):
        raise ValueError(
            f"{path}: detection mask is {mask.shape[1]}x{mask.shape[0]} but the camera's frames are "
            f"{frame_hw[1]}x{frame_hw[0]}; the mask must have the frame size"
        )


def inside_mask(xyxy: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(N,) bool: the box centre falls on a kept (True) pixel of ``mask``."""
    h, w = mask.shape
    cx = np.clip(((xyxy[:, 0] + xyxy[:, 2]) / 2).astype(np.int64), 0, w - 1)
    cy = np.clip(((xyxy[:, 1] + xyxy[:, 3]) / 2).astype(np.int64), 0, h - 1)
    return mask[cy, cx]


def filter_detections(
    dets: Detections,
    conf_threshold: float = 0.0,
    classes: Sequence[int] | None = None,
    mask: np.ndarray | None = None,
) -> Detections:
    """Drop rows below ``conf_threshold``, of other ``classes``, or centred outside ``mask`` — in one cut."""
    keep = dets.score >= conf_threshold
    if classes is not None and len(classes):
        keep &= np.isin(dets.class_id, np.asarray(classes))
    if mask is not None and len(dets):
        keep &= inside_mask(dets.xyxy, mask)
    return dets.filter(keep)
