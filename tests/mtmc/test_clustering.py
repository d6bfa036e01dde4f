"""Clustering equals a plain implementation of the seed's algorithm; compatibility follows the layout."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from config.layout import CameraLayout
from mtmc.clustering import LINKAGES, cluster
from mtmc.compatibility import Timeline, TrackletTimes, compatible_matrix, compatible_pairs


def reference_cluster(
    features: np.ndarray,
    compat: np.ndarray,
    linkage: str,
    min_sim: float,
    possible: np.ndarray | None = None,
    times: TrackletTimes | None = None,
) -> np.ndarray:
    """The two stages written out directly: every step scans every pair of clusters.

    Stage 1 merges while every member pair is compatible. Stage 2 (with ``possible`` and
    ``times``; linkage over the clusters' camera tracks, each camera's members summed and
    normalised) then merges clusters linked by a compatible pair (for every linkage: the
    most similar pair of a ``single`` merge may be a bridged one) whose cross pairs are all
    possible, and compatible or bridged: two
    cameras by a member compatible with both that lies between them in time, one camera by a
    chain of that camera's members, each step compatible.
    """
    sim = features.astype(np.float64) @ features.astype(np.float64).T
    threshold = round(min_sim, 12)
    clusters = {i: [i] for i in range(len(features))}

    def track_features(group: list[int]) -> np.ndarray:  # one normalised sum per camera
        sums = [
            features[[m for m in group if times.camera[m] == c]].astype(np.float64).sum(axis=0)
            for c in sorted({int(times.camera[m]) for m in group})
        ]
        return np.array([v / np.linalg.norm(v) for v in sums])

    def value_of(a: list[int], b: list[int], tracks: bool) -> float:
        if tracks and linkage != "mean_feature":  # stage 2: over the clusters' camera tracks
            pair_sims = (track_features(a) @ track_features(b).T).ravel().tolist()
        else:
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
        return round(value, 12)

    def all_compatible(a: list[int], b: list[int]) -> bool:
        return all(compat[p, q] for p in a for q in b)

    def chained(group: list[int], p: int, q: int) -> bool:
        reached, todo = {p}, [p]
        while todo:
            m = todo.pop()
            for o in group:
                if o not in reached and times.camera[o] == times.camera[p] and compat[m, o]:
                    reached.add(o)
                    todo.append(o)
        return q in reached

    def bridged(a: list[int], b: list[int]) -> bool:
        if not any(compat[p, q] for p in a for q in b):
            return False
        if not all(possible[p, q] for p in a for q in b):
            return False
        group = a + b
        for p in a:
            for q in b:
                if compat[p, q]:
                    continue
                if times.camera[p] == times.camera[q]:
                    if not chained(group, p, q):
                        return False
                    continue
                first_end = min(times.end[p], times.end[q])
                last_start = max(times.start[p], times.start[q])
                if not any(
                    compat[m, p]
                    and compat[m, q]
                    and times.end[m] >= first_end
                    and times.start[m] <= last_start
                    for m in group
                ):
                    return False
        return True

    for mergeable in (all_compatible, bridged) if possible is not None else (all_compatible,):
        while True:
            best = None
            keys = sorted(clusters)
            for x in keys:
                for y in keys:
                    if y <= x or not mergeable(clusters[x], clusters[y]):
                        continue
                    value = value_of(clusters[x], clusters[y], mergeable is bridged)
                    if value >= threshold and (best is None or value > best[0]):
                        best = (value, x, y)
            if best is None:
                break
            _, x, y = best
            clusters[x] += clusters.pop(y)
    labels = np.empty(len(features), np.int64)
    for key, members in clusters.items():
        labels[members] = key
    return labels


def reference_routes(layout: CameraLayout) -> np.ndarray:
    """Smallest sum of min gaps over every walk of 1 to C - 1 transitions, enumerated."""
    n = layout.n_cams
    best = np.full((n, n), np.inf)
    for hops in range(1, n):
        for walk in itertools.product(range(n), repeat=hops + 1):
            steps = list(itertools.pairwise(walk))
            if all(layout.allowed[a, b] for a, b in steps):
                total = sum(layout.min_gap[a, b] for a, b in steps)
                best[walk[0], walk[-1]] = min(best[walk[0], walk[-1]], total)
    return best


def reference_possible(times: TrackletTimes, layout: CameraLayout) -> np.ndarray:
    """Pair by pair: one camera never twice at once; otherwise a route in time, views that may overlap."""
    routes = reference_routes(layout)
    n = len(times)
    out = np.zeros((n, n), bool)
    for p in range(n):
        for q in range(n):
            a, b = times.camera[p], times.camera[q]
            at_once = times.start[p] <= times.end[q] and times.start[q] <= times.end[p]
            if a == b:
                out[p, q] = not at_once
                continue
            in_time = (
                times.end[q] >= times.end[p] + routes[a, b] or times.end[p] >= times.end[q] + routes[b, a]
            )
            may_overlap = routes[a, b] < 0 or routes[b, a] < 0
            out[p, q] = in_time and (may_overlap or not at_once)
    return out


def reference_compatible(times: TrackletTimes, layout: CameraLayout) -> np.ndarray:
    """Pair by pair: the later tracklet's interval meets the window after the earlier one ends."""
    possible = reference_possible(times, layout)
    n = len(times)
    out = np.zeros((n, n), bool)
    for p in range(n):
        for q in range(n):
            if p == q or not possible[p, q]:
                continue
            for x, y in ((p, q), (q, p)):
                a, b = times.camera[x], times.camera[y]
                window = (times.end[x] + layout.min_gap[a, b], times.end[x] + layout.max_gap[a, b])
                if layout.allowed[a, b] and times.start[y] <= window[1] and times.end[y] >= window[0]:
                    out[p, q] = True
    return out


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


