"""Struct-of-arrays track state: one row per track, so a frame's work is a few array operations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TypeVar

import numpy as np

from detection.types import Detections
from mot.base import Tracks
from mot.kalman import xyah_to_xyxy

T = TypeVar("T", bound="TrackTable")
ToXyxy = Callable[[np.ndarray], np.ndarray]  # a Kalman filter's state -> corners conversion


@dataclass
class TrackTable:
    """Base class; subclasses declare array fields that all have one row per track."""

    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))

    def select(self: T, rows: np.ndarray) -> T:
        """The tracks at ``rows`` (index array or boolean mask), as a new table."""
        return type(self)(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def concat(self: T, other: T) -> T:
        """This table's rows followed by ``other``'s."""
        return type(self)(
            **{f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)]) for f in fields(self)}
        )


class KalmanTrackTable(TrackTable):
    """Base of trackers' tables; the (dataclass) subclass declares these as fields."""

    track_id: np.ndarray  # (N,) int64
    mean: np.ndarray  # (N, 8) Kalman state
    confirmed: np.ndarray  # (N,) bool
    det_index: np.ndarray  # (N,) detection matched in the current frame, -1 if none

    def boxes(
        self, rows: np.ndarray, to_xyxy: Callable[[np.ndarray], np.ndarray] = xyah_to_xyxy
    ) -> np.ndarray:
        """(len(rows), 4) corners of the tracks' Kalman states (``to_xyxy``: the filter's conversion)."""
        return to_xyxy(self.mean[rows])

    def speed(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows),) centre speed in box heights per frame (both filters: velocity in columns
        4-5, height in column 3)."""
        mean = self.mean[rows]
        return np.hypot(mean[:, 4], mean[:, 5]) / np.maximum(mean[:, 3], 1e-6)

    def matched(
        self,
        detections: Detections,
        ended: np.ndarray,
        to_xyxy: ToXyxy = xyah_to_xyxy,
    ) -> Tracks:
        """The tracker's report for this frame: every track matched to one of ``detections``."""
        rows = np.flatnonzero(self.det_index >= 0)
        dets = self.det_index[rows]
        return Tracks(
            track_id=self.track_id[rows],
            xyxy=self.boxes(rows, to_xyxy),
            score=detections.score[dets],
            class_id=detections.class_id[dets],
            det_index=dets,
            confirmed=self.confirmed[rows],
            ended=ended,
            speed=self.speed(rows),
        )

    def predicted(self, rows: np.ndarray, score: np.ndarray, to_xyxy: ToXyxy = xyah_to_xyxy) -> Tracks:
        """The report of a frame the detector skipped: tracks ``rows`` at their predicted boxes.

        Rows carry ``det_index`` -1 (no detection: a predicted box) and ``class_id`` -1 (the
        class is the detections' to tell); ``score`` is each row's last detection score.
        """
        n = len(rows)
        return Tracks(
            track_id=self.track_id[rows],
            xyxy=self.boxes(rows, to_xyxy),
            score=score,
            class_id=np.full(n, -1, np.int64),
            det_index=np.full(n, -1, np.int64),
            confirmed=self.confirmed[rows],
            speed=self.speed(rows),
        )
