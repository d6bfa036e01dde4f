"""The tracker contract: ``update(Detections) -> Tracks`` once per frame, ``reset()`` between videos."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from detection.types import Detections


@dataclass(frozen=True, eq=False)
class Tracks:
    """What a tracker reports after one frame: every track matched to a detection in it.

    Attributes:
        track_id: (M,) int64 ids, unique within the tracker's lifetime (until ``reset``).
        xyxy: (M, 4) float32 the tracker's box estimate (Kalman posterior) in frame pixels.
        score: (M,) float32 score of the matched detection.
        class_id: (M,) int64 class of the matched detection (-1 on predicted rows).
        det_index: (M,) int64 row of the matched detection in the ``Detections`` given to
            ``update``, so embeddings, crops and attributes join tracks exactly; -1 on a frame
            the detector skipped (``Tracker.coast``): the box is the tracker's prediction.
        confirmed: (M,) bool; false for tentative tracks (ByteTrack: seen once; DeepSORT:
            fewer than ``n_init`` hits). Tentative rows are reported so that a track's
            first boxes can be kept once it is confirmed; viewers show confirmed rows only.
        ended: (K,) int64 ids of tracks deleted during this update (they never come back).
        speed: (M,) float32 the box centre's speed in box heights per frame (Kalman velocity),
            what a detection schedule reads to detect sooner; zeros when not given.
    """

    track_id: np.ndarray
    xyxy: np.ndarray
    score: np.ndarray
    class_id: np.ndarray
    det_index: np.ndarray
    confirmed: np.ndarray
    ended: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    speed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def __post_init__(self) -> None:
        object.__setattr__(self, "track_id", np.asarray(self.track_id, np.int64).reshape(-1))
        object.__setattr__(self, "xyxy", np.asarray(self.xyxy, np.float32).reshape(-1, 4))
        object.__setattr__(self, "score", np.asarray(self.score, np.float32).reshape(-1))
        object.__setattr__(self, "class_id", np.asarray(self.class_id, np.int64).reshape(-1))
        object.__setattr__(self, "det_index", np.asarray(self.det_index, np.int64).reshape(-1))
        object.__setattr__(self, "confirmed", np.asarray(self.confirmed, bool).reshape(-1))
        object.__setattr__(self, "ended", np.asarray(self.ended, np.int64).reshape(-1))
        n = len(self.track_id)
        speed = np.asarray(self.speed, np.float32).reshape(-1)
        object.__setattr__(self, "speed", speed if len(speed) else np.zeros(n, np.float32))
        for name in ("xyxy", "score", "class_id", "det_index", "confirmed", "speed"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"Tracks.{name}: expected {n} rows like track_id, got {len(getattr(self, name))}"
                )

    @classmethod
    def empty(cls, ended: np.ndarray | None = None) -> Tracks:
        zeros = np.zeros(0)
        return cls(
            zeros,
            np.zeros((0, 4)),
            zeros,
            zeros,
            zeros,
            zeros.astype(bool),
            ended if ended is not None else zeros,
        )

    def __len__(self) -> int:
        return len(self.track_id)

    def __getitem__(self, index: np.ndarray | slice) -> Tracks:
        """Rows selected by a boolean mask, index array or slice (``ended`` is kept whole)."""
        return Tracks(
            self.track_id[index],
            self.xyxy[index],
            self.score[index],
            self.class_id[index],
            self.det_index[index],
            self.confirmed[index],
            self.ended,
            self.speed[index],
        )


class Tracker(Protocol):
    """A single-camera tracker. IDs start at 1 and depend only on the frames seen since ``reset``."""

    needs_embeddings: bool  # whether ``update`` reads ``Detections.embedding``

    def update(self, detections: Detections) -> Tracks: ...

    def coast(self) -> Tracks:
        """A frame the detector skipped (``mot.schedule``): predict every track one frame ahead
        without counting a miss; returns the tracked (not lost) tracks at their predicted boxes,
        ``det_index`` -1."""
        ...

    def finish(self) -> np.ndarray:
        """Ids of every track still alive; the tracker is then empty (end of the video)."""
        ...

    def reset(self) -> None: ...