def two_stage_reference(
    features: np.ndarray, times: TrackletTimes, layout: CameraLayout, linkage: str, min_sim: float
) -> np.ndarray:
    compat = reference_compatible(times, layout)
    return reference_cluster(features, compat, linkage, min_sim, reference_possible(times, layout), times)


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
    screened = compatible_pairs(times, layout, features)
    sparse = cluster(features, screened, linkage, min_sim, dense_limit=0)
    assert partition(dense) == partition(expected)
    assert partition(sparse) == partition(expected)
    np.testing.assert_array_equal(dense, expected)  # labels are each cluster's smallest index
    # both stages
    expected = two_stage_reference(features, times, layout, linkage, min_sim)
    timeline = Timeline.of(times, layout)
    np.testing.assert_array_equal(cluster(features, pairs, linkage, min_sim, timeline=timeline), expected)
    np.testing.assert_array_equal(
        cluster(features, screened, linkage, min_sim, dense_limit=0, timeline=timeline), expected
    )


@pytest.mark.parametrize("linkage", LINKAGES)
@pytest.mark.parametrize("seed", range(3))
def test_equal_to_the_reference_on_larger_inputs(seed: int, linkage: str) -> None:
    features, times, layout = random_case(seed + 500, n_range=(80, 120))
    compat = compatible_matrix(times, layout)
    expected = reference_cluster(features, compat, linkage, 0.4)
    pairs = compatible_pairs(times, layout)
    np.testing.assert_array_equal(cluster(features, pairs, linkage, 0.4), expected)
    np.testing.assert_array_equal(cluster(features, pairs, linkage, 0.4, dense_limit=0), expected)
    if seed == 0:  # the plain two-stage reference takes seconds at this size
        expected = two_stage_reference(features, times, layout, linkage, 0.4)
        timeline = Timeline.of(times, layout)
        np.testing.assert_array_equal(cluster(features, pairs, linkage, 0.4, timeline=timeline), expected)


@pytest.mark.parametrize("seed", range(30))
def test_compatibility_and_routes_follow_their_definitions(seed: int) -> None:
    _, times, layout = random_case(seed)
    np.testing.assert_array_equal(layout.route_min, reference_routes(layout))
    np.testing.assert_array_equal(compatible_matrix(times, layout), reference_compatible(times, layout))
    n = len(times)
    p, q = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    np.testing.assert_array_equal(
        Timeline.of(times, layout).possible(p, q), reference_possible(times, layout)
    )


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


