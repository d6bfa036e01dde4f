"""Cross-camera pseudo-pairs and pseudo-identities from unlabelled tracklets (pure functions on arrays).

Single-camera tracklets teach a ReID model nothing about a change of viewpoint; pairs of tracklets
of *two* cameras that are confidently the same vehicle do. The miner keeps a cross-camera pair only
when all of these hold (the pseudo-label loop of AI City domain-adaptation entries, kept strict
because a wrong pair teaches the model to confuse two vehicles):

* the two are k-reciprocal neighbours across the two cameras: each is among the other's ``k``
  most similar tracklets of the other camera (``k = 1``: mutual nearest neighbours);
* the layout allows it (``allowed``: inside the transition's time window, physically possible);
* one-to-one per camera pair: a tracklet keeps at most one partner in each other camera (greedy
  by similarity);
* its cosine similarity reaches ``min_sim`` and leads every competitor of either tracklet in the
  other camera by at least ``margin`` (an unambiguous match, not the best of several look-alikes).

Pseudo-identities are the connected components of the kept pairs, built like MTMC's clustering
respects its constraints (``mtmc.compatibility.Timeline.possible``): pairs are added from the most
similar down, and a pair that would put two tracklets that may not be one vehicle (two tracklets
of one camera seen at the same moment, ``cannot``) into one identity is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reid.fusion import unit_rows


@dataclass(frozen=True)
class MinerOptions:
    """Thresholds of ``mine_pairs`` (CLI ``--pair-k``, ``--pair-min-sim``, ``--pair-margin``)."""

    k: int = 1
    min_sim: float = 0.3
    margin: float = 0.05

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"pair k {self.k}: expected an integer >= 1")
        if not -1.0 <= self.min_sim <= 1.0 or self.margin < 0:
            raise ValueError(f"pair min_sim {self.min_sim} / margin {self.margin}: expected -1..1 and >= 0")


@dataclass(frozen=True)
class Pairs:
    """Mined pairs ``(i[m], j[m])`` (tracklet rows, i < j) with their cosine similarity."""

    i: np.ndarray
    j: np.ndarray
    sim: np.ndarray

    def __len__(self) -> int:
        return len(self.i)


def tracklet_descriptors(features: np.ndarray, tracklet: np.ndarray, count: int) -> np.ndarray:
    """(count, D) unit mean of the unit crop features of each tracklet (zero rows for empty ones)."""
    sums = np.zeros((count, features.shape[1]))
    np.add.at(sums, tracklet, unit_rows(np.asarray(features, np.float64)))
    return unit_rows(sums)


def mine_pairs(
    descriptors: np.ndarray,
    cameras: np.ndarray,
    options: MinerOptions,
    allowed: np.ndarray | None = None,
) -> Pairs:
    """Confident cross-camera pairs of tracklets (module docstring).

    Args:
        descriptors: (T, D) unit tracklet descriptors (centred per camera by the caller).
        cameras: (T,) camera of each tracklet.
        options: k, similarity floor and lead.
        allowed: (T, T) bool, pairs the layout's time windows allow; None: every cross-camera pair.
    """
    cameras = np.asarray(cameras)
    parts = []
    names = np.unique(cameras)
    for x, a in enumerate(names):
        for b in names[x + 1 :]:
            rows, cols = np.flatnonzero(cameras == a), np.flatnonzero(cameras == b)
            sim = descriptors[rows] @ descriptors[cols].T
            if allowed is not None:
                sim = np.where(allowed[np.ix_(rows, cols)], sim, -np.inf)
            r, c, s = _camera_pair(sim, options)
            parts.append((rows[r], cols[c], s))
    if not parts:
        return Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    i, j, sim = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.lexsort((np.maximum(i, j), np.minimum(i, j)))
    return Pairs(np.minimum(i, j)[order], np.maximum(i, j)[order], sim[order])


def _camera_pair(sim: np.ndarray, options: MinerOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kept (row, col, similarity) of one camera pair's (R, C) similarity matrix."""
    if sim.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    k_row, k_col = min(options.k, sim.shape[1]), min(options.k, sim.shape[0])
    row_kth = -np.partition(-sim, k_row - 1, axis=1)[:, k_row - 1]
    col_kth = -np.partition(-sim, k_col - 1, axis=0)[k_col - 1, :]
    reciprocal = (sim >= row_kth[:, None]) & (sim >= col_kth[None, :]) & np.isfinite(sim)
    r, c = np.nonzero(reciprocal)
    order = np.argsort(-sim[r, c], kind="stable")
    used_r, used_c, kept = set(), set(), []
    for m in order.tolist():  # one-to-one, most similar first
        if r[m] not in used_r and c[m] not in used_c:
            used_r.add(r[m])
            used_c.add(c[m])
            kept.append(m)
    r, c = r[kept], c[kept]
    s = sim[r, c]
    lead = s - np.maximum(_runner_up(sim, r, c, axis=1), _runner_up(sim, r, c, axis=0))
    keep = (s >= options.min_sim) & (lead >= options.margin)
    return r[keep], c[keep], s[keep]


