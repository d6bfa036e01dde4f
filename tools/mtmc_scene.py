"""The simulator's scenes: real S02 trajectories, cut like a tracker cuts them, with synthetic
appearance (``tools/simulate_mtmc.py`` describes the model and scores it).

Look-alike groups (vehicles of one model and colour, prototypes correlated at ``rho``) are
dealt either at random (``random``) or to vehicles that follow one another closely through a
camera (``followers``): each enters the view within ``FOLLOW_REACH`` box sizes of where the
vehicle before it entered, and groups are built from the shortest entry delays first. The
second case is the hard one for re-entry rules: with cut tracks, a look-alike's fragment may
start near where another's vanished a moment earlier.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np

from config.layout import CameraLayout
from evaluate.formats import BoxRows, aic_camera_ids
from mot.tracklet import Tracklet

S02_FPS = 10.0
S02_WINDOW = (-20.0, 20.0)
GROUP_SIZE = 4  # vehicles per look-alike group
LOOKALIKES = ("random", "followers")
FOLLOW_REACH = 3.0  # box sizes between the entry points of a vehicle and the one following it


def s02_layout(n_cams: int, fps: float = S02_FPS, window: tuple[float, float] = S02_WINDOW) -> CameraLayout:
    allowed = ~np.eye(n_cams, dtype=bool)
    return CameraLayout(
        np.full(n_cams, fps),
        np.zeros(n_cams),
        np.ones(n_cams),
        allowed,
        np.full((n_cams, n_cams), window[0]),
        np.full((n_cams, n_cams), window[1]),
    )


def trajectories(
    gt: BoxRows, fragment: float, rng: np.random.Generator, cuts: int = 1, cut_gap: int = 0
) -> tuple[list[Tracklet], list[int]]:
    """One tracklet per (vehicle, camera), sometimes cut; returns them and their vehicle ids.

    Each of up to ``cuts`` cuts happens with probability ``fragment`` (a tracker's ID switch)
    and drops up to ``cut_gap`` frames at the cut (the occlusion that caused it).
    """
    tracklets, vehicles = [], []
    order = np.lexsort((gt.frame, gt.track_id, gt.camera))
    keys = np.stack([gt.camera[order], gt.track_id[order]], axis=1)
    starts = np.flatnonzero(np.r_[True, np.any(keys[1:] != keys[:-1], axis=1)])
    for s, e in zip(starts, np.r_[starts[1:], len(order)], strict=True):
        rows = order[s:e]
        for part in _cut(rows, fragment, rng, cuts, cut_gap):
            tracklets.append(
                Tracklet(
                    track_id=len(tracklets) + 1,
                    camera=int(gt.camera[part[0]]),
                    frames=gt.frame[part] - 1,
                    bboxes=gt.xywh[part],
                    scores=np.ones(len(part)),
                )
            )
            vehicles.append(int(gt.track_id[part[0]]))
    return tracklets, vehicles


def _cut(
    rows: np.ndarray, fragment: float, rng: np.random.Generator, cuts: int, gap: int
) -> list[np.ndarray]:
    """Pieces of one trajectory (rows in frame order), each at least two boxes long."""
    pieces = [rows]
    for _ in range(cuts):
        longest = max(range(len(pieces)), key=lambda k: len(pieces[k]))
        rows = pieces[longest]
        if len(rows) < 4 + gap or rng.random() >= fragment:
            continue
        at = int(rng.integers(2, len(rows) - 1 - gap))
        drop = int(rng.integers(0, gap + 1)) if gap else 0
        pieces[longest : longest + 1] = [rows[:at], rows[at + drop :]]
    return pieces


def with_features(
    tracklets: list[Tracklet],
    vehicles: list[int],
    noise: float,
    base_cos: float,
    dim: int,
    rng: np.random.Generator,
    rho: float = 0.0,
    group: int = GROUP_SIZE,
    lookalikes: str = "random",
) -> list[Tracklet]:
    """Synthetic appearance: per-vehicle prototypes (look-alike groups at ``rho``) plus noise."""
    ids = sorted(set(vehicles))
    row = {v: k for k, v in enumerate(ids)}
    groups = (
        follower_groups(tracklets, [row[v] for v in vehicles], group) if lookalikes == "followers" else None
    )
    prototypes = _prototypes(len(ids), base_cos, dim, rng, rho, group, groups)
    out = []
    for t, v in zip(tracklets, vehicles, strict=True):
        f = prototypes[row[v]] + noise * rng.normal(size=dim) / np.sqrt(dim)
        f = (f / np.linalg.norm(f)).astype(np.float32)
        out.append(replace(t, features=f[None], feature_frames=t.frames[:1], mean_feature=f))
    return out


def _prototypes(
    n: int,
    base_cos: float,
    dim: int,
    rng: np.random.Generator,
    rho: float,
    group: int,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Unit prototypes: cosine ``base_cos`` between any two, ``base_cos + (1 - base_cos) rho`` in a group.

    Vehicles are dealt into look-alike groups of ``group`` (same model, same colour) at random,
    or as ``groups`` says; a group shares a direction orthogonal to the common one, weighted
    ``sqrt(rho)``.
    """
    common = rng.normal(size=dim)
    common /= np.linalg.norm(common)
    own = rng.normal(size=(n, dim))
    kinds = -(-n // group) if groups is None else int(groups.max(initial=-1)) + 1
    kind = rng.normal(size=(kinds, dim))
    dealt = rng.permutation(n) // group
    shared = kind[dealt if groups is None else groups]
    own = np.sqrt(rho) * _unit(_orthogonal(shared, common)) + np.sqrt(1 - rho) * _unit(
        _orthogonal(own, common)
    )
    own = _unit(_orthogonal(own, common))
    return np.sqrt(base_cos) * common + np.sqrt(1 - base_cos) * own


def _orthogonal(x: np.ndarray, direction: np.ndarray) -> np.ndarray:
    return x - np.outer(x @ direction, direction)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def scene(
    gt_path: Path,
    gt: BoxRows,
    noise: float,
    fragment: float,
    base_cos: float,
    dim: int,
    seed: int,
    window: tuple[float, float],
    rho: float,
    cuts: int,
    cut_gap: int,
    lookalikes: str = "random",
) -> tuple[list[Tracklet], list[int], CameraLayout]:
    """The seeded tracklets of one setting, their true vehicles and the S02 layout."""
    rng = np.random.default_rng(seed)
    tracklets, vehicles = trajectories(gt, fragment, rng, cuts, cut_gap)
    tracklets = with_features(tracklets, vehicles, noise, base_cos, dim, rng, rho, lookalikes=lookalikes)
    return tracklets, vehicles, s02_layout(len(aic_camera_ids(gt_path)), window=window)


def follower_groups(tracklets: list[Tracklet], rows: list[int], group: int) -> np.ndarray:
    """Look-alike group of each vehicle (``rows``: its index per tracklet): close followers first.

    In each camera, a vehicle follows the one that entered before it when its first box lies
    within ``FOLLOW_REACH`` box sizes of that one's first box. Such pairs join groups (at most
    ``group`` vehicles) in order of their entry delay; vehicles left alone are dealt in order.
    """
    first: dict[tuple[int, int], tuple[int, np.ndarray]] = {}
    for t, v in zip(tracklets, rows, strict=True):
        key = (t.camera, v)
        if key not in first or t.frames[0] < first[key][0]:
            first[key] = (int(t.frames[0]), t.bboxes[0])
    edges = []
    for camera in sorted({c for c, _ in first}):
        entries = sorted((f, v, box) for (c, v), (f, box) in first.items() if c == camera)
        for (f0, v0, b0), (f1, v1, b1) in itertools.pairwise(entries):
            size = float(np.sqrt(max(b0[2] * b0[3], 1.0)))
            if np.linalg.norm((b1[:2] + b1[2:] / 2) - (b0[:2] + b0[2:] / 2)) <= FOLLOW_REACH * size:
                edges.append((f1 - f0, v0, v1))
    n = max(rows, default=-1) + 1
    parent = np.arange(n)
    size_of = np.ones(n, np.int64)
    for _, a, b in sorted(edges):
        ra, rb = _root(parent, a), _root(parent, b)
        if ra != rb and size_of[ra] + size_of[rb] <= group:
            parent[rb], size_of[ra] = ra, size_of[ra] + size_of[rb]
    roots = np.array([_root(parent, v) for v in range(n)])
    alone = np.flatnonzero(size_of[roots] == 1)
    roots[alone] = n + np.arange(len(alone)) // group  # dealt in order, ``group`` at a time
    return np.unique(roots, return_inverse=True)[1]


def _root(parent: np.ndarray, v: int) -> int:
    while parent[v] != v:
        parent[v] = parent[parent[v]]
        v = int(parent[v])
    return int(v)
