"""The batched Kalman filter against a per-track reference, and the assignment solver against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg

from mot.association import GATED, fuse_score, gate, iou_distance, linear_assignment
from mot.kalman import CHI2_95, KalmanBoxFilter, xyah_to_xyxy, xyxy_to_xyah


class ReferenceFilter:
    """One track at a time, written out as in deep_sort's kalman_filter.py (Cholesky solves)."""

    def __init__(self) -> None:
        self.motion = np.eye(8) + np.eye(8, k=4)
        self.update_mat = np.eye(4, 8)
        self.wp, self.wv = 1 / 20, 1 / 160

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = mean[3]
        q = np.diag(
            np.square(
                [self.wp * h, self.wp * h, 1e-2, self.wp * h, self.wv * h, self.wv * h, 1e-5, self.wv * h]
            )
        )
        return self.motion @ mean, self.motion @ cov @ self.motion.T + q

    def project(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = mean[3]
        r = np.diag(np.square([self.wp * h, self.wp * h, 1e-1, self.wp * h]))
        return self.update_mat @ mean, self.update_mat @ cov @ self.update_mat.T + r

    def update(self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        projected, s = self.project(mean, cov)
        chol = scipy.linalg.cho_factor(s, lower=True)
        gain = scipy.linalg.cho_solve(chol, (cov @ self.update_mat.T).T).T
        return mean + (z - projected) @ gain.T, cov - gain @ s @ gain.T

    def gating(self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray) -> np.ndarray:
        projected, s = self.project(mean, cov)
        chol = np.linalg.cholesky(s)
        d = scipy.linalg.solve_triangular(chol, (z - projected).T, lower=True)
        return np.sum(d * d, axis=0)


def test_batched_filter_matches_the_per_track_reference() -> None:
    rng = np.random.default_rng(0)
    kf, ref = KalmanBoxFilter(), ReferenceFilter()
    boxes = np.hstack([rng.uniform(0, 500, (6, 2)), rng.uniform(20, 200, (6, 2))])
    mean, cov = kf.initiate(xyxy_to_xyah(np.hstack([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]])))
    ref_states = [(m.copy(), c.copy()) for m, c in zip(mean, cov, strict=True)]
    for _ in range(5):
        mean, cov = kf.predict(mean, cov)
        ref_states = [ref.predict(m, c) for m, c in ref_states]
        z = mean[:, :4] + rng.normal(0, 3, (6, 4)) * [1, 1, 0.01, 1]
        gating = kf.gating_distance(mean, cov, z)
        for i, (m, c) in enumerate(ref_states):
            np.testing.assert_allclose(gating[i], ref.gating(m, c, z), rtol=1e-9)
        mean, cov = kf.update(mean, cov, z)
        ref_states = [ref.update(m, c, z[i]) for i, (m, c) in enumerate(ref_states)]
    np.testing.assert_allclose(mean, np.stack([m for m, _ in ref_states]), rtol=1e-9)
    np.testing.assert_allclose(cov, np.stack([c for _, c in ref_states]), rtol=1e-9, atol=1e-9)


def test_box_conversions_round_trip_and_gate_table() -> None:
    xyxy = np.array([[10.0, 20.0, 50.0, 100.0]])
    np.testing.assert_allclose(xyxy_to_xyah(xyxy), [[30, 60, 0.5, 80]])
    np.testing.assert_allclose(xyah_to_xyxy(xyxy_to_xyah(xyxy)), xyxy)
    assert CHI2_95[4] == pytest.approx(9.4877, abs=1e-4)


def brute_force(cost: np.ndarray, threshold: float) -> float:
    """Smallest total of matched costs plus threshold/2 per unmatched row or column."""
    n, m = cost.shape
    best = (n + m) * threshold / 2
    for k in range(1, min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                total = (
                    sum(cost[r, c] for r, c in zip(rows, cols, strict=True)) + (n + m - 2 * k) * threshold / 2
                )
                best = min(best, total)
    return best


@pytest.mark.parametrize("seed", range(20))
def test_linear_assignment_is_optimal_with_unmatched_cost(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 5, 2)
    cost = rng.uniform(0, 1, (n, m))
    threshold = 0.6
    matches, rows, cols = linear_assignment(cost, threshold)
    total = cost[matches[:, 0], matches[:, 1]].sum() + (len(rows) + len(cols)) * threshold / 2
    assert total == pytest.approx(brute_force(cost, threshold))
    assert np.all(cost[matches[:, 0], matches[:, 1]] <= threshold)
    assert sorted([*matches[:, 0], *rows]) == list(range(n))
    assert sorted([*matches[:, 1], *cols]) == list(range(m))


def test_gated_pairs_and_empty_inputs() -> None:
    cost = gate(np.array([[0.1, 0.2], [0.3, 0.1]]), np.array([[True, False], [False, False]]))
    assert cost[0, 0] == GATED
    matches, _, _ = linear_assignment(cost, 0.8)
    assert sorted(map(tuple, matches.tolist())) == [(0, 1), (1, 0)]
    matches, rows, cols = linear_assignment(np.zeros((0, 3)), 0.5)
    assert matches.shape == (0, 2) and rows.tolist() == [] and cols.tolist() == [0, 1, 2]


def test_iou_distance_and_score_fusion() -> None:
    tracks = np.array([[0, 0, 10, 10]], float)
    dets = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], float)
    cost = iou_distance(tracks, dets)
    np.testing.assert_allclose(cost, [[0.0, 1 - 50 / 150]])
    np.testing.assert_allclose(fuse_score(cost, [0.5, 1.0]), [[0.5, 1 - 50 / 150]])
