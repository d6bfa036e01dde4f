"""ByteTrack (Zhang et al., ECCV 2022): IoU association that also uses low-score detections.

``update`` follows the paper's steps: split detections by score; match high-score boxes to
confirmed and lost tracks; match low-score boxes to the tracks still unmatched (occluded
vehicles often score low); settle tentative tracks; start tracks from confident leftovers;
age out lost tracks. Defaults are the paper's (``track_thresh`` 0.5, new tracks above
0.6, IoU-distance gates 0.8 / 0.5 / 0.7, a 30-frame buffer at 30 fps, score fusion on).

Faithful details kept from the reference implementation: tentative tracks are not
predicted before matching; a lost track's height velocity is zeroed before prediction;
tracks created on the first frame are confirmed at once; a tracked and a lost track
overlapping with IoU > 0.85 are deduplicated in favour of the older one. Track state lives
in arrays (``ByteTrackState``), so each step is a handful of vectorised operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detection.types import Detections
from mot.association import fuse_score, iou_distance, linear_assignment
from mot.base import Tracks
from mot.kalman import KalmanBoxFilter, xyxy_to_xyah
from mot.table import KalmanTrackTable

TRACKED, LOST = 0, 1
DUPLICATE_IOU_DISTANCE = 0.15  # tracked and lost tracks closer than this are one vehicle


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

    @classmethod
    def empty(cls) -> ByteTrackState:
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
        )


class ByteTrack:
    """ByteTrack for one camera; ``frame_rate`` scales the lost-track buffer."""

    needs_embeddings = False

    def __init__(
        self,
        track_thresh: float = 0.5,
        low_thresh: float = 0.1,
        new_track_thresh: float = 0.6,
        match_thresh: float = 0.8,
        second_match_thresh: float = 0.5,
        unconfirmed_match_thresh: float = 0.7,
        track_buffer: int = 30,
        fuse_score: bool = True,
        frame_rate: float = 30.0,
        kalman: KalmanBoxFilter | None = None,
    ) -> None:
        self.track_thresh = track_thresh
        self.low_thresh = low_thresh
        self.new_track_thresh = new_track_thresh
        self.match_thresh = match_thresh
        self.second_match_thresh = second_match_thresh
        self.unconfirmed_match_thresh = unconfirmed_match_thresh
        self.max_time_lost = int(frame_rate / 30.0 * track_buffer)
        self.fuse_score = fuse_score
        self.kalman = kalman or KalmanBoxFilter()
        self.reset()

    def reset(self) -> None:
        self.frame_id = 0
        self._next_id = 1
        self.tracks = ByteTrackState.empty()

    def update(self, detections: Detections) -> Tracks:
        self.frame_id += 1
        t = self.tracks
        t.det_index[:] = -1
        scores = detections.score
        high = np.flatnonzero(scores > self.track_thresh)
        low = np.flatnonzero((scores > self.low_thresh) & (scores < self.track_thresh))
        tracked = (t.state == TRACKED) & t.confirmed
        pool = np.concatenate([np.flatnonzero(tracked), np.flatnonzero(t.state == LOST)])
        tentative = np.flatnonzero((t.state == TRACKED) & ~t.confirmed)
        self._predict(pool)

        # 1. confident detections against confirmed and lost tracks
        m1, pool_left, high_left = self._associate(pool, high, detections, self.match_thresh, self.fuse_score)

        # 2. weak detections against tracks that were tracked until now and are still unmatched
        rest = pool[pool_left]
        rest = rest[t.state[rest] == TRACKED]
        m2, rest_left, _ = self._associate(rest, low, detections, self.second_match_thresh, False)

        # 3. tentative tracks (seen once) against the confident detections still free
        free = high[high_left]
        m3, tentative_left, free_left = self._associate(
            tentative, free, detections, self.unconfirmed_match_thresh, self.fuse_score
        )
        # the three matchings touch disjoint tracks: correct them all at once
        self._correct(
            np.concatenate([pool[m1[:, 0]], rest[m2[:, 0]], tentative[m3[:, 0]]]),
            np.concatenate([high[m1[:, 1]], low[m2[:, 1]], free[m3[:, 1]]]),
            detections,
        )
        t.state[rest[rest_left]] = LOST
        drop = np.zeros(len(t), bool)
        drop[tentative[tentative_left]] = True

        # 4. lost tracks unseen for longer than the buffer end
        drop |= (t.state == LOST) & (self.frame_id - t.last_frame > self.max_time_lost)

        # 5. new tracks from confident detections nobody claimed
        fresh = free[free_left]
        fresh = fresh[scores[fresh] >= self.new_track_thresh]
        duplicate, fresh = self._duplicates(fresh, detections, drop)
        drop |= duplicate
        ended = t.track_id[drop]
        self.tracks = t.select(~drop).concat(self._new_tracks(fresh, detections))
        return self.tracks.matched(detections, ended)

    def finish(self) -> np.ndarray:
        ids = self.tracks.track_id.copy()
        self.tracks = ByteTrackState.empty()
        return ids

    # ------------------------------------------------------------------ steps

    def _predict(self, rows: np.ndarray) -> None:
        t = self.tracks
        mean = t.mean[rows].copy()
        mean[t.state[rows] != TRACKED, 7] = 0.0  # a lost track's height stops changing
        t.mean[rows], t.cov[rows] = self.kalman.predict(mean, t.cov[rows])

    def _associate(
        self, rows: np.ndarray, dets: np.ndarray, detections: Detections, threshold: float, fuse: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cost = iou_distance(self.tracks.boxes(rows), detections.xyxy[dets])
        if fuse:
            cost = fuse_score(cost, detections.score[dets])
        return linear_assignment(cost, threshold)

    def _correct(self, rows: np.ndarray, dets: np.ndarray, detections: Detections) -> None:
        """Kalman-update ``rows`` with detections ``dets``; they become tracked and confirmed."""
        if len(rows) == 0:
            return
        t = self.tracks
        t.mean[rows], t.cov[rows] = self.kalman.update(
            t.mean[rows], t.cov[rows], xyxy_to_xyah(detections.xyxy[dets])
        )
        t.state[rows] = TRACKED
        t.confirmed[rows] = True
        t.score[rows] = detections.score[dets]
        t.last_frame[rows] = self.frame_id
        t.det_index[rows] = dets

    def _duplicates(
        self, fresh: np.ndarray, detections: Detections, dropped: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tracked and lost tracks covering the same vehicle: rows to drop, and the fresh detections kept.

        The older track wins. A track starting now is younger than any lost track, so a fresh
        detection on top of a lost track never starts one.
        """
        t = self.tracks
        tracked = np.flatnonzero((t.state == TRACKED) & ~dropped)
        lost = np.flatnonzero((t.state == LOST) & ~dropped)
        drop = np.zeros(len(t), bool)
        close = iou_distance(t.boxes(tracked), t.boxes(lost)) < DUPLICATE_IOU_DISTANCE
        for p, q in np.argwhere(close):
            age_tracked = t.last_frame[tracked[p]] - t.start_frame[tracked[p]]
            age_lost = t.last_frame[lost[q]] - t.start_frame[lost[q]]
            drop[lost[q] if age_tracked > age_lost else tracked[p]] = True
        on_lost = iou_distance(detections.xyxy[fresh], t.boxes(lost)) < DUPLICATE_IOU_DISTANCE
        return drop, fresh[~on_lost.any(axis=1)]

    def _new_tracks(self, dets: np.ndarray, detections: Detections) -> ByteTrackState:
        n = len(dets)
        mean, cov = self.kalman.initiate(xyxy_to_xyah(detections.xyxy[dets]))
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        frame = np.full(n, self.frame_id, np.int64)
        return ByteTrackState(
            track_id=ids,
            mean=mean,
            cov=cov,
            state=np.full(n, TRACKED, np.int64),
            confirmed=np.full(n, self.frame_id == 1),
            score=detections.score[dets].astype(np.float64),
            start_frame=frame,
            last_frame=frame.copy(),
            det_index=dets.astype(np.int64),
        )
