"""Stage-two candidates by cluster linkage (``mtmc.candidates``) equal their direct definition.

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
        else:
            sx, sy = fx.sum(axis=0), fy.sum(axis=0)
            out[(x, y)] = float(sx @ sy / np.sqrt((sx @ sx) * (sy @ sy)))
    return out


def assert_same_candidates(
    features: np.ndarray, i: np.ndarray, j: np.ndarray, labels: np.ndarray, linkage: str, bound: float
) -> set[tuple[int, int]]:
    start = np.arange(len(labels), dtype=np.float64)
    return assert_same_candidates_at(features, i, j, labels, linkage, bound, start)


def assert_same_candidates_at(
    features: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    labels: np.ndarray,
    linkage: str,
    bound: float,
    start: np.ndarray,
) -> set[tuple[int, int]]:
    a, b = linked_candidates(features, i, j, labels, linkage, bound, start)
    found = set(zip(a.tolist(), b.tolist(), strict=True))
    assert len(found) == len(a) and (a < b).all()
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
    i, j = np.array([1, 0, 0, 3]), np.array([2, 4, 5, 4])
    for linkage in ("average", "mean_feature"):
        found = assert_same_candidates(features, i, j, labels, linkage, 0.5)
        # A-B linked and alike; A-E: the only compatible pair is 0.3 alike, the linkage is not
        # (average (0.3 + 0.95) / 2); A-C and B-C alike but never linked; A-D and C-D unalike
        assert found == {(0, 2), (0, 5)}


def test_a_long_cluster_meets_a_partner_far_down_the_time_ranking() -> None:
    """Clusters ranked by first start: a cluster seen again late reaches partners many blocks on."""
    rng = np.random.default_rng(0)
    fillers = 700  # singletons, starts 1..999, unalike, linked to the next one
    features = rng.normal(size=(fillers + 3, 256))
    features[-2] = features[-1] = features[-3] + 0.1 * rng.normal(size=256)
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    start = np.concatenate([np.linspace(1, 999, fillers), [0.0, 1000.0, 1010.0]])
    long, late, partner = fillers, fillers + 1, fillers + 2
    labels = np.arange(fillers + 3)
    labels[late] = long  # one cluster seen at 0 s and again at 1000 s
    i = np.concatenate([np.arange(fillers - 1), [late]])
    j = np.concatenate([np.arange(1, fillers), [partner]])
    for linkage in ("average", "mean_feature"):
        found = assert_same_candidates_at(features, i, j, labels, linkage, 0.5, start)
        assert found == {(long, partner)}


@pytest.fixture(scope="module")
def s02(shared: Path) -> tuple[Path, object]:
    path = shared / "data/aic_s02/ground_truth_S02.txt"
    return path, read_aic_ground_truth(path)


@pytest.mark.parametrize(
    ("noise", "rho", "cuts"), [(0.5, 0.5, (0.5, 3, 20)), (0.5, 0.0, (0.2, 1, 0)), (0.25, 0.5, (0.0, 0, 0))]
)
@pytest.mark.parametrize("linkage", ["average", "mean_feature"])
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
    found = assert_same_candidates_at(features, i, j, labels, linkage, min_sim - 1e-4, times.start)
    assert found  # stage 1 leaves look-alike and cut pieces for stage 2 to try
