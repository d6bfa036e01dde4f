"""Which tracklets may belong to one vehicle: camera transitions, time windows and physics.

Each tracklet gets global times from its camera's clock: ``t = frame / fps / scale + offset``.
A layout line ``a b min max`` says: a vehicle leaving camera a's view at ``t`` is in camera
b's view at some moment of ``[t + min, t + max]``. So tracklets i (camera a) and j (camera b)
are **compatible** (in window) when the layout allows the transition in one direction or the
other and the later one's *interval* meets the window after the earlier one ends:

    a -> b allowed  and  start_j <= end_i + max_gap[a, b]  and  end_j >= end_i + min_gap[a, b]
    or the same with i and j (and a and b) swapped,

and the pair is physically possible (below). Two cameras that see a vehicle at the same time
for longer than the window (overlapping views, a queue) stay compatible: the later tracklet
may start long before the earlier one ends. Pairs without a layout line are not compatible;
two tracklets of one camera only through an explicit ``c c min max`` line (re-entry).

A pair is **possible** (``Timeline.possible``) unless the layout proves it impossible:

* one camera: the two time ranges overlap (one camera never sees a vehicle twice at once);
* two cameras, using the route bounds ``CameraLayout.route_min`` (shortest sums of ``min``
  over chains of transitions): the later-leaving one leaves earlier than every route allows,
  i.e. neither ``end_j >= end_i + route_min[a, b]`` nor ``end_i >= end_j + route_min[b, a]``
  holds (``inf``: no route at all); or the two ranges overlap in time although no route
  between the cameras has a negative bound (views that never overlap);
* the pair is proven apart by geometry (``mtmc.geometry``: seen at the same moment away from
  where the two views touch).

``compatible_pairs`` finds the compatible pairs without building an n x n matrix: per allowed
camera pair and per duration class of the target camera's tracklets, it sorts start times
and cuts each window out with two binary searches (a target that ends inside the window
starts no earlier than ``end_i + min - longest duration of its class``), then filters, so the
work grows with the number of compatible pairs. ``compatible_matrix`` is the direct n x n
definition, for small inputs and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from config.layout import CameraLayout
from mot.tracklet import Tracklet


@dataclass(frozen=True, eq=False)
class TrackletTimes:
    """Camera and global start/end seconds of each tracklet (rows in tracklet order)."""

    camera: np.ndarray  # (n,) int64
    start: np.ndarray  # (n,) float64
    end: np.ndarray  # (n,) float64

    def __len__(self) -> int:
        return len(self.camera)


@dataclass(frozen=True, eq=False)
class Timeline:
    """Tracklet times with the layout's route bounds: the physics the clustering must respect."""

    times: TrackletTimes
    route_min: np.ndarray  # (C, C) CameraLayout.route_min
    apart: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # sorted i * n + j, i < j

    @classmethod
    def of(
        cls, times: TrackletTimes, layout: CameraLayout, apart: tuple[np.ndarray, np.ndarray] | None = None
    ) -> Timeline:
        """``apart``: pairs known to be two vehicles (``mtmc.geometry.handover_conflicts``)."""
        keys = np.zeros(0, np.int64) if apart is None else np.unique(apart[0] * len(times) + apart[1])
        return cls(times, layout.route_min, keys)

    def proven_apart(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Element-wise: is the pair among the ``apart`` pairs."""
        i, j = np.asarray(i), np.asarray(j)
        keys = np.minimum(i, j) * len(self.times) + np.maximum(i, j)
        pos = np.minimum(np.searchsorted(self.apart, keys), max(len(self.apart) - 1, 0))
        return (self.apart[pos] == keys) if len(self.apart) else np.zeros(np.shape(keys), bool)

    def possible(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Element-wise: may tracklets ``i`` and ``j`` be one vehicle at all (module docstring)."""
        t = self.times
        a, b = t.camera[i], t.camera[j]
        overlap = (t.start[i] <= t.end[j]) & (t.start[j] <= t.end[i])
        forward = t.end[j] >= t.end[i] + self.route_min[a, b]  # route_min inf: no route
        backward = t.end[i] >= t.end[j] + self.route_min[b, a]
        views_overlap = (self.route_min[a, b] < 0) | (self.route_min[b, a] < 0)
        cross = (forward | backward) & (views_overlap | ~overlap)
        return np.where(a == b, ~overlap, cross) & ~self.proven_apart(i, j)

    def between(self, m: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Element-wise: ``m`` neither ends before the first of p, q ends nor starts after the last starts.

        The vehicle is then in m's view at some moment between leaving the first of them and
        entering the last (or throughout the time both are seen), which is what lets m vouch
        for a pair that no window links directly.
        """
        t = self.times
        return (t.end[m] >= np.minimum(t.end[p], t.end[q])) & (
            t.start[m] <= np.maximum(t.start[p], t.start[q])
        )


def tracklet_times(tracklets: Sequence[Tracklet], layout: CameraLayout) -> TrackletTimes:
    camera = np.array([t.camera for t in tracklets], np.int64)
    if len(camera) and (camera.min() < 0 or camera.max() >= layout.n_cams):
        raise ValueError(
            f"tracklet camera {int(camera.max())} is outside the layout's {layout.n_cams} cameras"
        )
    first = np.array([t.start_frame for t in tracklets], np.float64)
    last = np.array([t.end_frame for t in tracklets], np.float64)
    return TrackletTimes(camera, layout.global_time(camera, first), layout.global_time(camera, last))


def in_window(times: TrackletTimes, layout: CameraLayout, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Element-wise: the layout allows camera(i) -> camera(j) and j's interval meets i's window."""
    a, b = times.camera[i], times.camera[j]
    return (
        layout.allowed[a, b]
        & (times.start[j] <= times.end[i] + layout.max_gap[a, b])
        & (times.end[j] >= times.end[i] + layout.min_gap[a, b])
    )


def compatible_matrix(times: TrackletTimes, layout: CameraLayout) -> np.ndarray:
    """(n, n) bool, symmetric, false on the diagonal: the definition, applied to every pair."""
    n = len(times)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    forward = in_window(times, layout, i, j)
    both = (forward | forward.T) & Timeline.of(times, layout).possible(i, j)
    np.fill_diagonal(both, False)
    return both


@dataclass(frozen=True)
class LayoutPairs:
    """A layout's verdict on every pair of T tracklets, for code left of mtmc (the pseudo-labels of
    ReID training): called with (camera index, start, end) on the layout's clock, it returns
    ``(allowed, possible)``, (T, T) bool: inside a transition window, and not ruled out as one vehicle."""

    layout: CameraLayout

    def __call__(
        self, camera: np.ndarray, start: np.ndarray, end: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        times = TrackletTimes(camera, start, end)
        i, j = np.meshgrid(np.arange(len(camera)), np.arange(len(camera)), indexing="ij")
        return compatible_matrix(times, self.layout), Timeline.of(times, self.layout).possible(i, j)


def compatible_pairs(
    times: TrackletTimes, layout: CameraLayout, features: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    """Every compatible pair once, as index arrays ``(i, j)`` (order unspecified).

    With ``features`` (n, D), unit rows, also returns each pair's cosine similarity (float32, for
    screening: ``mtmc.clustering`` recomputes the values that decide merges). The pairs of
    one transition form a band when sources are sorted by end time and targets by start time,
    so the similarities are computed as small dense matrix products along that band instead of
    gathering two feature rows per pair. BLAS runs on one thread here: the products are small
    and many, and thread start-up would cost more than it saves (up to 16x slower on a busy
    machine with the default threads).
    """
    with threadpool_limits(1, user_api="blas"):
        return _compatible_pairs(times, layout, features)


def _compatible_pairs(
    times: TrackletTimes, layout: CameraLayout, features: np.ndarray | None
) -> tuple[np.ndarray, ...]:
    by_camera = [np.flatnonzero(times.camera == c) for c in range(layout.n_cams)]
    feats = None if features is None else np.ascontiguousarray(features, np.float32)
    routes = layout.route_min
    parts: list[tuple[np.ndarray, ...]] = []
    for a, b in zip(*np.nonzero(layout.allowed), strict=True):
        src = by_camera[a]
        if len(src) == 0:
            continue
        src = src[np.argsort(times.end[src], kind="stable")]
        low, high = layout.min_gap[a, b], layout.max_gap[a, b]
        # in window, j leaves no earlier than low (>= route_min) after i: the pair is possible
        # unless the views never overlap and j appears before i has left (Timeline.possible)
        separate = a != b and routes[a, b] >= 0 and routes[b, a] >= 0
        # a pair inside both windows is found from both directions: keep it from one
        dedupe = bool(layout.allowed[b, a]) and a >= b
        for dst, longest in _duration_classes(by_camera[b], times):
            dst = dst[np.argsort(times.start[dst], kind="stable")]
            starts = times.start[dst]
            lo = np.searchsorted(starts, times.end[src] + low - longest, side="left")
            hi = np.maximum(np.searchsorted(starts, times.end[src] + high, side="right"), lo)
            for block in _band_blocks(lo, hi):
                i, j, sims = _expand(src[block], dst, lo[block], hi[block], feats)
                keep = times.end[j] >= times.end[i] + low
                if separate:
                    keep &= times.start[j] > times.end[i]
                if a == b:  # re-entry: never overlapping in time (so never the same tracklet)
                    keep &= (times.start[j] > times.end[i]) | (times.start[i] > times.end[j])
                if dedupe:
                    reverse = in_window(times, layout, j, i)
                    keep &= ~(reverse & (i > j)) if a == b else ~reverse
                i, j = i[keep], j[keep]
                parts.append((i, j) if sims is None else (i, j, sims[keep]))
    if not parts:
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        return empty if feats is None else (*empty, np.zeros(0, np.float32))
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def _duration_classes(members: np.ndarray, times: TrackletTimes) -> list[tuple[np.ndarray, float]]:
    """Tracklets grouped by duration (powers of eight seconds) with each group's longest duration.

    The window search widens each band by the longest duration among the targets; grouping
    keeps one long tracklet (a parked vehicle) from widening the bands of all the short ones,
    and coarse groups keep the number of searches and matrix products small.
    """
    if len(members) == 0:
        return []
    duration = times.end[members] - times.start[members]
    group = np.ceil(np.log(np.maximum(duration, 1.0)) / np.log(8.0)).astype(np.int64)
    out = []
    for g in np.unique(group):
        rows = members[group == g]
        out.append((rows, float(duration[group == g].max())))
    return out


def _band_blocks(lo: np.ndarray, hi: np.ndarray, max_rows: int = 512) -> list[slice]:
    """Runs of consecutive rows whose column ranges fit in about twice the widest single range."""
    width = max(int((hi - lo).max(initial=0)), 32)
    blocks, r0, n = [], 0, len(lo)
    while r0 < n:
        end = int(np.searchsorted(hi, lo[r0] + 2 * width, side="right"))
        r1 = min(max(end, r0 + 1), r0 + max_rows, n)
        blocks.append(slice(r0, r1))
        r0 = r1
    return blocks


def _expand(
    rows: np.ndarray, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray, features: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """All (row, cols[lo:hi]) pairs of a block of rows, with similarities from one matrix product."""
    counts = hi - lo
    local_row = np.repeat(np.arange(len(rows)), counts)
    col = np.repeat(lo, counts) + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    i, j = rows[local_row], cols[col]
    if features is None or len(i) == 0:
        return i, j, None if features is None else np.zeros(len(i), np.float32)
    c0, c1 = int(lo.min()), int(hi.max())
    block = features[rows] @ features[cols[c0:c1]].T
    return i, j, block[local_row, col - c0]