@pytest.mark.parametrize("seed", range(10))
def test_window_search_with_a_few_very_long_tracklets(seed: int) -> None:
    # parked vehicles: the band of every target duration class is widened only by its own longest
    _, times, layout = random_case(seed, n_range=(30, 60))
    end = times.end.copy()
    end[:: max(1, len(end) // 4)] += 300.0
    times = TrackletTimes(times.camera, times.start, end)
    i, j = compatible_pairs(times, layout)
    found = np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)
    found = found[np.lexsort((found[:, 1], found[:, 0]))]
    np.testing.assert_array_equal(found, np.argwhere(np.triu(compatible_matrix(times, layout))))


def times_of(camera: list[int], start: list[float], end: list[float]) -> TrackletTimes:
    return TrackletTimes(np.array(camera), np.array(start, float), np.array(end, float))


def test_transitions_need_a_layout_line_in_one_direction() -> None:
    allowed = np.array([[False, True], [False, False]])  # only 0 -> 1, in view 2 to 10 s after leaving 0
    layout = layout_of(allowed, np.full((2, 2), 2.0), np.full((2, 2), 10.0))
    times = times_of([0, 1, 1, 1, 1], [0, 13, 11.5, 25, 4], [10, 20, 20, 30, 9])
    compat = compatible_matrix(times, layout)
    # tracks 1 and 2 are in view during [12, 20]; track 3 only from 25 s, after the window
    assert compat[0, 1] and compat[0, 2] and not compat[0, 3]
    # track 4 ends before track 0 starts: that would be 1 -> 0, which has no line
    assert not compat[0, 4]


def test_overlapping_views_longer_than_the_window_stay_compatible() -> None:
    # a queue seen by both cameras for a minute; camera 1 ends at most 4 s before camera 0
    allowed = np.array([[False, True], [True, False]])
    lo, hi = np.array([[0, -4.0], [1.0, 0]]), np.array([[0, 1.0], [5.0, 0]])
    layout = layout_of(allowed, lo, hi)
    times = times_of([0, 1, 1], [0, 5, 70], [60, 70, 80])
    compat = compatible_matrix(times, layout)
    assert compat[0, 1]  # camera 1 starts 55 s before camera 0 ends (a start-in-window rule refused it)
    assert not compat[0, 2]  # camera 1 starts 10 s after camera 0 ends: beyond max 1 s
    reverse = times_of([1, 0], [0, 12], [10, 20])  # camera 1 first, camera 0 2 s after: 1 -> 0 window [1, 5]
    assert compatible_matrix(reverse, layout)[0, 1]


def test_views_that_never_overlap_never_see_a_vehicle_at_once() -> None:
    allowed = np.array([[False, True], [False, False]])
    layout = layout_of(allowed, np.full((2, 2), 2.0), np.full((2, 2), 10.0))
    times = times_of([0, 1, 1], [0, 8, 11], [10, 30, 30])
    compat = compatible_matrix(times, layout)
    # track 1 meets the window [12, 20] but is seen from 8 s, while track 0 still is
    assert not compat[0, 1] and compat[0, 2]
    timeline = Timeline.of(times, layout)
    assert timeline.possible(np.array([0, 0]), np.array([1, 2])).tolist() == [False, True]


def test_routes_bound_the_cameras_a_layout_does_not_link() -> None:
    allowed = np.array([[False, True, False], [False, False, True], [False, False, False]])  # 0 -> 1 -> 2
    layout = layout_of(allowed, np.full((3, 3), 2.0), np.full((3, 3), 6.0))
    assert layout.route_min[0, 2] == 4.0 and np.isinf(layout.route_min[2, 0])
    times = times_of([0, 2, 2, 2], [0, 4, 16, 3], [5, 8, 20, 4])
    timeline = Timeline.of(times, layout)
    # camera 2 left 3 s after camera 0: faster than any route (4 s); 15 s after: fine; before: no route back
    assert timeline.possible(np.array([0, 0, 0]), np.array([1, 2, 3])).tolist() == [False, True, False]
    assert not compatible_matrix(times, layout)[0, 2]  # possible, but no window links 0 and 2 directly


def test_a_route_through_a_middle_camera_needs_no_line_of_its_own() -> None:
    allowed = np.array([[False, True, False], [False, False, True], [False, False, False]])  # 0 -> 1 -> 2
    layout = layout_of(allowed, np.full((3, 3), 2.0), np.full((3, 3), 6.0))
    # one vehicle through 0, 1, 2; a look-alike in camera 2 half a minute later
    times = times_of([0, 1, 2, 2], [0, 8, 16, 40], [5, 12, 20, 45])
    features = np.tile([[1.0, 0.0]], (4, 1))
    pairs = compatible_pairs(times, layout)
    assert cluster(features, pairs, "average", 0.5).tolist() == [0, 0, 2, 3]  # stage 1: 0 and 2 not linked
    timeline = Timeline.of(times, layout)
    for linkage in LINKAGES:
        assert cluster(features, pairs, linkage, 0.5, timeline=timeline).tolist() == [0, 0, 0, 3]


def test_fragments_of_one_camera_join_only_through_a_reentry_window() -> None:
    """Another camera seeing the vehicle across a cut proves nothing about two pieces of one camera
    (look-alikes pass one camera seconds apart); a re-entry window (``MTMC.REENTRY_GAP``) does."""
    allowed = ~np.eye(2, dtype=bool)
    layout = layout_of(allowed, np.full((2, 2), -30.0), np.full((2, 2), 30.0))
    features = np.array([[1.0, 0.0], [1.0, 0.0], [0.96, 0.28]])
    # camera 0's tracker cut the vehicle at 10 s; camera 1 sees it from 5 to 15 s
    times = times_of([0, 0, 1], [0, 10.1, 5], [10, 20, 15])
    for gap, expected in ((0.0, [0, 1, 0]), (1.0, [0, 0, 0])):
        windowed = layout.with_reentry_gap(gap)
        timeline = Timeline.of(times, windowed)
        labels = cluster(features, compatible_pairs(times, windowed), "average", 0.5, timeline=timeline)
        assert labels.tolist() == expected
    # a piece back after 3 s: outside a 1 s window even though camera 1 saw the vehicle throughout
    times = times_of([0, 0, 1], [0, 13, 5], [10, 20, 15])
    windowed = layout.with_reentry_gap(1.0)
    timeline = Timeline.of(times, windowed)
    labels = cluster(features, compatible_pairs(times, windowed), "average", 0.5, timeline=timeline)
    assert labels.tolist() == [0, 1, 0]


def test_same_camera_only_with_an_explicit_reentry_line_and_never_overlapping() -> None:
    no_line = layout_of(np.array([[False]]), np.zeros((1, 1)), np.zeros((1, 1)))
    reentry = layout_of(np.array([[True]]), np.array([[60.0]]), np.array([[600.0]]))
    times = times_of([0, 0, 0], [0, 100, 10], [20, 130, 90])
    assert not compatible_matrix(times, no_line).any()
    compat = compatible_matrix(times, reentry)
    assert compat[0, 1]  # back 80 s later
    assert not compat[
        0, 2
    ]  # meets the window but overlaps track 0: one camera never sees a vehicle twice at once
    assert not compat[1, 2]


def route_case(seed: int) -> tuple[np.ndarray, TrackletTimes, CameraLayout, np.ndarray]:
    """Vehicles driving random layouts (overlapping and separate views), some tracks cut in two.

    Each hop follows the layout's window; vehicles whose tracklets break the physics (possible
    with chains of overlapping views) are dropped, so the truth is always a possible clustering.
    """
    rng = np.random.default_rng(seed)
    n_cams = int(rng.integers(3, 5))
    allowed = (rng.random((n_cams, n_cams)) < 0.6) & ~np.eye(n_cams, dtype=bool)
    overlapping = rng.random((n_cams, n_cams)) < 0.4
    lo = np.where(overlapping, rng.uniform(-4, -0.5, (n_cams, n_cams)), rng.uniform(1, 6, (n_cams, n_cams)))
    hi = lo + rng.uniform(4, 15, (n_cams, n_cams))
    layout = layout_of(allowed, lo, hi)
    camera: list[int] = []
    start: list[float] = []
    end: list[float] = []
    vehicle: list[int] = []
    for v in range(int(rng.integers(8, 20))):
        cam, s = int(rng.integers(n_cams)), float(rng.uniform(0, 120))
        visits = [(cam, s, s + float(rng.uniform(1, 10)))]
        for _ in range(int(rng.integers(0, 4))):
            nexts = np.flatnonzero(allowed[cam])
            if len(nexts) == 0:
                break
            nxt = int(rng.choice(nexts))
            seen = visits[-1][2] + float(rng.uniform(lo[cam, nxt], hi[cam, nxt]))
            s = seen - float(rng.uniform(0, 3)) if overlapping[cam, nxt] else seen
            visits.append((nxt, s, seen + float(rng.uniform(0.5, 8))))
            cam = nxt
        pieces = []
        for c, s, e in visits:
            if rng.random() < 0.3:  # the tracker cut this one in two
                cut = float(rng.uniform(s, e))
                pieces += [(c, s, cut), (c, cut + 0.1, e + 0.1)]
            else:
                pieces.append((c, s, e))
        piece_times = times_of(*map(list, zip(*pieces, strict=True)))
        if not reference_possible(piece_times, layout)[~np.eye(len(pieces), dtype=bool)].all():
            continue
        for c, s, e in pieces:
            camera.append(c)
            start.append(s)
            end.append(e)
            vehicle.append(v)
    truth = np.array(vehicle)
    prototypes = rng.normal(size=(truth.max() + 1, 32))
    features = prototypes[truth] + 0.35 * rng.normal(size=(len(truth), 32))
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    return features, times_of(camera, start, end), layout, truth


def identity_f1(labels: np.ndarray, truth: np.ndarray, times: TrackletTimes) -> float:
    """IDF1 with exact boxes: the best one-to-one matching of clusters to vehicles, by seen time."""
    _, pred = np.unique(labels, return_inverse=True)
    weight = np.zeros((pred.max() + 1, truth.max() + 1))
    np.add.at(weight, (pred, truth), times.end - times.start)
    rows, cols = linear_sum_assignment(-weight)
    return float(weight[rows, cols].sum() / weight.sum())


@pytest.mark.parametrize("linkage", LINKAGES)
def test_two_stages_never_lose_to_stage_one_and_never_hold_an_impossible_pair(linkage: str) -> None:
    gains = []
    for seed in range(25):
        features, times, layout, truth = route_case(seed)
        pairs = compatible_pairs(times, layout, features)
        one = cluster(features, pairs, linkage, 0.5)
        two = cluster(features, pairs, linkage, 0.5, timeline=Timeline.of(times, layout))
        possible = reference_possible(times, layout)
        for labels in (one, two):
            for label in np.unique(labels):
                group = np.flatnonzero(labels == label)
                assert possible[np.ix_(group, group)][~np.eye(len(group), dtype=bool)].all(), (seed, group)
        gains.append(identity_f1(two, truth, times) - identity_f1(one, truth, times))
        assert gains[-1] >= -1e-12, (seed, gains[-1])
    assert sum(gains) > 0.1  # stage 2 rejoins routes and fragments stage 1 cannot


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


def test_a_layout_file_with_neighbour_lines_only_joins_a_three_camera_route(tmp_path: Path) -> None:
    from config.layout import parse_layout
    from mot.tracklet import Tracklet
    from mtmc.matching import MatchingOptions, match_tracklets

    path = tmp_path / "layout.txt"
    path.write_text("0 1 2 6\n1 2 2 6\nfps 10 10 10\n", encoding="utf-8")
    layout = parse_layout(path)
    assert layout.route_min[0, 2] == 4.0 and not layout.allowed[0, 2]
    rng = np.random.default_rng(0)
    look = rng.normal(size=16)
    tracklets = []
    for camera, first in ((0, 0), (1, 80), (2, 160)):  # 0-5 s, 8-12 s, 16-20 s
        frames = np.arange(first, first + 41 if camera else 51)
        feature = look + 0.1 * rng.normal(size=16)
        feature = (feature / np.linalg.norm(feature)).astype(np.float32)
        boxes = np.tile(np.float32([10, 10, 50, 40]), (len(frames), 1))
        tracklets.append(
            Tracklet(1, camera, frames, boxes, np.ones(len(frames), np.float32), mean_feature=feature)
        )
    options = MatchingOptions(center=False, camera_norm=False, color_weight=0.0)
    assert len(match_tracklets(tracklets, layout, options, verbose=False).multicam) == 1
    stage_one = MatchingOptions(center=False, camera_norm=False, color_weight=0.0, bridged=False)
    assert len(match_tracklets(tracklets, layout, stage_one, verbose=False).multicam) == 2
