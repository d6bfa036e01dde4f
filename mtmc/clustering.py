"""Constrained agglomerative clustering of tracklets into vehicles (global identities).

The algorithm is the seed's greedy one: start with one cluster per tracklet; repeatedly merge
the most similar pair of clusters that may be merged, until no pair reaches ``min_sim``.

* Similarity of two clusters (``linkage``): ``single`` (most similar member pair), ``complete``
  (least similar pair), ``average`` (mean over member pairs), ``mean_feature`` (cosine of the
  clusters' mean descriptors, each the re-normalised mean of its members' unit descriptors).
* **Stage 1: every member pair must be compatible** (in window, ``mtmc.compatibility``). The
  original vehicle_mtmc merged when *any* pair was compatible, which let chains of merges
  build clusters that hold two tracklets of one camera at the same time, or swallow an early
  fragment of another vehicle.
* **Stage 2: bridged pairs** (with a ``Timeline``; ``mtmc.bridging``). The stage-1 clusters
  then merge, by the same greedy rule, when every cross pair is possible (``Timeline.possible``:
  never two places at once, never faster than the layout's routes, never two overlapping tracks
  of one camera, never apart by hand-over geometry) and either compatible or *bridged*: a member
  compatible with both lies between them in time. So a vehicle through cameras 0 -> 1 -> 2 is one
  identity without a 0 -> 2 layout line. Two pieces of one camera join only through that
  camera's re-entry windows, never through another camera (look-alikes pass one camera seconds
  apart). Stage 2's linkage is taken over the clusters' camera tracks (each camera's members
  summed and normalised: a track cut in pieces counts once); since compatible pairs are
  possible, no cluster of either stage holds an impossible pair.
* Ties: values are compared after rounding to 12 decimals (so that different summation orders
  agree); among equal values the pair with the smallest (first, second) cluster keys wins, a
  cluster's key being its smallest tracklet index. The result is then exactly the plain
  algorithm's, which the tests check against a direct implementation.

How it scales: compatible pairs come from time-window searches (never an n x n matrix).
Clusters can only ever merge inside one connected component of a graph of tracklets -- for
``single``, ``complete`` and ``average`` the graph of compatible pairs with similarity >=
``min_sim`` (a merge needs at least one member pair that similar), for ``mean_feature`` the
graph of compatible pairs -- and components do not influence each other, so each is solved
alone: two-tracklet components directly, larger ones on dense matrices with Lance-Williams
updates (one matrix product for their similarities, boolean compatibility matrices, row
updates per merge; components of one size are stacked and merged step by step together, so
the thousands of 3- and 4-tracklet components of a long run cost a few array passes, not a
Python loop each), and the rare huge component on a sparse neighbour graph. Stage 2 screens
linked cluster pairs by their linkage over camera tracks (``mtmc.bridging``) and runs a lazy
priority queue over the few that reach ``min_sim``. BLAS runs on one thread: the products are small and many.
"""

from __future__ import annotations

import heapq
import logging

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components
from threadpoolctl import threadpool_limits

from mtmc.bridging import stage_two
from mtmc.compatibility import Timeline
from mtmc.similarity import DECIMALS, SCREEN_MARGIN, pair_similarities

__all__ = ["LINKAGES", "cluster", "pair_similarities"]

log = logging.getLogger(__name__)

LINKAGES = ("average", "single", "complete", "mean_feature")
DENSE_LIMIT = 3000  # largest component solved on dense k x k matrices
_BATCH_CELLS = 1 << 18  # matrix cells per batch of equal-size components (m * k * k)


