"""Stage-two candidates for ``average``, ``mean_feature`` and ``single``: a banded index on linkage.

Stage 2 (``mtmc.bridging``) tries a pair of stage-1 clusters when it is *linked* (some
compatible tracklet pair crosses it: a merge needs one, since a bridge is compatible with
both sides) and its linkage may reach the threshold. For these two linkages the linkage is a
dot product of one vector per cluster:

* ``average``: the mean of the member-pair cosines is ``s_a . s_b / (n_a n_b)`` (``s``: the sum
  of a cluster's unit features, ``n``: its size), exactly, so no pair is visited;
* ``mean_feature``: the cosine of the two mean features is ``s_a . s_b / (|s_a| |s_b|)``.

So the index is on cluster-level vectors. Clusters are ranked by their first start; a
linked pair holds two members whose time ranges are at most ``reach`` apart (the largest gap
between the two ranges of any given pair, which a layout's windows bound however long the
tracklets are), so a cluster meets only the later clusters that start before its members'
last end plus ``reach``: a band, cut in blocks of ``_BLOCK`` rows, each multiplied (float32)
in a staircase of column steps with only the rows whose band reaches each step (so a parked
vehicle's long band does not widen its whole block).
The few cluster pairs that reach the screening bound are then checked for a link by one pass
over the compatible pairs, restricted to tracklets of those clusters. Deduplicating every
linked cluster pair first (millions at 20k tracklets) cost most of stage 2; the result is the
same set.

``single`` linkage is the most similar member pair, whether that pair is compatible or not (a
merge may be carried by a bridged pair while every compatible one falls below the threshold), so
its band is over tracklet rows grouped by their cluster's rank, and a cluster pair is kept when
any of its member pairs reaches the bound.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

_BLOCK = 256  # clusters per matrix product
_CHUNK = 1 << 14  # pairs or rows per pass of a gather (buffers that stay in cache)


def linked_candidates(
    features: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    labels: np.ndarray,
    linkage: str,
    bound: float,
    start: np.ndarray,
    end: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Label pairs ``(a, b)``, ``a < b``, of linked clusters whose linkage reaches ``bound``.

    Args:
        features: (n, D) unit tracklet features.
        i, j: compatible tracklet pairs (any order, each once or more).
        labels: (n,) cluster key of each tracklet (the smallest member's index).
        linkage: ``average``, ``mean_feature`` or ``single``.
        bound: screening bound (the threshold minus a margin: values are float32 here).
        start, end: (n,) time range of each tracklet (seconds); starts rank the clusters.
    Returns:
        Two int64 arrays, sorted by ``(a, b)``.
    """
    keys, member_of = np.unique(labels, return_inverse=True)
    if len(i) == 0 or len(keys) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    first = np.full(len(keys), np.inf)
    last = np.full(len(keys), -np.inf)
    np.minimum.at(first, member_of, start)
    np.maximum.at(last, member_of, end)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(keys), np.int64)
    rank[order] = np.arange(len(keys))
    reach = _pair_gap(start, end, i, j)
    if linkage == "single":
        ra, rb = _strong_members(features, rank[member_of], first[order], last[order], reach, bound)
    else:
        vectors = cluster_vectors(features, rank[member_of], len(keys), linkage)
        ra, rb = _banded_pairs(vectors, first[order], last[order], reach, bound)
    ca, cb = order[ra], order[rb]
    linked = _linked(ca, cb, member_of, i, j, len(keys))
    a, b = keys[ca[linked]], keys[cb[linked]]
    a, b = np.minimum(a, b), np.maximum(a, b)
    by_key = np.lexsort((b, a))
    return a[by_key].astype(np.int64), b[by_key].astype(np.int64)


def cluster_vectors(features: np.ndarray, cluster: np.ndarray, k: int, linkage: str) -> np.ndarray:
    """(k, D) float32 vectors whose dot products are the linkage of two clusters (module docstring)."""
    n = len(cluster)
    assign = csr_matrix((np.ones(n), (cluster, np.arange(n))), shape=(k, n))
    sums = np.asarray(assign @ np.asarray(features, np.float64))
    if linkage == "average":
        scale = np.bincount(cluster, minlength=k).astype(np.float64)
    elif linkage == "mean_feature":
        scale = np.sqrt(np.einsum("kd,kd->k", sums, sums))
    else:
        raise ValueError(f"linkage {linkage!r} is not a product of cluster vectors")
    return (sums / scale[:, None]).astype(np.float32)


