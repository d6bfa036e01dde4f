"""Stage 2 of the clustering: merging stage-1 clusters through bridges, never through one camera.

Two stage-1 clusters merge (greedily, most similar first, like stage 1) when their linkage
reaches the threshold and every cross pair is possible (``Timeline.possible``) and either
compatible or *bridged*: a member of the merged cluster is compatible with both and lies
between them in time (``Timeline.between``). A cross pair of **one camera** is never
bridged by another camera: it must be linked by a chain of that camera's members, each step
compatible, i.e. inside a re-entry window of the layout (an explicit ``c c min max`` line or
the occlusion-gap bound ``MTMC.REENTRY_GAP``), and ``mtmc.matching`` only keeps such a pair
compatible when the two fragments are at least ``MIN_SIM`` similar themselves. Look-alike
vehicles that pass one camera seconds apart are the case this rules out: a bridge through
another camera proves nothing about them.

Candidates: every merge needs a compatible cross pair (a bridge is compatible with both
sides), so only cluster pairs linked by one are tried. ``complete`` linkage reaches the
threshold only when every member pair is that similar, the compatible one too, so strong
compatible pairs list its candidates exactly. For the others ``mtmc.candidates`` finds the
linked cluster pairs that reach it from a banded index, never listing the millions of linked
pairs: for ``average`` and ``mean_feature`` the linkage is a product of cluster-level vectors,
so a merge whose in-window pairs all fall just below the threshold while its linkage does not
is tried too; for ``single`` the index is on member pairs, so a merge carried by a strong
bridged pair (every compatible pair below the threshold) is tried too.
"""

from __future__ import annotations

import heapq

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from mtmc.candidates import linked_candidates
from mtmc.compatibility import Timeline, TrackletTimes
from mtmc.similarity import DECIMALS, SCREEN_MARGIN, pair_similarities


def stage_two(
    features: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    sims: np.ndarray,
    labels: np.ndarray,
    linkage: str,
    threshold: float,
    timeline: Timeline,
) -> np.ndarray:
    """Greedy merging of the stage-1 clusters ``labels`` under the bridged rule (module docstring)."""
    si, sj = _seed_pairs(features, i, j, sims, labels, linkage, threshold, timeline.times)
    if len(si) == 0:
        return labels
    labels = labels.copy()
    involved = np.isin(labels, np.union1d(labels[si], labels[sj]))
    rows = np.flatnonzero(involved)
    rows = rows[np.argsort(labels[rows], kind="stable")]  # grouped by cluster, ascending inside
    keys, first = np.unique(labels[rows], return_index=True)
    members = dict(zip(keys.tolist(), np.split(rows, first[1:]), strict=True))
    inside = involved[i] & involved[j]
    compat = Neighbours.of(len(labels), i[inside], j[inside])
    # clusters a merged one may join next: screened by linkage, any compatible partner; else strong pairs
    screen = linkage != "complete"
    partners = compat if screen else Neighbours.of(len(labels), si, sj)
    version = dict.fromkeys(members, 0)
    context = (features, compat, timeline, linkage, threshold)
    heap: list[tuple[float, int, int, int, int]] = []
    for x, y in {
        (min(a, b), max(a, b)) for a, b in zip(labels[si].tolist(), labels[sj].tolist(), strict=True)
    }:
        value = bridged_value(members[x], members[y], *context)
        if value is not None:
            heap.append((-value, x, y, 0, 0))
    heapq.heapify(heap)
    while heap:
        _, x, y, version_x, version_y = heapq.heappop(heap)
        if x not in members or y not in members or version[x] != version_x or version[y] != version_y:
            continue
        members[x] = np.union1d(members[x], members.pop(y))
        labels[members[x]] = x
        version[x] += 1
        others = np.unique(labels[partners.of_rows(members[x])])
        others = [o for o in others.tolist() if o != x and o in members]
        if screen:
            others = _screened(features, members, x, others, linkage, threshold)
        for other in others:
            a, b = min(x, other), max(x, other)
            value = bridged_value(members[a], members[b], *context)
            if value is not None:
                heapq.heappush(heap, (-value, a, b, version[a], version[b]))
    return labels


