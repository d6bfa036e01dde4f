"""ByteTrack's track table: one row per live track (tracked or lost), as arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mot.table import KalmanTrackTable

TRACKED, LOST = 0, 1


@dataclass
class ByteTrackState(KalmanTrackTable):
    """One row per live track (tracked or lost)."""

    track_id: np.ndarray  # (N,) int64
    mean: np.ndarray  # (N, 8) Kalman state
    cov: np.ndarray  # (N, 8, 8)
    state: np.ndarray  # (N,) TRACKED or LOST
    confirmed: np.ndarray  # (N,) bool, ``is_activated`` in the reference code
    score: np.ndarray  # (N,) last matched detection score
    start_frame: np.ndarray  # (N,) frame the track was created
    last_frame: np.ndarray  # (N,) last frame it was matched
    det_index: np.ndarray  # (N,) detection matched in the current frame, -1 if none
    obs_mean: np.ndarray  # (N, 8) Kalman posterior at the last observation (ORU rewinds to it)
    obs_cov: np.ndarray  # (N, 8, 8)
    obs: np.ndarray  # (N, 4) last observation, in the filter's measurement space
    feature: np.ndarray  # (N, D) smoothed appearance, D = 0 without embeddings
    direction: np.ndarray  # (N, 2) unit direction of motion between observations (0: unknown)
    hits: np.ndarray  # (N,) detections matched so far
    history: np.ndarray  # (N, delta, 2) last observed centres, oldest first (direction's origin)
    motion: np.ndarray  # (N,) confidence in ``direction``, 0..1

    @classmethod
    def empty(cls, feature_dim: int = 0, delta: int = 1) -> ByteTrackState:
        ints = np.zeros(0, np.int64)
        return cls(
            ints,
            np.zeros((0, 8)),
            np.zeros((0, 8, 8)),
            ints,
            np.zeros(0, bool),
            np.zeros(0),
            ints,
            ints,
            ints,
            np.zeros((0, 8)),
            np.zeros((0, 8, 8)),
            np.zeros((0, 4)),
            np.zeros((0, feature_dim), np.float32),
            np.zeros((0, 2)),
            ints,
            np.zeros((0, delta, 2)),
            np.zeros(0),
        )