def cluster(
    features: np.ndarray,
    pairs: tuple[np.ndarray, ...],
    linkage: str = "average",
    min_sim: float = 0.5,
    dense_limit: int = DENSE_LIMIT,
    timeline: Timeline | None = None,
) -> np.ndarray:
    """Cluster label of every tracklet: the smallest tracklet index of its cluster.

    Args:
        features: (n, D) L2-normalised tracklet descriptors.
        pairs: compatible pairs ``(i, j)`` or ``(i, j, similarity)``, each pair once
            (``mtmc.compatibility.compatible_pairs``). Given similarities (float32 is enough)
            only screen pairs; every value that decides a merge is recomputed in float64.
        linkage: one of ``LINKAGES``.
        min_sim: merging stops when no mergeable pair of clusters is this similar.
        dense_limit: components up to this size use the dense solver, larger ones the graph solver.
        timeline: tracklet times and route bounds; given, stage 2 (bridged merges) follows stage 1.
    """
    if linkage not in LINKAGES:
        raise ValueError(f"unknown linkage {linkage!r}; expected one of {', '.join(LINKAGES)}")
    features = np.asarray(features, np.float64)
    i, j = (np.asarray(p, np.int64) for p in pairs[:2])
    sims = np.asarray(pairs[2]) if len(pairs) > 2 else pair_similarities(features, i, j)
    i, j = np.minimum(i, j), np.maximum(i, j)
    threshold = round(float(min_sim), DECIMALS)
    with threadpool_limits(1, user_api="blas"):  # small products: threads only add start-up time
        labels = _stage_one(features, i, j, sims, linkage, threshold, dense_limit)
        if timeline is not None:
            labels = stage_two(features, i, j, labels, linkage, threshold, timeline)
    return labels


def _stage_one(
    features: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    sims: np.ndarray,
    linkage: str,
    threshold: float,
    dense_limit: int,
) -> np.ndarray:
    """Greedy merging while every member pair of the merged cluster is compatible."""
    n = len(features)
    if linkage == "mean_feature":  # a merge may need no similar member pair: one graph for all
        return _solve_graph(features, i, j, sims, linkage, threshold)
    # screening with a margin, so that float32 similarities never hide a pair at the threshold
    linked = sims >= threshold - SCREEN_MARGIN
    n_comp, comp = connected_components(
        coo_matrix((np.ones(int(linked.sum()), np.int8), (i[linked], j[linked])), shape=(n, n)),
        directed=False,
    )
    labels = np.arange(n)
    # only pairs inside a component matter (for compatibility and for linkage values)
    inside = comp[i] == comp[j]
    i, j, sims = i[inside], j[inside], sims[inside]
    sizes = np.bincount(comp, minlength=n_comp)
    # two-tracklet components: their one edge decides
    pair_of_two = np.flatnonzero(sizes[comp[i]] == 2)
    exact = np.round(pair_similarities(features, i[pair_of_two], j[pair_of_two]), DECIMALS)
    merge = pair_of_two[exact >= threshold]
    labels[j[merge]] = i[merge]
    big = np.flatnonzero(sizes > 2)
    if len(big):
        _solve_components(features, i, j, sims, comp, sizes, big, linkage, threshold, dense_limit, labels)
    return labels


def _solve_components(
    features: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    sims: np.ndarray,
    comp: np.ndarray,
    sizes: np.ndarray,
    big: np.ndarray,
    linkage: str,
    threshold: float,
    dense_limit: int,
    labels: np.ndarray,
) -> None:
    """Write into ``labels`` the clusters of the components ``big`` (pairs ``i, j`` inside them):
    components of equal size in batches on dense matrices, the rare huge one on its graph."""
    order = np.argsort(comp, kind="stable")  # members of each component, ascending
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    local = np.empty(len(comp), np.int64)  # each tracklet's index inside its component
    local[order] = np.arange(len(comp)) - bounds[comp[order]]
    edge_order = np.argsort(comp[i], kind="stable")
    edge_bounds = np.searchsorted(comp[i][edge_order], np.arange(len(sizes) + 1))
    li, lj = local[i], local[j]
    for c in big[sizes[big] > dense_limit].tolist():
        members = order[bounds[c] : bounds[c + 1]]
        rows = edge_order[edge_bounds[c] : edge_bounds[c + 1]]
        log.info("clustering a component of %d tracklets on its neighbour graph", len(members))
        labels[members] = members[
            _solve_graph(features[members], li[rows], lj[rows], sims[rows], linkage, threshold)
        ]
    for batch in _dense_batches(big[sizes[big] <= dense_limit], sizes):
        members = order[bounds[batch][:, None] + np.arange(sizes[batch[0]])]  # (m, k)
        rows = edge_order[_ranges(edge_bounds[batch], edge_bounds[batch + 1])]
        slot = np.repeat(np.arange(len(batch)), np.diff(edge_bounds)[batch])
        compat = np.zeros(members.shape + members.shape[1:], bool)
        compat[slot, li[rows], lj[rows]] = compat[slot, lj[rows], li[rows]] = True
        solved = _solve_dense(features[members], compat, linkage, threshold)
        labels[members] = np.take_along_axis(members, solved, axis=1)


