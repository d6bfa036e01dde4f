"""Clustering equals a plain implementation of the seed's algorithm; compatibility follows the layout."""

from __future__ import annotations

import numpy as np
import pytest

from config.layout import CameraLayout
from mtmc.clustering import LINKAGES, cluster
from mtmc.compatibility import TrackletTimes, compatible_matrix, compatible_pairs


def reference_cluster(features: np.ndarray, compat: np.ndarray, linkage: str, min_sim: float) -> np.ndarray:
    """The seed's greedy merging, written out directly: every step scans every pair of clusters."""
    sim = features.astype(np.float64) @ features.astype(np.float64).T
    clusters = {i: [i] for i in range(len(features))}
    while True:
        best = None
        keys = sorted(clusters)
        for x in keys:
            for y in keys:
                if y <= x:
                    continue
                a, b = clusters[x], clusters[y]
                if not all(compat[p, q] for p in a for q in b):
                    continue
                pair_sims = [sim[p, q] for p in a for q in b]
                if linkage == "single":
                    value = max(pair_sims)
                elif linkage == "complete":
                    value = min(pair_sims)
                elif linkage == "average":
                    value = sum(pair_sims) / len(pair_sims)
                else:
                    ma, mb = features[a].sum(axis=0), features[b].sum(axis=0)
                    value = float(ma @ mb / np.linalg.norm(ma) / np.linalg.norm(mb))
                value = round(value, 12)
                if value >= round(min_sim, 12) and (best is None or value > best[0]):
                    best = (value, x, y)
        if best is None:
            break
        _, x, y = best
        clusters[x] += clusters.pop(y)
    labels = np.empty(len(features), np.int64)
    for key, members in clusters.items():
        labels[members] = key
    return labels


def layout_of(allowed: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> CameraLayout:
    n = len(allowed)
    return CameraLayout(np.full(n, 10.0), np.zeros(n), np.ones(n), allowed, lo, hi)


def random_case(
    seed: int, n_range: tuple[int, int] = (4, 36)
) -> tuple[np.ndarray, TrackletTimes, CameraLayout]:
    """Vehicles seen by several cameras, noisy descriptors with exact duplicates (ties)."""
    rng = np.random.default_rng(seed)
    n_cams = int(rng.integers(2, 5))
    allowed = rng.random((n_cams, n_cams)) < 0.8
    lo = rng.uniform(-5, 3, (n_cams, n_cams))
    hi = lo + rng.uniform(2, 20, (n_cams, n_cams))
    layout = layout_of(allowed, lo, hi)
    n = int(rng.integers(*n_range))
    camera = rng.integers(0, n_cams, n)
    start = rng.uniform(0, 60, n)
    end = start + rng.uniform(0.5, 8, n)
    n_vehicles = max(1, n // 3)
    prototypes = rng.normal(size=(n_vehicles, 8))
    vehicle = rng.integers(0, n_vehicles, n)
    features = prototypes[vehicle] + rng.choice([0.0, 0.3, 0.8]) * rng.normal(size=(n, 8))
    if seed % 2:  # quantised descriptors: many exactly equal similarities
        features = np.round(features)
        features[np.all(features == 0, axis=1), 0] = 1.0
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    return features, TrackletTimes(camera, start, end), layout


def partition(labels: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(labels == label).tolist()) for label in np.unique(labels)}


@pytest.mark.parametrize("linkage", LINKAGES)
@pytest.mark.parametrize("seed", range(40))
def test_equal_to_the_reference_on_random_inputs(seed: int, linkage: str) -> None:
    features, times, layout = random_case(seed)
    compat = compatible_matrix(times, layout)
    min_sim = float(np.random.default_rng(seed + 1000).choice([0.0, 0.3, 0.5, 0.7]))
    expected = reference_cluster(features, compat, linkage, min_sim)
    pairs = compatible_pairs(times, layout)
    dense = cluster(features, pairs, linkage, min_sim)
    # the runner's path: float32 similarities from the window search, graph solver for every component
    sparse = cluster(features, compatible_pairs(times, layout, features), linkage, min_sim, dense_limit=0)
    assert partition(dense) == partition(expected)
    assert partition(sparse) == partition(expected)
    np.testing.assert_array_equal(dense, expected)  # labels are each cluster's smallest index


@pytest.mark.parametrize("linkage", LINKAGES)
@pytest.mark.parametrize("seed", range(3))
def test_equal_to_the_reference_on_larger_inputs(seed: int, linkage: str) -> None:
    features, times, layout = random_case(seed + 500, n_range=(80, 120))
    compat = compatible_matrix(times, layout)
    expected = reference_cluster(features, compat, linkage, 0.4)
    pairs = compatible_pairs(times, layout)
    np.testing.assert_array_equal(cluster(features, pairs, linkage, 0.4), expected)
    np.testing.assert_array_equal(cluster(features, pairs, linkage, 0.4, dense_limit=0), expected)


def test_exact_ties_break_towards_the_smallest_cluster_keys() -> None:
    # four identical descriptors, all compatible: the first merge is (0, 1), then 0 takes 2, then 3
    features = np.tile([[1.0, 0.0]], (4, 1))
    compat = ~np.eye(4, dtype=bool)
    compat[1, 2] = compat[2, 1] = False  # 1 and 2 can never be together
    labels = cluster(features, np.nonzero(np.triu(compat)), "average", 0.5)
    assert labels.tolist() == reference_cluster(features, compat, "average", 0.5).tolist() == [0, 0, 2, 0]


@pytest.mark.parametrize("seed", range(30))
def test_window_search_finds_exactly_the_compatible_pairs(seed: int) -> None:
    _, times, layout = random_case(seed)
    compat = compatible_matrix(times, layout)
    i, j = compatible_pairs(times, layout)
    expected = np.argwhere(np.triu(compat))
    found = np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)
    np.testing.assert_array_equal(found[np.lexsort((found[:, 1], found[:, 0]))], expected)
    features = np.random.default_rng(seed).normal(size=(len(times), 6))
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    i2, j2, sims = compatible_pairs(times, layout, features)
    np.testing.assert_array_equal(i2, i)
    np.testing.assert_array_equal(j2, j)
    np.testing.assert_allclose(sims, np.sum(features[i] * features[j], axis=1), atol=1e-6)


