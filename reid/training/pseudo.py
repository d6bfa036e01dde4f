"""Pseudo-identities from unlabelled footage: a tracker's tracklets, quality-filtered crops, known negatives.

A tracklet is taken as one vehicle (same track = same vehicle) and two tracklets seen at the same
moment in one camera as two vehicles (a guaranteed negative pair). Tracklets that never coexist may
be one car whose track broke, so they are not used as negatives of each other (``known_negatives``).
Crops are kept only where they show the vehicle well: big enough, not cut by the frame border, and
not covered by another box (occlusion = the largest fraction of the box inside any other box).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reid.training.sources import Sample


@dataclass(frozen=True)
class Tracks:
    """Tracker output as parallel arrays: ``frames`` (N,) 0-based, ``ids`` (N,), ``xywh`` (N, 4) pixels."""

    frames: np.ndarray
    ids: np.ndarray
    xywh: np.ndarray

    def __post_init__(self) -> None:
        if not len(self.frames) == len(self.ids) == len(self.xywh) or self.xywh.shape[1:] != (4,):
            raise ValueError(
                f"Tracks: frames {self.frames.shape}, ids {self.ids.shape}, xywh {self.xywh.shape}; "
                "expected (N,), (N,) and (N, 4)"
            )


@dataclass(frozen=True)
class Quality:
    """Which boxes make training crops; documented in docs/models-reid-training.md."""

    min_height: int = 40
    min_width: int = 40
    max_occlusion: float = 0.3
    border: int = 4
    per_track: int = 16
    min_crops: int = 4


def occlusion(frames: np.ndarray, xywh: np.ndarray) -> np.ndarray:
    """(N,) largest fraction of each box's area covered by another box of the same frame."""
    covered = np.zeros(len(frames), np.float64)
    x1, y1 = xywh[:, 0], xywh[:, 1]
    x2, y2 = x1 + xywh[:, 2], y1 + xywh[:, 3]
    area = np.maximum(xywh[:, 2] * xywh[:, 3], 1e-9)
    for frame in np.unique(frames):
        rows = np.flatnonzero(frames == frame)
        if len(rows) < 2:
            continue
        w = np.minimum(x2[rows, None], x2[None, rows]) - np.maximum(x1[rows, None], x1[None, rows])
        h = np.minimum(y2[rows, None], y2[None, rows]) - np.maximum(y1[rows, None], y1[None, rows])
        inter = np.clip(w, 0, None) * np.clip(h, 0, None)
        np.fill_diagonal(inter, 0)
        covered[rows] = (inter / area[rows, None]).max(axis=1)
    return covered


def good_boxes(tracks: Tracks, frame_hw: tuple[int, int], quality: Quality) -> np.ndarray:
    """(N,) bool: big enough, inside the frame by ``border`` px, occluded at most ``max_occlusion``."""
    x, y, w, h = tracks.xywh.T
    inside = (
        (x >= quality.border)
        & (y >= quality.border)
        & (x + w <= frame_hw[1] - quality.border)
        & (y + h <= frame_hw[0] - quality.border)
    )
    big = (w >= quality.min_width) & (h >= quality.min_height)
    return inside & big & (occlusion(tracks.frames, tracks.xywh) <= quality.max_occlusion)


def chosen_rows(tracks: Tracks, keep: np.ndarray, quality: Quality) -> np.ndarray:
    """Row indices: up to ``per_track`` good boxes spread evenly over each tracklet with ``min_crops``."""
    chosen = []
    for track in np.unique(tracks.ids):
        rows = np.flatnonzero((tracks.ids == track) & keep)
        if len(rows) < quality.min_crops:
            continue
        rows = rows[np.argsort(tracks.frames[rows], kind="stable")]
        picks = np.unique(
            np.linspace(0, len(rows) - 1, min(quality.per_track, len(rows))).round().astype(int)
        )
        chosen.append(rows[picks])
    return np.concatenate(chosen) if chosen else np.zeros(0, np.int64)


def read_crops(video: Path, frames: np.ndarray, xywh: np.ndarray) -> tuple[list[np.ndarray], tuple[int, int]]:
    """BGR crops of ``xywh`` at 0-based ``frames`` of ``video`` (read once, in order) and the frame size."""
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise ValueError(f"{video}: cannot open video")
    crops: list[np.ndarray | None] = [None] * len(frames)
    wanted = {int(f) for f in frames}
    index, size = 0, (0, 0)
    try:
        while wanted:
            ok, image = capture.read()
            if not ok:
                break
            size = image.shape[:2]
            if index in wanted:
                for row in np.flatnonzero(frames == index):
                    x, y, w, h = (round(float(v)) for v in xywh[row])
                    crops[row] = image[max(y, 0) : y + h, max(x, 0) : x + w].copy()
                wanted.discard(index)
            index += 1
    finally:
        capture.release()
    if wanted:
        raise ValueError(f"{video}: ends before frame {min(wanted)} that the tracks name")
    return [c for c in crops if c is not None], size


def video_size(video: Path) -> tuple[int, int]:
    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            raise ValueError(f"{video}: cannot open video")
        return int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    finally:
        capture.release()


def pseudo_samples(video: Path, tracks: Tracks, quality: Quality, name: str = "") -> list[Sample]:
    """One pseudo-identity per tracklet of ``video`` with its span of frames, quality-filtered crops."""
    name = name or Path(video).stem
    rows = chosen_rows(tracks, good_boxes(tracks, video_size(video), quality), quality)
    crops, _ = read_crops(video, tracks.frames[rows], tracks.xywh[rows])
    spans = {
        int(t): (int(tracks.frames[tracks.ids == t].min()), int(tracks.frames[tracks.ids == t].max()))
        for t in np.unique(tracks.ids[rows])
    }
    return [
        Sample(
            crop, f"{name}:{int(tracks.ids[r])}", name, name, int(tracks.frames[r]), spans[int(tracks.ids[r])]
        )
        for crop, r in zip(crops, rows, strict=True)
    ]


def known_negatives(samples: Sequence[Sample]) -> np.ndarray:
    """(N, N) bool: pairs known to show different vehicles.

    Labelled identities are all distinct; samples of different sources never share a vehicle (each
    source is its own footage); two pseudo-identities of one source are different vehicles only if
    their tracklets coexist (overlapping frame spans in one camera).
    """
    count = len(samples)
    identity = np.array([s.identity for s in samples])
    source = np.array([s.source for s in samples])
    camera = np.array([s.camera for s in samples])
    pseudo = np.array([s.span is not None for s in samples])
    start = np.array([s.span[0] if s.span else 0 for s in samples])
    end = np.array([s.span[1] if s.span else 0 for s in samples])
    overlap = (
        (start[:, None] <= end[None, :]) & (start[None, :] <= end[:, None]) & (camera[:, None] == camera)
    )
    both_pseudo = pseudo[:, None] & pseudo[None, :]
    same_source = source[:, None] == source[None, :]
    known = ~same_source | ~both_pseudo | overlap
    return known & (identity[:, None] != identity[None, :]) & ~np.eye(count, dtype=bool)
