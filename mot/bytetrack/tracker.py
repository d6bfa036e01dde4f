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

Options from later trackers, each behind a switch (``MOT.BYTETRACK``, documented in
config/keys_tracking.py; on by default: ORU, the adaptive split, hit-aware deletion and gated
direction consistency, measured not worse on KITTI, AI City S02 and c010, see docs/tracking.md
and docs/clustering-and-tracker.md):

* ``iou_plus_one``: the reference's pixel-inclusive IoU (``x2 - x1 + 1``).
* ``observation_reupdate`` (OC-SORT's ORU): a track found again after missed frames is
  re-filtered from its last observation along the straight line to the new one.
* ``observation_recovery`` (OC-SORT's OCR): tracks left unmatched get a second chance by the
  box of their last observation rather than the drifting prediction.
* ``kalman_state="xywh"`` (BoT-SORT's filter): width and height estimated directly.
* ``appearance`` (BoT-SORT's fusion): ``min(IoU cost, appearance cost)`` for pairs that overlap
  and look alike.
* ``adaptive_thresh``: the high/low split rises to the Otsu threshold of the detector's scores
  when it lies in a sparse valley (``mot.bytetrack.scores``), never below ``track_thresh``.
* ``direction_*`` (OC-SORT's velocity direction consistency, ``mot.bytetrack.direction``):
  in the first association a detection ahead of the track gains, one behind it loses; with
  ``direction_keep_gate`` the term only re-ranks pairs inside the IoU gate.
* ``nsa_kalman`` (StrongSORT's NSA filter): measurement noise scaled by ``1 - score``.
* ``lost_iou_buffer`` (C-BIoU): lost tracks are matched with grown boxes.
* ``deletion_hits`` (track-confidence-aware deletion): a lost track with few matches keeps
  only that fraction of the buffer, so a short uncertain track does not wait to steal a
  detection from the vehicle it shadowed.
* ``long_buffer``: lost tracks past the buffer are kept up to ``long_buffer`` frames and
  matched last, by their last observed box, against confident detections nobody claimed.
"""

from __future__ import annotations

import numpy as np

from detection.types import Detections
from mot.association import buffered, cosine_distance, fuse_score, iou_distance, linear_assignment
from mot.base import Tracks
from mot.bytetrack.direction import direction_cost, observe, start_history
from mot.bytetrack.options import ByteTrackOptions
from mot.bytetrack.scores import SCORE_BINS, is_score_valley, is_valley, otsu_split, otsu_threshold
from mot.bytetrack.state import LOST, TRACKED, ByteTrackState
from mot.kalman import KalmanBoxFilter, KalmanXYWHFilter

__all__ = ["ByteTrack", "ByteTrackOptions", "ByteTrackState", "is_score_valley", "otsu_threshold"]

DUPLICATE_IOU_DISTANCE = 0.15  # tracked and lost tracks closer than this are one vehicle
FEATURE_MOMENTUM = 0.9  # BoT-SORT's exponential smoothing of a track's appearance
MIN_SCORES = 20  # fewer recent scores than this: the fixed thresholds apply
DEFAULT_OPTIONS = ByteTrackOptions()


class ByteTrack:
    """ByteTrack for one camera with ``options``; ``frame_rate`` scales the lost-track buffers."""

    needs_embeddings = False

    def __init__(
        self,
        options: ByteTrackOptions = DEFAULT_OPTIONS,
        frame_rate: float = 30.0,
        kalman: KalmanBoxFilter | None = None,
    ) -> None:
        self.opts = options
        self.needs_embeddings = options.appearance
        self.max_time_lost = int(frame_rate / 30.0 * options.track_buffer)  # the buffer in frames
        self.long_buffer = int(frame_rate / 30.0 * options.long_buffer)
        xywh = options.kalman_state == "xywh"
        self.kalman = kalman or (KalmanXYWHFilter() if xywh else KalmanBoxFilter())
        self.reset()

    def reset(self) -> None:
        self.frame_id = 0
        self._next_id = 1
        self.tracks = ByteTrackState.empty(delta=self.opts.history_delta)
        # the detector's score histogram over (low_thresh, 1] since reset: its clutter/vehicle split
        self._score_edges = np.linspace(min(self.opts.low_thresh, 0.99), 1.0, SCORE_BINS + 1)
        self._score_counts = np.zeros(SCORE_BINS, np.int64)

    def update(self, detections: Detections) -> Tracks:
        self.frame_id += 1
        self._match_feature_dim(detections)
        t = self.tracks
        t.det_index[:] = -1
        scores = detections.score
        split, new_thresh = self._thresholds(scores)
        high = np.flatnonzero(scores > split)
        low = np.flatnonzero((scores > self.opts.low_thresh) & (scores < split))
        tracked = (t.state == TRACKED) & t.confirmed
        # lost past the buffer (kept only with long_buffer): matched last, by their last box
        dormant = (t.state == LOST) & (self.frame_id - t.last_frame > self.max_time_lost + 1)
        pool = np.concatenate([np.flatnonzero(tracked), np.flatnonzero((t.state == LOST) & ~dormant)])
        tentative = np.flatnonzero((t.state == TRACKED) & ~t.confirmed)
        self._predict(pool)

        # 1. confident detections against confirmed and lost tracks
        m1, pool_left, high_left = self._associate(
            pool, high, detections, self.opts.match_thresh, self.opts.fuse_score
        )

        # 2. weak detections against tracks that were tracked until now and are still unmatched
        rest = pool[pool_left]
        rest = rest[t.state[rest] == TRACKED]
        m2, rest_left, _ = self._associate(rest, low, detections, self.opts.second_match_thresh, False)

        # 2b. (OC-SORT's OCR) tracks still unmatched, by their last observed box
        free = high[high_left]
        orphans = rest[rest_left]
        recovered = np.zeros((0, 2), np.int64)
        if self.opts.observation_recovery:
            lost = pool[pool_left]
            orphans = np.concatenate([orphans, lost[t.state[lost] == LOST]])
            recovered, _, free_left = self._recover(orphans, free, detections)
            free = free[free_left]
            orphans = np.setdiff1d(rest[rest_left], recovered[:, 0])

        # 3. tentative tracks (seen once) against the confident detections still free
        m3, tentative_left, free_left = self._associate(
            tentative, free, detections, self.opts.unconfirmed_match_thresh, self.opts.fuse_score
        )
        # 3b. (longer buffer) lost tracks past the buffer, by their last observed box
        revived, _, still_free = self._recover(np.flatnonzero(dormant), free[free_left], detections)
        free_left = free_left[still_free]
        # the matchings touch disjoint tracks: correct them all at once
        self._correct(
            np.concatenate(
                [pool[m1[:, 0]], rest[m2[:, 0]], recovered[:, 0], tentative[m3[:, 0]], revived[:, 0]]
            ),
            np.concatenate([high[m1[:, 1]], low[m2[:, 1]], recovered[:, 1], free[m3[:, 1]], revived[:, 1]]),
            detections,
        )
        t.state[orphans] = LOST
        drop = np.zeros(len(t), bool)
        drop[tentative[tentative_left]] = True

        # 4. lost tracks unseen for longer than the buffer end
        drop |= (t.state == LOST) & (self.frame_id - t.last_frame > self._buffers())

        # 5. new tracks from confident detections nobody claimed
        fresh = free[free_left]
        fresh = fresh[scores[fresh] >= new_thresh]
        duplicate, fresh = self._duplicates(fresh, detections, drop | dormant)
        drop |= duplicate
        ended = t.track_id[drop]
        self.tracks = t.select(~drop).concat(self._new_tracks(fresh, detections))
        return self.tracks.matched(detections, ended, self.kalman.to_xyxy)

    def coast(self) -> Tracks:
        """A frame without detection: the frame counts (lost tracks age, the next match re-filters
        the gap with ORU), the tracks predicted as ``update`` predicts them, nobody misses."""
        self.frame_id += 1
        t = self.tracks
        t.det_index[:] = -1
        self._predict(np.flatnonzero(((t.state == TRACKED) & t.confirmed) | (t.state == LOST)))
        rows = np.flatnonzero(t.state == TRACKED)
        return t.predicted(rows, t.score[rows], self.kalman.to_xyxy)

    def finish(self) -> np.ndarray:
        ids = self.tracks.track_id.copy()
        self.tracks = ByteTrackState.empty(self.tracks.feature.shape[1], self.opts.history_delta)
        return ids

    # ------------------------------------------------------------------ steps

    def _thresholds(self, scores: np.ndarray) -> tuple[float, float]:
        """This frame's high/low split and new-track threshold."""
        if not self.opts.adaptive_thresh:
            return self.opts.track_thresh, self.opts.new_track_thresh
        self._score_counts += np.histogram(scores, bins=self._score_edges)[0]
        if self._score_counts.sum() < MIN_SCORES:  # too few boxes to see the detector's score modes
            return self.opts.track_thresh, self.opts.new_track_thresh
        split = otsu_split(self._score_counts, self._score_edges)
        if not is_valley(self._score_counts, self._score_edges, split):  # no clutter mode to split off
            return self.opts.track_thresh, self.opts.new_track_thresh
        split = float(np.clip(split, self.opts.track_thresh, self.opts.split_ceiling))
        return split, split + (self.opts.new_track_thresh - self.opts.track_thresh)

    def _recover(
        self, rows: np.ndarray, dets: np.ndarray, detections: Detections
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Match tracks by their last observation; returns (track row, detection row) pairs and leftovers."""
        last = self.kalman.to_xyxy(self.tracks.obs[rows])
        cost = iou_distance(last, detections.xyxy[dets], self.opts.pixel_pad)
        matches, rows_left, dets_left = linear_assignment(cost, self.opts.recovery_match_thresh)
        pairs = np.stack([rows[matches[:, 0]], dets[matches[:, 1]]], axis=1).reshape(-1, 2)
        return pairs, rows_left, dets_left

    def _buffers(self) -> np.ndarray | int:
        """Frames each lost track is kept: the buffer, shortened for tracks with few hits."""
        longest = max(self.max_time_lost, self.long_buffer)
        if not self.opts.deletion_hits:
            return longest
        trust = np.minimum(self.tracks.hits / self.opts.deletion_hits, 1.0)
        return np.maximum(longest * trust, 1.0)

    def _boxes(self, rows: np.ndarray) -> np.ndarray:
        return self.tracks.boxes(rows, self.kalman.to_xyxy)

    def _predict(self, rows: np.ndarray) -> None:
        t = self.tracks
        mean = t.mean[rows].copy()
        lost = np.flatnonzero(t.state[rows] != TRACKED)
        for k in self.kalman.frozen_when_lost:  # a lost track's size stops changing
            mean[lost, k] = 0.0
        t.mean[rows], t.cov[rows] = self.kalman.predict(mean, t.cov[rows])

    def _associate(
        self, rows: np.ndarray, dets: np.ndarray, detections: Detections, threshold: float, fuse: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Optimal matching of tracks ``rows`` to detections ``dets``; ``fuse``: first-association costs."""
        iou_cost = iou_distance(self._boxes(rows), detections.xyxy[dets], self.opts.pixel_pad)
        if (
            self.opts.lost_iou_buffer
        ):  # C-BIoU for lost tracks: both boxes grown, so a drifted one still overlaps
            lost = np.flatnonzero(self.tracks.state[rows] == LOST)
            iou_cost[lost] = iou_distance(
                buffered(self._boxes(rows[lost]), self.opts.lost_iou_buffer),
                buffered(detections.xyxy[dets], self.opts.lost_iou_buffer),
                self.opts.pixel_pad,
            )
        cost = fuse_score(iou_cost, detections.score[dets]) if fuse else iou_cost
        if fuse and self.opts.direction_weight:
            cost = self._direction(cost, rows, dets, detections, threshold)
        if fuse and self.opts.appearance and detections.embedding is not None:
            looks = cosine_distance(self.tracks.feature[rows], detections.embedding[dets]) / 2.0
            looks[(looks > self.opts.appearance_thresh) | (iou_cost > self.opts.proximity_thresh)] = 1.0
            cost = np.minimum(cost, looks)
        return linear_assignment(cost, threshold)

    def _direction(
        self, cost: np.ndarray, rows: np.ndarray, dets: np.ndarray, detections: Detections, threshold: float
    ) -> np.ndarray:
        """``cost`` with the direction term of tracks ``rows`` (``mot.bytetrack.direction``)."""
        t, opts = self.tracks, self.opts
        centres = self.kalman.measure(detections.xyxy[dets])[:, :2]
        return direction_cost(
            cost, threshold, opts.direction_weight, t.direction[rows], t.motion[rows], t.history[rows, 0],
            centres, detections.score[dets], opts.direction_keep_gate,
        )  # fmt: skip

    def _correct(self, rows: np.ndarray, dets: np.ndarray, detections: Detections) -> None:
        """Kalman-update ``rows`` with detections ``dets``; they become tracked and confirmed."""
        if len(rows) == 0:
            return
        t = self.tracks
        z = self.kalman.measure(detections.xyxy[dets])
        if self.opts.observation_reupdate:
            self._reupdate(rows, z)
        scale = None
        if self.opts.nsa_kalman:  # StrongSORT's NSA: a box's noise shrinks with its score, to nsa_floor
            scale = np.maximum(1.0 - detections.score[dets], self.opts.nsa_floor)
        t.mean[rows], t.cov[rows] = self.kalman.update(t.mean[rows], t.cov[rows], z, scale)
        t.direction[rows], t.motion[rows], t.history[rows] = observe(  # z[:, 3]: height (both filters)
            t.history[rows], z[:, :2], z[:, 3], self.opts.direction_min_move
        )
        t.hits[rows] += 1
        t.obs_mean[rows], t.obs_cov[rows], t.obs[rows] = t.mean[rows], t.cov[rows], z
        if self.opts.appearance and detections.embedding is not None:
            feature = FEATURE_MOMENTUM * t.feature[rows] + (1 - FEATURE_MOMENTUM) * detections.embedding[dets]
            t.feature[rows] = feature / np.maximum(np.linalg.norm(feature, axis=1, keepdims=True), 1e-12)
        t.state[rows] = TRACKED
        t.confirmed[rows] = True
        t.score[rows] = detections.score[dets]
        t.last_frame[rows] = self.frame_id
        t.det_index[rows] = dets

    def _reupdate(self, rows: np.ndarray, z: np.ndarray) -> None:
        """OC-SORT's ORU: tracks unobserved for ``gap - 1`` frames are re-filtered from their last match.

        The state is rewound to the posterior of the last observation, then predicted and
        updated with virtual observations on the line to ``z`` for each missed frame, and
        predicted once more, ready for the real update with ``z``.
        """
        t = self.tracks
        gaps = self.frame_id - t.last_frame[rows]
        for gap in np.unique(gaps[gaps > 1]):
            sel = np.flatnonzero(gaps == gap)
            r = rows[sel]
            mean, cov = t.obs_mean[r], t.obs_cov[r]
            for step in range(1, gap):
                mean, cov = self.kalman.predict(mean, cov)
                virtual = t.obs[r] + (z[sel] - t.obs[r]) * (step / gap)
                mean, cov = self.kalman.update(mean, cov, virtual)
            t.mean[r], t.cov[r] = self.kalman.predict(mean, cov)

    def _match_feature_dim(self, detections: Detections) -> None:
        """Size the appearance column to the detections' embeddings (only with ``appearance``)."""
        emb = detections.embedding
        if not self.opts.appearance or emb is None or emb.shape[1] == self.tracks.feature.shape[1]:
            return
        if len(self.tracks):
            raise ValueError(
                f"Detections.embedding: expected dimension {self.tracks.feature.shape[1]} "
                f"like earlier frames, got {emb.shape[1]}"
            )
        self.tracks = ByteTrackState.empty(emb.shape[1], self.opts.history_delta)

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
        close = (
            iou_distance(self._boxes(tracked), self._boxes(lost), self.opts.pixel_pad)
            < DUPLICATE_IOU_DISTANCE
        )
        for p, q in np.argwhere(close):
            age_tracked = t.last_frame[tracked[p]] - t.start_frame[tracked[p]]
            age_lost = t.last_frame[lost[q]] - t.start_frame[lost[q]]
            drop[lost[q] if age_tracked > age_lost else tracked[p]] = True
        on_lost = (
            iou_distance(detections.xyxy[fresh], self._boxes(lost), self.opts.pixel_pad)
            < DUPLICATE_IOU_DISTANCE
        )
        return drop, fresh[~on_lost.any(axis=1)]

    def _new_tracks(self, dets: np.ndarray, detections: Detections) -> ByteTrackState:
        n = len(dets)
        z = self.kalman.measure(detections.xyxy[dets])
        mean, cov = self.kalman.initiate(z)
        dim = self.tracks.feature.shape[1]
        if dim and detections.embedding is not None:
            feature = detections.embedding[dets]
        else:
            feature = np.zeros((n, dim), np.float32)
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
            obs_mean=mean.copy(),
            obs_cov=cov.copy(),
            obs=z,
            feature=feature,
            direction=np.zeros((n, 2)),
            hits=np.ones(n, np.int64),
            history=start_history(z[:, :2], self.opts.history_delta),
            motion=np.zeros(n),
        )