def times_of(camera: list[int], start: list[float], end: list[float]) -> TrackletTimes:
    return TrackletTimes(np.array(camera), np.array(start, float), np.array(end, float))


def test_transitions_need_a_layout_line_in_one_direction() -> None:
    allowed = np.array([[False, True], [False, False]])  # only 0 -> 1, 2 to 10 s later
    layout = layout_of(allowed, np.full((2, 2), 2.0), np.full((2, 2), 10.0))
    times = times_of([0, 1, 1, 1, 1], [0, 13, 11.5, 25, 4], [10, 20, 20, 30, 9])
    compat = compatible_matrix(times, layout)
    # track 1 starts 3 s after track 0 ends: ok; track 2 1.5 s after: too early; track 3: 15 s: too late
    assert compat[0, 1] and not compat[0, 2] and not compat[0, 3]
    # track 4 ends before track 0 starts: that would be 1 -> 0, which has no line
    assert not compat[0, 4]


def test_negative_windows_allow_overlapping_views_and_reverse_direction() -> None:
    allowed = np.array([[False, True], [True, False]])
    lo, hi = np.array([[0, -4.0], [1.0, 0]]), np.array([[0, 1.0], [5.0, 0]])
    layout = layout_of(allowed, lo, hi)
    times = times_of([0, 1, 1], [0, 7, 12], [10, 15, 20])
    compat = compatible_matrix(times, layout)
    assert compat[0, 1]  # camera 1 starts 3 s before camera 0 ends: allowed by min -4
    assert not compat[0, 2]  # 2 s after: beyond max 1 for 0 -> 1; 1 -> 0 would need track 0 later
    reverse = times_of([1, 0], [0, 12], [10, 20])  # camera 1 first, camera 0 2 s after: 1 -> 0 window [1, 5]
    assert compatible_matrix(reverse, layout)[0, 1]


def test_same_camera_only_with_an_explicit_reentry_line_and_never_overlapping() -> None:
    no_line = layout_of(np.array([[False]]), np.zeros((1, 1)), np.zeros((1, 1)))
    reentry = layout_of(np.array([[True]]), np.array([[60.0]]), np.array([[600.0]]))
    times = times_of([0, 0, 0], [0, 100, 30], [20, 130, 90])
    assert not compatible_matrix(times, no_line).any()
    compat = compatible_matrix(times, reentry)
    assert compat[0, 1]  # back 80 s later
    assert not compat[0, 2]  # overlaps track 0 in time: one camera never sees a vehicle twice at once
    assert not compat[1, 2]


def test_scale_and_offset_give_global_times() -> None:
    from mot.tracklet import Tracklet
    from mtmc.compatibility import tracklet_times

    layout = CameraLayout(
        np.array([10.0, 25.0]),
        np.array([0.0, -2.5]),
        np.array([1.0, 2.0]),
        np.eye(2, dtype=bool),
        np.zeros((2, 2)),
        np.ones((2, 2)),
    )
    tracklets = [
        Tracklet(1, 0, [10, 20], np.zeros((2, 4)), [1, 1]),
        Tracklet(1, 1, [100, 150], np.zeros((2, 4)), [1, 1]),
    ]
    times = tracklet_times(tracklets, layout)
    np.testing.assert_allclose(times.start, [1.0, 100 / 25 / 2 - 2.5])
    np.testing.assert_allclose(times.end, [2.0, 150 / 25 / 2 - 2.5])