def _dense_batches(components: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
    """Components grouped by size, each group cut so that its (m, k, k) matrices stay small:
    thousands of 3- and 4-tracklet components are then solved in a few array passes, not one
    Python loop each."""
    batches = []
    for k in np.unique(sizes[components]).tolist():
        group = components[sizes[components] == k]
        per_batch = max(1, _BATCH_CELLS // (k * k))
        batches += [group[s : s + per_batch] for s in range(0, len(group), per_batch)]
    return batches


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(lo[c], hi[c])`` over c, without a Python loop."""
    lengths = hi - lo
    offsets = np.repeat(lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return offsets + np.arange(int(lengths.sum()))


# --------------------------------------------------------------------------- dense solver


def _solve_dense(features: np.ndarray, compat: np.ndarray, linkage: str, threshold: float) -> np.ndarray:
    """Greedy merging of m independent components of k tracklets at once: (m, k, D) features and
    (m, k, k) compatibility in, (m, k) local labels out. Each component follows its own merge
    sequence (Lance-Williams row updates); a merge step updates every component still merging."""
    m, k = compat.shape[:2]
    compat = compat.copy()
    sim = features @ features.transpose(0, 2, 1)
    values = sim.copy()  # average/single/complete: linkage; mean_feature: dot product of feature sums
    norm2 = np.ones((m, k))  # mean_feature: squared norm of each cluster's feature sum
    size = np.ones((m, k))
    labels = np.tile(np.arange(k), (m, 1))
    link = np.where(compat, np.round(sim, DECIMALS), -np.inf)
    best_val = link.max(axis=2)
    best_col = link.argmax(axis=2)
    live = np.arange(m)  # components that may still merge
    while True:
        a = np.argmax(best_val[live], axis=1)
        merging = best_val[live, a] >= threshold
        live, a = live[merging], a[merging]
        if len(live) == 0:
            break
        c = live
        b = best_col[c, a]  # b > a: the row of the smaller key holds the smallest tied pair
        if linkage == "mean_feature":
            norm2[c, a] = norm2[c, a] + norm2[c, b] + 2 * values[c, a, b]
        merged = lance_williams(linkage, values[c, a], values[c, b], size[c, a][:, None], size[c, b][:, None])
        values[c, a], values[c, :, a] = merged, merged
        size[c, a] += size[c, b]
        labels[c] = np.where(labels[c] == b[:, None], a[:, None], labels[c])
        compat[c, a] &= compat[c, b]
        compat[c, b], compat[c, :, b] = False, False
        compat[c, :, a] = compat[c, a]
        row = values[c, a] / np.sqrt(norm2[c, a][:, None] * norm2[c]) if linkage == "mean_feature" else merged
        row = np.where(compat[c, a], np.round(row, DECIMALS), -np.inf)
        link[c, a], link[c, :, a] = row, row
        link[c, b], link[c, :, b] = -np.inf, -np.inf
        best_val[c, b] = -np.inf
        val, col = best_val[c], best_col[c]
        stale = ((col == a[:, None]) | (col == b[:, None])) & (val > -np.inf)
        better = (row > val) | ((row == val) & (a[:, None] < col))
        val[better] = row[better]
        col[better] = np.broadcast_to(a[:, None], col.shape)[better]
        stale[np.arange(len(c)), a] = True
        rows = link[c][stale]
        val[stale], col[stale] = rows.max(axis=1), rows.argmax(axis=1)
        best_val[c], best_col[c] = val, col
    return labels


def lance_williams(linkage: str, va: np.ndarray, vb: np.ndarray, na: float, nb: float) -> np.ndarray:
    """Lance-Williams update of a merged cluster's row from its two parts' rows."""
    if linkage == "single":
        return np.maximum(va, vb)
    if linkage == "complete":
        return np.minimum(va, vb)
    if linkage == "average":
        return (na * va + nb * vb) / (na + nb)
    return va + vb  # mean_feature: dot products of feature sums add up


# --------------------------------------------------------------------------- graph solver


def _solve_graph(
    features: np.ndarray, i: np.ndarray, j: np.ndarray, sims: np.ndarray, linkage: str, threshold: float
) -> np.ndarray:
    """The same greedy merging for huge components: a lazy priority queue over cluster pairs.

    Only pairs at or above the threshold are queued. After a merge, the clusters the new one
    may join are found from the tracklet neighbour lists (a cluster qualifies when all of its
    tracklets are compatible with all of the new cluster's), and their linkage values are
    computed from the features with a matrix product; a queued pair is stale once either of
    its clusters has changed since it was queued.
    """
    k = len(features)
    rows, cols = np.concatenate([i, j]).astype(np.int32), np.concatenate([j, i]).astype(np.int32)
    adjacency = csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(k, k))
    del rows, cols
    adjacency.sort_indices()
    indptr, indices = adjacency.indptr, adjacency.indices
    labels = np.arange(k)
    members: list[np.ndarray] = [np.array([m]) for m in range(k)]
    size = np.ones(k)
    version = np.zeros(k, np.int64)
    sums = features.copy()
    norm2 = np.ones(k)
    # the given similarities may be float32: they only screen, the queued values are exact
    screened = sims >= threshold - SCREEN_MARGIN
    exact = np.round(pair_similarities(features, i[screened], j[screened]), DECIMALS)
    linked = exact >= threshold
    heap = [
        (-v, min(a, b), max(a, b), 0, 0)
        for a, b, v in zip(
            i[screened][linked].tolist(), j[screened][linked].tolist(), exact[linked].tolist(), strict=True
        )
    ]
    heapq.heapify(heap)
    while heap:
        _, a, b, version_a, version_b = heapq.heappop(heap)
        if version[a] != version_a or version[b] != version_b or size[a] == 0 or size[b] == 0:
            continue
        if linkage == "mean_feature":
            norm2[a] = norm2[a] + norm2[b] + 2 * float(sums[a] @ sums[b])
        sums[a] += sums[b]
        members[a] = np.concatenate([members[a], members[b]])
        labels[members[b]] = a
        size[a] += size[b]
        size[b] = 0
        version[a] += 1
        for x, value in _candidates(
            a, members[a], labels, size, indptr, indices, features, sums, norm2, linkage
        ):
            if value >= threshold:
                heapq.heappush(heap, (-value, min(a, x), max(a, x), version[min(a, x)], version[max(a, x)]))
    return labels


def _candidates(
    a: int,
    group: np.ndarray,
    labels: np.ndarray,
    size: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    features: np.ndarray,
    sums: np.ndarray,
    norm2: np.ndarray,
    linkage: str,
) -> list[tuple[int, float]]:
    """Clusters fully compatible with cluster ``a`` (tracklets ``group``) and their rounded linkage."""
    rows = sorted((indices[indptr[m] : indptr[m + 1]] for m in group.tolist()), key=len)
    common = rows[0]
    for row in rows[1:]:
        common = np.intersect1d(common, row, assume_unique=True)
    if len(common) == 0:
        return []
    keys = labels[common]
    order = np.argsort(keys, kind="stable")
    common, keys = common[order], keys[order]
    unique, first, counts = np.unique(keys, return_index=True, return_counts=True)
    whole = counts == size[unique]  # every tracklet of the cluster is compatible
    if not whole.any():
        return []
    if linkage == "mean_feature":
        keys_ok = unique[whole]
        values = sums[keys_ok] @ sums[a] / np.sqrt(norm2[keys_ok] * norm2[a])
        return list(zip(keys_ok.tolist(), np.round(values, DECIMALS).tolist(), strict=True))
    pair = features[group] @ features[common].T  # (|a|, candidates' tracklets)
    if linkage == "single":
        per_cluster = np.maximum.reduceat(pair.max(axis=0), first)
    elif linkage == "complete":
        per_cluster = np.minimum.reduceat(pair.min(axis=0), first)
    else:
        per_cluster = np.add.reduceat(pair.sum(axis=0), first) / (len(group) * counts)
    return list(zip(unique[whole].tolist(), np.round(per_cluster[whole], DECIMALS).tolist(), strict=True))
