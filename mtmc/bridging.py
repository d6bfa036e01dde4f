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

Linkage over **camera tracks**: for ``single``, ``complete`` and ``average`` the two clusters
are compared through their members grouped by camera, each group's descriptors summed and
normalised (``camera_tracks``): a vehicle's fragments of one camera are one observation cut
in pieces, so they count as the uncut track would, once. (Compared fragment by fragment, a
track cut in two could lose a cross-camera partner that either fragment alone reached: at
noise 1, fragments 0.339 alike with cosines 0.32 and 0.216 to another camera's tracklet
average 0.268, below a MIN_SIM of 0.3, while their track reaches 0.327.) ``mean_feature``
already pools every member.

Candidates: every merge needs a compatible cross pair (a bridge is compatible with both
sides), so only cluster pairs linked by one are tried. ``mtmc.candidates`` finds the linked
cluster pairs that may reach the threshold from a banded index, never listing the millions
of linked pairs, on the clusters' camera tracks: for ``average`` the linkage is the product of
the clusters' mean track descriptors (and for ``mean_feature`` of their mean features), so a
merge whose in-window pairs all fall below the threshold while its linkage does not is tried
too; for ``single`` the index is on tracks, so a merge carried by a strong bridged pair is
tried too, and ``complete`` is screened the same way, by its upper bound.
"""

from __future__ import annotations

import heapq

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from mtmc.candidates import linked_candidates, pairs_inside
from mtmc.compatibility import Timeline, TrackletTimes
from mtmc.similarity import DECIMALS, SCREEN_MARGIN


def stage_two(
    features: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    labels: np.ndarray,
    linkage: str,
    threshold: float,
    timeline: Timeline,
) -> np.ndarray:
    """Greedy merging of the stage-1 clusters ``labels`` under the bridged rule (module docstring)."""
    si, sj = _seed_pairs(features, i, j, labels, linkage, threshold, timeline.times)
    if len(si) == 0:
        return labels
    labels = labels.copy()
    involved = np.isin(labels, np.union1d(labels[si], labels[sj]))
    rows = np.flatnonzero(involved)
    rows = rows[np.argsort(labels[rows], kind="stable")]  # grouped by cluster, ascending inside
    keys, first = np.unique(labels[rows], return_index=True)
    members = dict(zip(keys.tolist(), np.split(rows, first[1:]), strict=True))
    inside = pairs_inside(involved, i, j)
    compat = Neighbours.of(len(labels), i[inside], j[inside])
    camera = timeline.times.camera
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
        others = np.unique(labels[compat.of_rows(members[x])])  # clusters a merged one may join next
        others = [o for o in others.tolist() if o != x and o in members]
        others = _screened(features, camera, members, x, others, linkage, threshold)
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
    labels: np.ndarray,
    linkage: str,
    threshold: float,
    times: TrackletTimes,
) -> tuple[np.ndarray, np.ndarray]:
    """The keys of the linked pairs of stage-1 clusters whose linkage may reach the threshold
    (module docstring): screened on the clusters' camera tracks (``camera_tracks``), by their
    mean product for ``average`` and their most similar pair for ``single`` and ``complete``."""
    bound = threshold - SCREEN_MARGIN
    screen = "average" if linkage == "average" else "single"  # complete: at most its most similar pair
    if linkage == "mean_feature":
        return linked_candidates(features, i, j, labels, linkage, bound, times.start, times.end)
    if not _has_fragments(labels, times.camera):  # every track one tracklet: rows are the tracks
        return linked_candidates(features, i, j, labels, screen, bound, times.start, times.end)
    tracks, owner, track_of = camera_tracks(features, labels, times.camera)
    order = np.argsort(track_of, kind="stable")  # rows grouped by track: one reduce per bound
    first = np.searchsorted(track_of[order], np.arange(len(tracks)))
    start = np.minimum.reduceat(times.start[order], first)
    end = np.maximum.reduceat(times.end[order], first)
    return linked_candidates(tracks, track_of[i], track_of[j], owner, screen, bound, start, end)


def _has_fragments(labels: np.ndarray, camera: np.ndarray) -> bool:
    """Whether some cluster holds two tracklets of one camera (a track cut in fragments)."""
    key, _ = _track_keys(labels, camera)
    return len(np.unique(key)) < len(key)


def _screened(
    features: np.ndarray,
    camera: np.ndarray,
    members: dict[int, np.ndarray],
    x: int,
    others: list[int],
    linkage: str,
    threshold: float,
) -> list[int]:
    """The clusters among ``others`` whose linkage with ``x`` may reach the threshold (one product,
    no loop; ``complete`` is screened by its upper bound, the most similar pair of camera tracks)."""
    if not others:
        return others
    groups = [members[o] for o in others]
    sizes = np.array([len(g) for g in groups], np.int64)
    rows = np.concatenate(groups)
    if linkage == "mean_feature":
        sums = np.add.reduceat(features[rows], np.concatenate([[0], np.cumsum(sizes[:-1])]), axis=0)
        total = features[members[x]].sum(axis=0)
        values = sums @ total / (np.linalg.norm(sums, axis=1) * np.linalg.norm(total))
    else:
        own = cluster_tracks(features, camera, members[x])
        owner = np.repeat(np.arange(len(others)), sizes)
        tracks, track_owner, _ = camera_tracks(features[rows], owner, camera[rows])
        offsets = np.searchsorted(track_owner, np.arange(len(others)))
        product = own @ tracks.T  # (x's tracks, the others' tracks)
        if linkage == "average":
            counts = np.diff(np.append(offsets, len(tracks)))
            values = np.add.reduceat(product.mean(axis=0), offsets) / counts
        else:
            values = np.maximum.reduceat(product.max(axis=0), offsets)
    return [o for o, v in zip(others, values.tolist(), strict=True) if v >= threshold - SCREEN_MARGIN]


def camera_tracks(
    features: np.ndarray, owner: np.ndarray, camera: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One descriptor per (owner, camera): the normalised sum of those rows' unit descriptors.

    A cluster's members of one camera are one vehicle's track cut into fragments (they join
    only through re-entry or continuity, ``mtmc.reentry``), so stage 2 compares them as one
    observation, as the uncut track's mean descriptor would be, not as several: a fragment's
    noise then no longer weighs as much as a whole tracklet of another camera.

    Returns the (m, D) float64 track descriptors ordered by (owner, camera), each track's owner,
    and each row's track index.
    """
    key, base = _track_keys(owner, camera)
    keys, first, track_of = np.unique(key, return_index=True, return_inverse=True)
    sums = np.asarray(features[first], np.float64)  # a one-row track is its row
    shared = np.flatnonzero(np.bincount(track_of, minlength=len(keys))[track_of] > 1)
    if len(shared):  # rows of tracks cut in fragments: summed (few rows, so no pass over all)
        sums[track_of[shared]] = 0.0
        np.add.at(sums, track_of[shared], np.asarray(features[shared], np.float64))
    sums /= np.maximum(np.sqrt(np.einsum("ij,ij->i", sums, sums)), 1e-12)[:, None]  # in place: no second copy
    return sums, keys // base, track_of


def _track_keys(owner: np.ndarray, camera: np.ndarray) -> tuple[np.ndarray, int]:
    """One int64 key per (owner, camera), ordered by owner then camera, and the camera base used."""
    base = int(camera.max(initial=0)) + 1
    return np.asarray(owner, np.int64) * base + camera, base


def cluster_tracks(features: np.ndarray, camera: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The camera-track descriptors (``camera_tracks``) of one cluster's member ``rows``."""
    return camera_tracks(features[rows], np.zeros(len(rows), np.int64), camera[rows])[0]


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
    else:  # over the two clusters' camera tracks (``camera_tracks``)
        camera = timeline.times.camera
        tx, ty = (cluster_tracks(features, camera, m) for m in (mx, my))
        block = tx @ ty.T
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
