"""Per-track appearance galleries for DeepSORT's nearest-neighbour cosine metric."""

from __future__ import annotations

import numpy as np


class _Ring:
    """Up to ``budget`` feature rows; the oldest is overwritten first. Capacity grows by doubling."""

    def __init__(self, dim: int, budget: int) -> None:
        self.budget = budget
        self.rows = np.empty((min(8, budget), dim), np.float32)
        self.count = 0  # valid rows
        self.oldest = 0  # once full, the row the next feature replaces

    def add(self, features: np.ndarray) -> None:
        for feature in features[-self.budget :]:
            if self.count < self.budget:
                if self.count == len(self.rows):
                    grown = np.empty((min(2 * self.count, self.budget), self.rows.shape[1]), np.float32)
                    grown[: self.count] = self.rows
                    self.rows = grown
                self.rows[self.count] = feature
                self.count += 1
            else:  # full: overwrite the oldest row
                self.rows[self.oldest] = feature
                self.oldest = (self.oldest + 1) % self.budget

    @property
    def samples(self) -> np.ndarray:
        return self.rows[: self.count]


class FeatureGallery:
    """``NearestNeighborDistanceMetric('cosine', budget)`` of deep_sort: the distance from a track to
    a detection is the smallest cosine distance between the detection and the track's recent features.
    """

    def __init__(self, budget: int = 100) -> None:
        self.budget = budget
        self._galleries: dict[int, _Ring] = {}

    def partial_fit(self, features: np.ndarray, targets: np.ndarray, active_targets: np.ndarray) -> None:
        """Add ``features`` (K, D) of ``targets`` (K,) and forget every track not in ``active_targets``."""
        for target in np.unique(targets):
            ring = self._galleries.get(int(target))
            if ring is None:
                ring = self._galleries[int(target)] = _Ring(features.shape[1], self.budget)
            ring.add(features[targets == target])
        active = {int(a) for a in active_targets}
        self._galleries = {k: v for k, v in self._galleries.items() if k in active}

    def distance(
        self, features: np.ndarray, targets: np.ndarray, needed: np.ndarray | None = None
    ) -> np.ndarray:
        """(len(targets), M) smallest cosine distance from each target's gallery to each feature row.

        ``needed`` (same shape, bool) limits the work to those pairs; the others get +inf.
        Gating by motion first leaves a few candidates per track, so this saves most of the cost.
        """
        features = np.asarray(features, np.float32)
        cost = np.full((len(targets), len(features)), np.inf)
        for row, target in enumerate(targets):
            cols = np.arange(len(features)) if needed is None else np.flatnonzero(needed[row])
            if len(cols):
                samples = self._galleries[int(target)].samples
                cost[row, cols] = 1.0 - (samples @ features[cols].T).max(axis=0)
        return cost

    def reset(self) -> None:
        self._galleries.clear()
