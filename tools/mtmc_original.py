"""The original vehicle_mtmc's merge rule, emulated for comparisons (``tools/simulate_mtmc.py``).

The original merged two clusters when their linkage reached ``min_sim`` and *any* member pair
was compatible (the project's stage 1 asks for every pair, stage 2 for bridges). Greedy, most
similar pair first, on dense matrices: for simulator-sized inputs only (a few thousand tracklets).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from config.layout import CameraLayout
from mot.tracklet import Tracklet
from mtmc.clustering import lance_williams
from mtmc.compatibility import compatible_pairs, tracklet_times
from mtmc.descriptors import build_descriptors
from mtmc.matching import MatchingOptions
from reid.fusion import FusionOptions


def original_labels(
    tracklets: Sequence[Tracklet], layout: CameraLayout, options: MatchingOptions
) -> np.ndarray:
    """Cluster label of every tracklet (smallest member index) under the any-pair rule."""
    times = tracklet_times(tracklets, layout)
    fusion = FusionOptions(center=options.center, pca_dim=options.pca_dim, color_weight=options.color_weight)
    features = build_descriptors(tracklets, fusion)
    i, j = compatible_pairs(times, layout)[:2]
    return any_pair_greedy(np.asarray(features, np.float64), i, j, options.linkage, options.min_sim)


def any_pair_greedy(
    features: np.ndarray, i: np.ndarray, j: np.ndarray, linkage: str, min_sim: float
) -> np.ndarray:
    """Greedy agglomeration where a merge needs one compatible member pair and linkage >= ``min_sim``."""
    k = len(features)
    values = features @ features.T
    norm2, size = np.ones(k), np.ones(k)
    compat = np.zeros((k, k), bool)
    compat[i, j] = compat[j, i] = True
    labels = np.arange(k)
    link = np.where(compat, values, -np.inf)
    np.fill_diagonal(link, -np.inf)
    while True:
        a, b = np.unravel_index(int(np.argmax(link)), link.shape)
        if link[a, b] < min_sim:
            return labels
        a, b = min(a, b), max(a, b)
        if linkage == "mean_feature":
            norm2[a] += norm2[b] + 2 * values[a, b]
        values[a] = lance_williams(linkage, values[a], values[b], size[a], size[b])
        values[:, a] = values[a]
        size[a] += size[b]
        labels[labels == b] = a
        compat[a] |= compat[b]
        compat[:, a] = compat[a]
        row = values[a] / np.sqrt(norm2[a] * norm2) if linkage == "mean_feature" else values[a]
        link[b], link[:, b] = -np.inf, -np.inf
        compat[b], compat[:, b] = False, False
        row = np.where(compat[a], row, -np.inf)
        row[a] = -np.inf
        link[a], link[:, a] = row, row