def pairs_inside(flagged: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Indices of the pairs ``(i, j)`` whose two ends are ``flagged`` (ascending), for a few flagged
    rows: ``j`` is read only where ``i`` is flagged, in chunks (no whole-length temporaries)."""
    kept = [np.zeros(0, np.int64)]
    for s in range(0, len(i), _CHUNK):
        some = np.flatnonzero(flagged[i[s : s + _CHUNK]]) + s
        kept.append(some[flagged[j[some]]])
    return np.concatenate(kept)


def _strong_members(
    features: np.ndarray, rank: np.ndarray, first: np.ndarray, last: np.ndarray, reach: float, bound: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rank pairs ``r < s`` (``first``, ``last``: per cluster rank) within the band that hold a member
    pair at least ``bound`` similar: the ``single`` linkage, from a banded product of tracklet rows
    (grouped by their cluster's rank), whatever the pair's compatibility."""
    rows = np.argsort(rank, kind="stable")
    owner = rank[rows]
    vectors = np.empty((len(rows), features.shape[1]), np.float32)
    step = _CHUNK // 16
    for k in range(0, len(rows), step):  # no float64 copy of every row
        vectors[k : k + step] = features[rows[k : k + step]]
    r, c = _banded_pairs(vectors, first[owner], last[owner], reach, bound, owner)
    pairs = np.unique(owner[r] * len(first) + owner[c])
    return pairs // len(first), pairs % len(first)


def _pair_gap(start: np.ndarray, end: np.ndarray, i: np.ndarray, j: np.ndarray) -> float:
    """An upper bound on the gap between the time ranges of every given pair (negative: overlap).

    Computed in float32 over chunks of ``_CHUNK`` pairs (small buffers reused in cache: whole-length
    temporaries cost more in first-touch allocation than in arithmetic); each rounding (two casts,
    one difference) is at most one float32 spacing of twice the largest time.
    """
    s, e = start.astype(np.float32), end.astype(np.float32)
    gap = -np.inf
    for k in range(0, len(i), _CHUNK):
        a, b = i[k : k + _CHUNK], j[k : k + _CHUNK]
        after = s[b]
        after -= e[a]
        before = s[a]
        before -= e[b]
        gap = max(gap, float(after.max()), float(before.max()))
    spacing = float(np.spacing(np.float32(2 * max(np.abs(start).max(), np.abs(end).max()))))
    return gap + 3 * spacing


def _banded_pairs(
    vectors: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    reach: float,
    bound: float,
    owner: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rank pairs ``r < s`` with ``first[s] <= last[r] + reach`` and product >= bound (with
    ``owner``, non-decreasing per row: rows of a lower owner with rows of a higher one).

    A linked pair (r, s) holds members a of r and b of s with ``start_b <= end_a + reach``, and
    ``first[s] <= start_b``, ``end_a <= last[r]``. Rows ranked by ``first`` meet contiguous
    runs of columns; each block of ``_BLOCK`` rows is multiplied in a staircase of ``_BLOCK``
    columns at a time, each step with only the rows whose run reaches it, so one long cluster
    does not widen its whole block (at bench_mtmc's 20k tracklets: 16.8M products, against 19.3M
    for one rectangle per block). Pairs past a row's run may be returned too: they are not linked.
    """
    ends = np.searchsorted(first, last + reach, side="right")
    rows, cols = [], []
    for r0 in range(0, len(vectors), _BLOCK):
        by_end = np.argsort(-ends[r0 : r0 + _BLOCK], kind="stable")  # each step's rows: a prefix
        block_ends = ends[r0 + by_end]
        block = vectors[r0 + by_end]
        for c0 in range(r0, int(block_ends[0]), _BLOCK):
            reached = int(np.count_nonzero(block_ends > max(c0, r0 + 1)))
            c1 = min(c0 + _BLOCK, int(block_ends[0]))
            product = block[:reached] @ vectors[c0:c1].T
            r, c = np.nonzero(product >= bound)
            r, c = by_end[r] + r0, c + c0
            upper = c > r if owner is None else owner[c] > owner[r]
            rows.append(r[upper])
            cols.append(c[upper])
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(cols)


def _linked(
    ca: np.ndarray, cb: np.ndarray, member_of: np.ndarray, i: np.ndarray, j: np.ndarray, k: int
) -> np.ndarray:
    """Mask of the cluster pairs ``(ca, cb)`` that a pair ``(i, j)`` crosses."""
    if len(ca) == 0:
        return np.zeros(0, bool)
    flagged = np.zeros(k, bool)
    flagged[ca] = flagged[cb] = True
    tracklet_flagged = flagged[member_of]
    rows = pairs_inside(tracklet_flagged, i, j)
    pa, pb = member_of[i[rows]], member_of[j[rows]]
    crossing = np.unique(np.minimum(pa, pb) * k + np.maximum(pa, pb))
    return np.isin(np.minimum(ca, cb) * k + np.maximum(ca, cb), crossing)
