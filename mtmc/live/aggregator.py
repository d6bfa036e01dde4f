"""LiveMTMCAggregator: periodic global ids over the cameras' active tracks, stable between rounds.

Workers report their active tracks every frame (``update``); tracks unseen for
``max_inactive`` seconds expire. ``cluster`` (every ``LIVE.CLUSTER_INTERVAL`` seconds, from
the runner's main loop) runs the batch mode's constrained clustering (``mtmc.matching``)
over the tracks with at least ``min_frames`` boxes and a feature, on the common clock of ticks
(``tick / fps + layout offset``), then gives each cluster a global id:

* a cluster whose members carried global ids keeps the id most of them carried (each old id
  goes to one cluster only, the one holding most of its tracks; ties go to the cluster whose
  mean feature is closest to the id's feature);
* other clusters get new ids, counting up from 1.

So a vehicle keeps its id as long as its cluster persists, even as tracks expire and join.
Each id keeps a feature: the cluster's mean feature, smoothed between rounds with
``feature_ema`` (0 replaces it). ``local_to_global(camera)`` maps track ids to global ids.
Thread-safe: one lock; clustering works on a snapshot, outside the lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from config.layout import CameraLayout
from mot.tracklet import Tracklet
from mtmc.matching import MatchingOptions, match_tracklets

log = logging.getLogger(__name__)


@dataclass
class LiveTrack:
    """What the aggregator knows of one camera's active track."""

    camera: int
    track_id: int
    first_tick: int
    last_tick: int
    frames: int
    bbox: tuple[float, float, float, float]  # last box, x, y, w, h
    feature: np.ndarray | None = None
    class_id: int = -1
    seen: float = field(default=0.0)  # wall clock of the last update


class LiveMTMCAggregator:
    def __init__(
        self,
        layout: CameraLayout,
        fps: float,
        min_frames: int = 5,
        max_inactive: float = 3.0,
        min_sim: float = 0.5,
        feature_ema: float = 0.0,
        options: MatchingOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.layout, self.fps = layout, fps
        self.min_frames, self.max_inactive, self.feature_ema = min_frames, max_inactive, feature_ema
        base = options or MatchingOptions(color_weight=0.0)
        self.options = MatchingOptions(
            base.linkage,
            min_sim,
            base.center,
            base.pca_dim,
            0.0,
            reentry_gap=base.reentry_gap,
            reentry_min_sim=base.reentry_min_sim,
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._tracks: dict[tuple[int, int], LiveTrack] = {}
        self._global: dict[tuple[int, int], int] = {}  # (camera, track id) -> global id
        self._features: dict[int, np.ndarray] = {}  # global id -> smoothed feature
        self._next_id = 1
        self.rounds = 0
        self.last_cluster: float | None = None  # wall clock (time.time) of the last round

    def update(self, camera: int, tracks: Sequence[LiveTrack]) -> dict[int, int]:
        """Refresh one camera's active tracks; returns its current track id -> global id map."""
        now = self._clock()
        with self._lock:
            for track in tracks:
                track.seen = now
                self._tracks[(camera, track.track_id)] = track
            self._expire(now)
            return self._map(camera)

    def local_to_global(self, camera: int) -> dict[int, int]:
        with self._lock:
            return self._map(camera)

    def snapshot(self) -> dict[int, list[tuple[LiveTrack, int | None]]]:
        """Per camera: its active tracks and their global ids (for the JSON API)."""
        with self._lock:
            out: dict[int, list[tuple[LiveTrack, int | None]]] = {}
            for (camera, track_id), track in sorted(self._tracks.items()):
                out.setdefault(camera, []).append((track, self._global.get((camera, track_id))))
            return out

    def cluster(self) -> int:
        """One clustering round; returns the number of global ids in use."""
        with self._lock:
            self._expire(self._clock())
            eligible = [
                t for t in self._tracks.values() if t.frames >= self.min_frames and t.feature is not None
            ]
            previous = dict(self._global)
        if not eligible:
            self.rounds += 1
            self.last_cluster = time.time()
            return 0
        tracklets = [
            Tracklet(
                t.track_id,
                t.camera,
                [t.first_tick, t.last_tick] if t.last_tick > t.first_tick else [t.first_tick],
                [t.bbox] * (2 if t.last_tick > t.first_tick else 1),
                [1.0] * (2 if t.last_tick > t.first_tick else 1),
                mean_feature=t.feature,
            )
            for t in eligible
        ]
        result = match_tracklets(tracklets, self._tick_layout(), self.options, verbose=False)
        with self._lock:
            assigned = self._assign(eligible, result.global_ids, previous)
            self._global = {k: v for k, v in self._global.items() if k in self._tracks} | assigned
            self.rounds += 1
            self.last_cluster = time.time()
            in_use = len(set(self._global.values()))
        log.info("live mtmc: %d tracks -> %d global ids (round %d)", len(eligible), in_use, self.rounds)
        return in_use

    # ------------------------------------------------------------------ internals

    def _tick_layout(self) -> CameraLayout:
        """The layout with every camera at the tick rate: frames are ticks on the common clock."""
        n = self.layout.n_cams
        return CameraLayout(
            np.full(n, float(self.fps)),
            self.layout.offset.copy(),
            np.ones(n),
            self.layout.allowed.copy(),
            self.layout.min_gap.copy(),
            self.layout.max_gap.copy(),
            self.layout.source,
        )

    def _expire(self, now: float) -> None:
        gone = [k for k, t in self._tracks.items() if now - t.seen > self.max_inactive]
        for key in gone:
            del self._tracks[key]
            self._global.pop(key, None)

    def _map(self, camera: int) -> dict[int, int]:
        return {track_id: gid for (cam, track_id), gid in self._global.items() if cam == camera}

    def _assign(
        self, tracks: list[LiveTrack], labels: np.ndarray, previous: dict[tuple[int, int], int]
    ) -> dict[tuple[int, int], int]:
        """Global id per track: clusters inherit the old id most of their tracks carried."""
        clusters: dict[int, list[LiveTrack]] = {}
        for track, label in zip(tracks, labels.tolist(), strict=True):
            clusters.setdefault(label, []).append(track)
        means = {label: self._mean([t.feature for t in members]) for label, members in clusters.items()}
        candidates = []  # (-members carrying the old id, -similarity, cluster, old id)
        for label, members in clusters.items():
            counts: dict[int, int] = {}
            for t in members:
                if (gid := previous.get((t.camera, t.track_id))) is not None:
                    counts[gid] = counts.get(gid, 0) + 1
            for gid, count in counts.items():
                similarity = float(means[label] @ self._features[gid]) if gid in self._features else 0.0
                candidates.append((-count, -similarity, label, gid))
        chosen: dict[int, int] = {}
        used: set[int] = set()
        for _, _, label, gid in sorted(candidates):
            if label not in chosen and gid not in used:
                chosen[label] = gid
                used.add(gid)
        for label in sorted(clusters):
            if label not in chosen:
                chosen[label] = self._next_id
                self._next_id += 1
        for label, gid in chosen.items():
            old = self._features.get(gid)
            new = means[label]
            mixed = (
                new
                if old is None or self.feature_ema <= 0
                else self.feature_ema * old + (1 - self.feature_ema) * new
            )
            self._features[gid] = mixed / max(float(np.linalg.norm(mixed)), 1e-12)
        return {(t.camera, t.track_id): chosen[label] for label, members in clusters.items() for t in members}

    @staticmethod
    def _mean(features: list[np.ndarray | None]) -> np.ndarray:
        mean = np.mean([f for f in features if f is not None], axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)
