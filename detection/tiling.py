"""Tiled inference for wide views with small, distant vehicles.

The detector runs on the full frame and on overlapping square tiles; tile boxes are shifted
back to frame pixels and merged with the full-frame boxes by the detector's NMS grouping
(``detection.boxes.nms_groups``: the tracked vehicle classes as one group by default). A tile box
touching a tile border that is not a frame border is dropped: it is a cut-off part of a
vehicle that the neighbouring tile or the full frame sees whole.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from detection.boxes import nms_merge
from detection.types import Detections

BORDER_MARGIN = 2.0  # pixels: boxes this close to an inner tile border count as cut off


class Detector(Protocol):
    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]: ...


def tile_origins(length: int, tile: int, overlap: float) -> list[int]:
    """Start offsets of ``tile``-sized tiles covering ``length``, overlapping by ``overlap`` or more."""
    if length <= tile:
        return [0]
    step = tile * (1.0 - overlap)
    count = math.ceil((length - tile) / step) + 1
    return [round(x) for x in np.linspace(0, length - tile, count)]


def tile_boxes(width: int, height: int, tile: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """Tiles as x0, y0, x1, y1; empty when a single tile would cover the whole frame."""
    if width <= tile and height <= tile:
        return []
    return [
        (x, y, min(x + tile, width), min(y + tile, height))
        for y in tile_origins(height, tile, overlap)
        for x in tile_origins(width, tile, overlap)
    ]


def _drop_cut_boxes(dets: Detections, tile: tuple[int, int, int, int], width: int, height: int) -> Detections:
    x0, y0, x1, y1 = tile
    xyxy = dets.xyxy
    cut = np.zeros(len(dets), dtype=bool)
    if x0 > 0:
        cut |= xyxy[:, 0] <= x0 + BORDER_MARGIN
    if y0 > 0:
        cut |= xyxy[:, 1] <= y0 + BORDER_MARGIN
    if x1 < width:
        cut |= xyxy[:, 2] >= x1 - BORDER_MARGIN
    if y1 < height:
        cut |= xyxy[:, 3] >= y1 - BORDER_MARGIN
    return dets.filter(~cut)


class TiledDetector:
    """Wraps a detector: full frame plus tiles, merged. Same interface as the wrapped detector."""

    def __init__(
        self,
        detector: Detector,
        tile_size: int,
        overlap: float,
        nms_iou: float,
        shared_classes: Sequence[int] | None = None,
    ) -> None:
        self.detector, self.tile_size, self.overlap, self.nms_iou = detector, tile_size, overlap, nms_iou
        self.shared_classes = shared_classes
        self.class_names = list(getattr(detector, "class_names", []))

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        return [self._detect_one(image) for image in images]

    def _detect_one(self, image: np.ndarray) -> Detections:
        height, width = image.shape[:2]
        tiles = tile_boxes(width, height, self.tile_size, self.overlap)
        crops = [image] + [image[y0:y1, x0:x1] for x0, y0, x1, y1 in tiles]
        results = self.detector.detect_batch(crops)
        parts = [results[0]]
        for (x0, y0, x1, y1), dets in zip(tiles, results[1:], strict=True):
            shifted = dets.with_boxes(dets.xyxy + np.array([x0, y0, x0, y0], np.float32))
            parts.append(_drop_cut_boxes(shifted, (x0, y0, x1, y1), width, height))
        merged = Detections.merge(parts)
        keep, class_scores = nms_merge(
            merged.xyxy,
            merged.score,
            merged.class_id,
            self.nms_iou,
            self.shared_classes,
            prior=merged.class_scores,
        )
        kept = merged[keep]
        return Detections(kept.xyxy, kept.score, kept.class_id, class_scores=class_scores)
