"""Stage-two candidates by cluster linkage (``mtmc.candidates``) equal their direct definition
(``average``, ``mean_feature`` and ``single``).

The definition: every cluster pair crossed by a compatible pair, deduplicated, its linkage
computed from the member features, kept when it reaches the bound. Stage 2 is deterministic
given these candidates, so equal candidates give an equal partition.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluate.formats import read_aic_ground_truth
from mtmc.candidates import linked_candidates
from mtmc.clustering import cluster
from mtmc.compatibility import compatible_pairs, tracklet_times
from mtmc.descriptors import build_descriptors
from tools.simulate_mtmc import scene

TOLERANCE = 1e-6  # float32 screening: pairs this close to the bound may fall either way


def reference_candidates(
    features: np.ndarray, i: np.ndarray, j: np.ndarray, labels: np.ndarray, linkage: str
) -> dict[tuple[int, int], float]:
    """Linkage of every linked cluster pair, from the members themselves (float64)."""
    cross = labels[i] != labels[j]
    a, b = np.minimum(labels[i], labels[j])[cross], np.maximum(labels[i], labels[j])[cross]
    out = {}
    for x, y in set(zip(a.tolist(), b.tolist(), strict=True)):
        fx, fy = features[labels == x], features[labels == y]
        if linkage == "average":
            out[(x, y)] = float((fx @ fy.T).mean())
        elif linkage == "single":  # any member pair, compatible or not
            out[(x, y)] = float((fx @ fy.T).max())
        else:
            sx, sy = fx.sum(axis=0), fy.sum(axis=0)
            out[(x, y)] = float(sx @ sy / np.sqrt((sx @ sx) * (sy @ sy)))
    return out


def assert_same_candidates(
    features: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray],
    labels: np.ndarray,
    linkage: str,
    bound: float,
    times: tuple[np.ndarray, np.ndarray],
) -> set[tuple[int, int]]:
    """The candidates equal the definition, and are returned once each, sorted, as (smaller, larger)."""
    i, j = pairs
    a, b = linked_candidates(features, i, j, labels, linkage, bound, *times)
    found = set(zip(a.tolist(), b.tolist(), strict=True))
    assert len(found) == len(a) and (a < b).all() and (np.diff(a) >= 0).all()
    values = reference_candidates(features, i, j, labels, linkage)
    clear = {p for p, v in values.items() if abs(v - bound) > TOLERANCE}
    assert found & clear == {p for p in clear if values[p] >= bound}
    assert found <= set(values)  # linked, nothing else
    return found


def test_a_hand_made_case() -> None:
    """Clusters A {0, 1}, B {2}, C {3}, D {4}, E {5}; only the listed pairs are compatible."""
    w = np.sqrt(1 - 0.3**2)
    features = np.array(
        [[1, 0, 0], [0, 1, 0], [0.8, 0.6, 0], [0.6, 0.8, 0], [0, 0, 1], [0.3, w, 0]], np.float64
    )
    labels = np.array([0, 0, 2, 3, 4, 5])
    pairs = np.array([1, 0, 0, 3]), np.array([2, 4, 5, 4])
    start = np.arange(6, dtype=np.float64)
    for linkage in ("average", "mean_feature", "single"):
        found = assert_same_candidates(features, pairs, labels, linkage, 0.5, (start, start + 2))
        # A-B linked and alike; A-E: the only compatible pair is 0.3 alike, the linkage is not
        # (average (0.3 + 0.95) / 2; single: member 1 and E are 0.95 alike, a pair no window
        # links); A-C and B-C alike but never linked; A-D and C-D unalike
        assert found == {(0, 2), (0, 5)}


def test_long_clusters_meet_partners_far_down_the_time_ranking() -> None:
    """A cluster seen again 1000 s later, and a parked vehicle's 25-minute tracklet, both among
    700 short ones: their partners lie blocks of clusters further down the time ranking."""
    rng = np.random.default_rng(0)
    fillers = 700  # singletons, starts 1..999, unalike, each compatible with the next
    features = rng.normal(size=(fillers + 5, 256))
    again, later, partner, parked, after = range(fillers, fillers + 5)
    features[[later, partner]] = features[again] + 0.1 * rng.normal(size=(2, 256))
    features[after] = features[parked] + 0.1 * rng.normal(size=256)
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    start = np.concatenate([np.linspace(1, 999, fillers), [0.0, 1000.0, 1010.0, 5.0, 1502.0]])
    end = start + 1
    end[parked] = 1500.0
    labels = np.arange(fillers + 5)
    labels[later] = again  # one cluster seen at 0 s and again at 1000 s
    i = np.concatenate([np.arange(fillers - 1), [partner, after]])  # either order
    j = np.concatenate([np.arange(1, fillers), [later, parked]])
    for linkage in ("average", "mean_feature", "single"):
        found = assert_same_candidates(features, (i, j), labels, linkage, 0.5, (start, end))
        assert found == {(again, partner), (parked, after)}


@pytest.fixture(scope="module")
def s02(shared: Path) -> tuple[Path, object]:
    path = shared / "data/aic_s02/ground_truth_S02.txt"
    return path, read_aic_ground_truth(path)


@pytest.mark.parametrize(
    ("noise", "rho", "cuts"), [(0.5, 0.5, (0.5, 3, 20)), (0.5, 0.0, (0.2, 1, 0)), (0.25, 0.5, (0.0, 0, 0))]
)
@pytest.mark.parametrize("linkage", ["average", "mean_feature", "single"])
@pytest.mark.parametrize("min_sim", [0.3, 0.5])
def test_equal_to_the_definition_on_real_trajectories(
    s02: tuple, noise: float, rho: float, cuts: tuple, linkage: str, min_sim: float
) -> None:
    """S02 trajectories with look-alikes and cut tracks, stage-1 clusters as stage 2 gets them."""
    path, gt = s02
    tracklets, _, layout = scene(path, gt, noise, cuts[0], 0.7, 256, 0, (-20, 20), rho, *cuts[1:])
    layout = layout.with_reentry_gap(6.0)
    features = np.asarray(build_descriptors(tracklets), np.float64)
    times = tracklet_times(tracklets, layout)
    i, j, sims = compatible_pairs(times, layout, features)
    labels = cluster(features, (i, j, sims), linkage, min_sim)
    bound = min_sim - 1e-4  # as stage 2 screens
    found = assert_same_candidates(features, (i, j), labels, linkage, bound, (times.start, times.end))
    assert found  # stage 1 leaves look-alike and cut pieces for stage 2 to try