def _seed_pairs(
    features: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    sims: np.ndarray,
    labels: np.ndarray,
    linkage: str,
    threshold: float,
    times: TrackletTimes,
) -> tuple[np.ndarray, np.ndarray]:
    """One compatible tracklet pair per pair of stage-1 clusters that may merge first (module docstring)."""
    if linkage == "complete":
        cross = (labels[i] != labels[j]) & (sims >= threshold - SCREEN_MARGIN)
        si, sj = i[cross], j[cross]
        strong = np.round(pair_similarities(features, si, sj), DECIMALS) >= threshold
        return si[strong], sj[strong]
    bound = threshold - SCREEN_MARGIN
    return linked_candidates(features, i, j, labels, linkage, bound, times.start, times.end)


def _screened(
    features: np.ndarray,
    members: dict[int, np.ndarray],
    x: int,
    others: list[int],
    linkage: str,
    threshold: float,
) -> list[int]:
    """The clusters among ``others`` whose linkage with ``x`` may reach the threshold."""
    if not others:
        return others
    groups = [members[o] for o in others]
    sizes = np.array([len(g) for g in groups], np.float64)
    offsets = np.concatenate([[0], np.cumsum(sizes[:-1])]).astype(np.int64)
    rows = features[np.concatenate(groups)]
    own = features[members[x]]
    if linkage == "single":  # the most similar member pair, one product
        values = np.maximum.reduceat((own @ rows.T).max(axis=0), offsets)
    else:
        sums = np.add.reduceat(rows, offsets, axis=0)  # one pass, no loop
        total = own.sum(axis=0)
        if linkage == "average":
            values = sums @ total / (sizes * len(own))
        else:
            values = sums @ total / (np.linalg.norm(sums, axis=1) * np.linalg.norm(total))
    return [o for o, v in zip(others, values.tolist(), strict=True) if v >= threshold - SCREEN_MARGIN]


def bridged_value(
    mx: np.ndarray,
    my: np.ndarray,
    features: np.ndarray,
    compat: Neighbours,
    timeline: Timeline,
    linkage: str,
    threshold: float,
) -> float | None:
    """Rounded linkage of two clusters if they may merge under the bridged rule, else None."""
    if linkage == "mean_feature":
        sx, sy = features[mx].sum(axis=0), features[my].sum(axis=0)
        value = float(sx @ sy / np.sqrt((sx @ sx) * (sy @ sy)))
    else:
        block = features[mx] @ features[my].T
        value = float(
            block.max() if linkage == "single" else block.min() if linkage == "complete" else block.mean()
        )
    value = round(value, DECIMALS)
    if value < threshold:
        return None
    p, q = np.repeat(mx, len(my)), np.tile(my, len(mx))
    if not timeline.possible(p, q).all():
        return None
    group = np.concatenate([mx, my])
    linked = compat.block(group, group)
    direct = linked[: len(mx), len(mx) :].ravel()
    if direct.all():
        return value
    p, q = p[~direct], q[~direct]
    camera = timeline.times.camera
    same = camera[p] == camera[q]
    if same.any():  # one camera: a chain of re-entries in the layout's window, never another camera
        _, part = connected_components(csr_matrix(linked & (camera[group][:, None] == camera[group])))
        index = {m: k for k, m in enumerate(group.tolist())}
        at_p, at_q = (np.array([index[m] for m in r.tolist()], np.int64) for r in (p[same], q[same]))
        if (part[at_p] != part[at_q]).any():
            return None
        p, q = p[~same], q[~same]
        if len(p) == 0:
            return value
    # a bridge m: compatible with both (so never p or q itself) and between them in time
    bridged = compat.block(group, p) & compat.block(group, q)
    bridged &= timeline.between(group[:, None], p[None, :], q[None, :])
    return value if bridged.any(axis=0).all() else None


class Neighbours:
    """Sorted neighbour lists of an undirected pair list, with block look-ups."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray) -> None:
        self.indptr, self.indices = indptr, indices

    @classmethod
    def of(cls, n: int, i: np.ndarray, j: np.ndarray) -> Neighbours:
        rows, cols = np.concatenate([i, j]), np.concatenate([j, i])
        order = np.lexsort((cols, rows))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
        return cls(indptr, cols[order])

    def of_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.concatenate([self.indices[self.indptr[r] : self.indptr[r + 1]] for r in rows.tolist()])

    def block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(len(rows), len(cols)) bool: is each (row, col) a pair."""
        out = np.zeros((len(rows), len(cols)), bool)
        for r, row in enumerate(rows.tolist()):
            nb = self.indices[self.indptr[row] : self.indptr[row + 1]]
            pos = np.minimum(np.searchsorted(nb, cols), max(len(nb) - 1, 0))
            out[r] = (nb[pos] == cols) if len(nb) else False
        return out
