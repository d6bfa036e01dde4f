"""DeepSORT (Wojke et al., ICIP 2017): appearance + motion association with a matching cascade.

Per frame: predict every track; match confirmed tracks to detections by appearance (the
smallest cosine distance to the track's recent features), gated by the Kalman Mahalanobis
distance, in a cascade that serves recently seen tracks first; then match tentative tracks
and tracks missed for one frame by IoU; update, start and delete tracks. A track is
tentative until ``n_init`` consecutive hits, and deleted when missed while tentative or for
more than ``max_age`` frames. Defaults follow deep_sort_app (``max_iou_distance`` 0.7,
``max_age`` 30, ``n_init`` 3, ``nn_budget`` 100); the cosine gate is ours (0.3), since the
right value depends on the ReID model. Detections below ``min_confidence`` are ignored.

The appearance gallery and the Kalman filter are constructor arguments, so tests can pass
their own. Track state lives in arrays (``DeepSortState``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detection.types import Detections
from mot.association import gate, iou_distance, linear_assignment
from mot.base import Tracks
from mot.deepsort.gallery import FeatureGallery
from mot.kalman import CHI2_95, KalmanBoxFilter, xyxy_to_xyah
from mot.table import KalmanTrackTable


@dataclass
class DeepSortState(KalmanTrackTable):
    """One row per live (tentative or confirmed) track."""

    track_id: np.ndarray  # (N,) int64
    mean: np.ndarray  # (N, 8)
    cov: np.ndarray  # (N, 8, 8)
    confirmed: np.ndarray  # (N,) bool
    hits: np.ndarray  # (N,) matched frames
    time_since_update: np.ndarray  # (N,) frames since the last match (1 right after predict)
    det_index: np.ndarray  # (N,) detection matched in the current frame, -1 if none

    @classmethod
    def empty(cls) -> DeepSortState:
        ints = np.zeros(0, np.int64)
        return cls(ints, np.zeros((0, 8)), np.zeros((0, 8, 8)), np.zeros(0, bool), ints, ints, ints)


class DeepSort:
    """DeepSORT for one camera; needs ``Detections.embedding`` (L2-normalised)."""

    needs_embeddings = True

    def __init__(
        self,
        max_cosine_distance: float = 0.3,
        nn_budget: int = 100,
        max_iou_distance: float = 0.7,
        max_age: int = 30,
        n_init: int = 3,
        min_confidence: float = 0.3,
        frame_rate: float = 30.0,
        gallery: FeatureGallery | None = None,
        kalman: KalmanBoxFilter | None = None,
    ) -> None:
        self.max_cosine_distance = max_cosine_distance
        self.max_iou_distance = max_iou_distance
        self.max_age = max(1, int(frame_rate / 30.0 * max_age))
        self.n_init = n_init
        self.min_confidence = min_confidence
        self.gallery = gallery or FeatureGallery(nn_budget)
        self.kalman = kalman or KalmanBoxFilter()
        self.reset()

    def reset(self) -> None:
        self._next_id = 1
        self.tracks = DeepSortState.empty()
        self._pending: dict[int, list[np.ndarray]] = {}  # features of tentative tracks
        self.gallery.reset()

    def update(self, detections: Detections) -> Tracks:
        if detections.embedding is None:
            raise ValueError("DeepSort.update: detections need embeddings (Detections.embedding)")
        t = self.tracks
        t.det_index[:] = -1
        t.mean, t.cov = self.kalman.predict(t.mean, t.cov)
        t.time_since_update += 1
        usable = np.flatnonzero(detections.score >= self.min_confidence)

        matches, unmatched_dets = self._match(detections, usable)
        self._correct(matches[:, 0], matches[:, 1], detections)
        missed = t.det_index < 0
        delete = missed & (~t.confirmed | (t.time_since_update > self.max_age))
        ended = t.track_id[delete]
        self.tracks = t.select(~delete).concat(self._new_tracks(unmatched_dets, detections))
        for track_id in ended:
            self._pending.pop(int(track_id), None)
        self._feed_gallery(detections)
        return self.tracks.matched(detections, ended)

    def coast(self) -> Tracks:
        """A frame without detection: every track predicted one frame ahead; ``time_since_update``
        and so ``max_age`` count detected frames only (the matching cascade is by misses)."""
        t = self.tracks
        t.det_index[:] = -1
        t.mean, t.cov = self.kalman.predict(t.mean, t.cov)
        rows = np.flatnonzero(t.time_since_update == 0)  # matched at the last detection
        return t.predicted(rows, np.ones(len(rows), np.float32))

    def finish(self) -> np.ndarray:
        ids = self.tracks.track_id.copy()
        self.reset()
        return ids

    # ------------------------------------------------------------------ steps

    def _match(self, detections: Detections, dets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(track row, detection) pairs and the detections left over."""
        t = self.tracks
        confirmed = np.flatnonzero(t.confirmed)
        matches_a, dets = self._cascade(confirmed, dets, detections)
        unmatched = np.setdiff1d(confirmed, matches_a[:, 0])
        # IoU for tentative tracks and confirmed ones missed only in this frame
        candidates = np.concatenate(
            [np.flatnonzero(~t.confirmed), unmatched[t.time_since_update[unmatched] == 1]]
        )
        cost = iou_distance(t.boxes(candidates), detections.xyxy[dets])
        cost = gate(cost, np.broadcast_to(t.time_since_update[candidates, None] > 1, cost.shape))
        matches_b, _, left = linear_assignment(cost, self.max_iou_distance)
        pairs_b = np.stack([candidates[matches_b[:, 0]], dets[matches_b[:, 1]]], axis=1)
        return np.concatenate([matches_a, pairs_b]), dets[left]

    def _cascade(
        self, rows: np.ndarray, dets: np.ndarray, detections: Detections
    ) -> tuple[np.ndarray, np.ndarray]:
        """Appearance matching, most recently seen tracks first; returns pairs and free detections."""
        t = self.tracks
        pairs = [np.zeros((0, 2), np.int64)]
        if len(rows) == 0 or len(dets) == 0:
            return pairs[0], dets
        far = (
            self.kalman.gating_distance(t.mean[rows], t.cov[rows], xyxy_to_xyah(detections.xyxy[dets]))
            > CHI2_95[4]
        )
        cost = gate(self.gallery.distance(detections.embedding[dets], t.track_id[rows], needed=~far), far)
        free = np.ones(len(dets), bool)
        for age in range(1, self.max_age + 1):
            level = np.flatnonzero(t.time_since_update[rows] == age)
            cols = np.flatnonzero(free)
            if len(cols) == 0:
                break
            if len(level) == 0:
                continue
            matches, _, _ = linear_assignment(cost[np.ix_(level, cols)], self.max_cosine_distance)
            pairs.append(np.stack([rows[level[matches[:, 0]]], dets[cols[matches[:, 1]]]], axis=1))
            free[cols[matches[:, 1]]] = False
        return np.concatenate(pairs), dets[free]

    def _correct(self, rows: np.ndarray, dets: np.ndarray, detections: Detections) -> None:
        if len(rows) == 0:
            return
        t = self.tracks
        t.mean[rows], t.cov[rows] = self.kalman.update(
            t.mean[rows], t.cov[rows], xyxy_to_xyah(detections.xyxy[dets])
        )
        t.hits[rows] += 1
        t.time_since_update[rows] = 0
        t.det_index[rows] = dets
        t.confirmed[rows] |= t.hits[rows] >= self.n_init

    def _new_tracks(self, dets: np.ndarray, detections: Detections) -> DeepSortState:
        n = len(dets)
        mean, cov = self.kalman.initiate(xyxy_to_xyah(detections.xyxy[dets]))
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        return DeepSortState(
            track_id=ids,
            mean=mean,
            cov=cov,
            confirmed=np.zeros(n, bool),
            hits=np.ones(n, np.int64),
            time_since_update=np.zeros(n, np.int64),
            det_index=dets.astype(np.int64),
        )

    def _feed_gallery(self, detections: Detections) -> None:
        """Matched features join the gallery once their track is confirmed (tentative ones wait)."""
        t = self.tracks
        rows = np.flatnonzero(t.det_index >= 0)
        features, targets = [], []
        for row in rows:
            track_id = int(t.track_id[row])
            feature = detections.embedding[t.det_index[row]][None]
            if not t.confirmed[row]:
                self._pending.setdefault(track_id, []).append(feature)
                continue
            features += [*self._pending.pop(track_id, []), feature]
            targets += [track_id] * (len(features) - len(targets))
        stacked = (
            np.concatenate(features) if features else np.zeros((0, detections.embedding.shape[1]), np.float32)
        )
        self.gallery.partial_fit(stacked, np.asarray(targets, np.int64), t.track_id[t.confirmed])
