"""Which tracklets may belong to one vehicle: camera transitions and time windows of the layout.

Each tracklet gets global times from its camera's clock: ``t = frame / fps / scale + offset``.
Tracklets i (camera a) and j (camera b) are compatible when the layout allows the transition
in one direction or the other and the later one starts inside the window after the earlier
one ends:

    a -> b allowed  and  end_i + min_gap[a, b] <= start_j <= end_i + max_gap[a, b]
    or  b -> a allowed  and  end_j + min_gap[b, a] <= start_i <= end_j + max_gap[b, a]

A negative ``min_gap`` lets j start before i ends (overlapping views). Pairs without a layout
line are incompatible. Two tracklets of one camera are compatible only through an explicit
``c c min max`` line (re-entry) and never when their time ranges overlap: one camera never
sees a vehicle twice at once. (The original vehicle_mtmc accepted a window that merely
overlapped the later track; ours asks for its start, as the layout file documents.)

``compatible_pairs`` finds the compatible pairs without building an n x n matrix: for each
allowed camera pair it sorts start times and cuts each window out with a binary search, so
the work grows with the number of compatible pairs. ``compatible_matrix`` is the direct
n x n definition, for small inputs and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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


def tracklet_times(tracklets: Sequence[Tracklet], layout: CameraLayout) -> TrackletTimes:
    camera = np.array([t.camera for t in tracklets], np.int64)
    if len(camera) and (camera.min() < 0 or camera.max() >= layout.n_cams):
        raise ValueError(
            f"tracklet camera {int(camera.max())} is outside the layout's {layout.n_cams} cameras"
        )
    first = np.array([t.start_frame for t in tracklets], np.float64)
    last = np.array([t.end_frame for t in tracklets], np.float64)
    return TrackletTimes(camera, layout.global_time(camera, first), layout.global_time(camera, last))


def compatible_matrix(times: TrackletTimes, layout: CameraLayout) -> np.ndarray:
    """(n, n) bool, symmetric, false on the diagonal: the definition, applied to every pair."""
    a, b = times.camera[:, None], times.camera[None, :]
    forward = layout.allowed[a, b] & (times.start[None, :] >= times.end[:, None] + layout.min_gap[a, b])
    forward &= times.start[None, :] <= times.end[:, None] + layout.max_gap[a, b]
    both = forward | forward.T
    same_camera_overlap = (
        (a == b) & (times.start[:, None] <= times.end[None, :]) & (times.start[None, :] <= times.end[:, None])
    )
    both &= ~same_camera_overlap
    np.fill_diagonal(both, False)
    return both


def compatible_pairs(
    times: TrackletTimes, layout: CameraLayout, features: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    """Every compatible pair once, as index arrays ``(i, j)`` (order unspecified).

    With ``features`` (n, D), unit rows, also returns each pair's cosine similarity (float32, for
    screening: ``mtmc.clustering`` recomputes the values that decide merges). The pairs of
    one transition form a band when sources are sorted by end time and targets by start time,
    so the similarities are computed as small dense matrix products along that band instead of
    gathering two feature rows per pair.
    """
    by_camera = [np.flatnonzero(times.camera == c) for c in range(layout.n_cams)]
    feats = None if features is None else np.ascontiguousarray(features, np.float32)
    parts: list[tuple[np.ndarray, ...]] = []
    for a, b in zip(*np.nonzero(layout.allowed), strict=True):
        src, dst = by_camera[a], by_camera[b]
        if len(src) == 0 or len(dst) == 0:
            continue
        src = src[np.argsort(times.end[src], kind="stable")]
        dst = dst[np.argsort(times.start[dst], kind="stable")]
        starts = times.start[dst]
        lo = np.searchsorted(starts, times.end[src] + layout.min_gap[a, b], side="left")
        hi = np.maximum(np.searchsorted(starts, times.end[src] + layout.max_gap[a, b], side="right"), lo)
        for block in _band_blocks(lo, hi):
            i, j, sims = _expand(src[block], dst, lo[block], hi[block], feats)
            # a pair inside both windows is found from both directions: keep it from one
            reverse = (
                layout.allowed[b, a]
                & (times.start[i] >= times.end[j] + layout.min_gap[b, a])
                & (times.start[i] <= times.end[j] + layout.max_gap[b, a])
            )
            drop = reverse & ((a > b) | ((a == b) & (i > j)))
            if a == b:  # re-entry: never the same track, never overlapping in time
                drop |= (i == j) | ((times.start[i] <= times.end[j]) & (times.start[j] <= times.end[i]))
            i, j = i[~drop], j[~drop]
            sims = None if sims is None else sims[~drop]
            parts.append((i, j) if sims is None else (i, j, sims))
    if not parts:
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        return empty if feats is None else (*empty, np.zeros(0, np.float32))
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


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