def _runner_up(sim: np.ndarray, r: np.ndarray, c: np.ndarray, axis: int) -> np.ndarray:
    """Best similarity of row r[m] (axis 1) or column c[m] (axis 0) other than (r[m], c[m])."""
    line = sim[r] if axis == 1 else sim[:, c].T
    other = c if axis == 1 else r
    masked = line.copy()
    masked[np.arange(len(other)), other] = -np.inf
    return masked.max(axis=1, initial=-np.inf)


def pseudo_identities(count: int, pairs: Pairs, cannot: np.ndarray | None = None) -> np.ndarray:
    """(count,) identity of each tracklet: the smallest tracklet row of its component.

    Pairs join components from the most similar down (union-find); a pair whose union would hold a
    ``cannot`` pair ((T, T) bool, e.g. two coexisting tracklets of one camera) is skipped.
    """
    parent = np.arange(count)
    members: dict[int, list[int]] = {t: [t] for t in range(count)}

    def root(t: int) -> int:
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = int(parent[t])
        return t

    for m in np.argsort(-pairs.sim, kind="stable").tolist():
        a, b = root(int(pairs.i[m])), root(int(pairs.j[m]))
        if a == b:
            continue
        if cannot is not None and cannot[np.ix_(members[a], members[b])].any():
            continue
        a, b = min(a, b), max(a, b)
        parent[b] = a
        members[a] += members.pop(b)
    return np.array([root(t) for t in range(count)])


def coexisting(cameras: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """(T, T) bool: two tracklets of one camera whose time spans overlap (two vehicles); NaN spans
    (time unknown) never coexist."""
    cameras, start, end = np.asarray(cameras), np.asarray(start, float), np.asarray(end, float)
    overlap = (start[:, None] <= end[None, :]) & (start[None, :] <= end[:, None])
    same = cameras[:, None] == cameras[None, :]
    return same & overlap & ~np.eye(len(cameras), dtype=bool)


def pair_precision(pairs: Pairs, truth: np.ndarray) -> float:
    """Share of mined pairs whose two tracklets show one vehicle (reporting only; NaN when none)."""
    return float(np.mean(truth[pairs.i] == truth[pairs.j])) if len(pairs) else float("nan")


def pair_recall(pairs: Pairs, truth: np.ndarray, cameras: np.ndarray) -> float:
    """Share of the true cross-camera tracklet pairs that were mined (reporting only; NaN when none).

    The true pairs are counted per vehicle from its tracklets per camera: ``((sum n_c)^2 - sum n_c^2) / 2``.
    """
    truth, cameras = np.asarray(truth, str), np.asarray(cameras, str)
    vehicle = np.unique(truth, return_inverse=True)[1]
    camera = np.unique(cameras, return_inverse=True)[1]
    n = np.zeros((vehicle.max(initial=-1) + 1, camera.max(initial=-1) + 1))
    np.add.at(n, (vehicle, camera), 1)
    total = int(((n.sum(axis=1) ** 2 - (n**2).sum(axis=1)) / 2).sum())
    found = int(((truth[pairs.i] == truth[pairs.j]) & (cameras[pairs.i] != cameras[pairs.j])).sum())
    return found / total if total else float("nan")


def multi_camera(labels: np.ndarray, cameras: np.ndarray) -> int:
    """How many identities hold tracklets of two cameras or more."""
    pairs = {(int(label), str(camera)) for label, camera in zip(labels, cameras, strict=True)}
    cameras_of = np.bincount([label for label, _ in pairs], minlength=1)
    return int((cameras_of > 1).sum())
