"""OC-SORT's velocity direction consistency, made robust for ByteTrack (``MOT.BYTETRACK.DIRECTION_*``).

A track's direction is the way it moved between two of its *observations* (detector boxes,
not the Kalman state) ``delta`` observations apart, as OC-SORT does with ``delta_t = 3``: one
frame's box jitter then weighs a third as much as over consecutive observations. Two guards
keep the term from hurting where the direction means nothing:

* ``min_move``: a track that moved less than this many box heights over those observations
  (a stopped car, or one crawling at a red light, whose "direction" is box jitter) gets a
  proportionally smaller term, none when it stood still;
* ``keep_gate``: the term re-ranks candidate detections but never turns a pair inside the IoU
  gate into one outside it (OC-SORT gates on IoU alone), so a wrong direction costs at most a
  swap between two plausible boxes, never a lost track.
"""

from __future__ import annotations

import numpy as np

from mot.association import direction_bonus

EPS = 1e-6


def start_history(centres: np.ndarray, delta: int) -> np.ndarray:
    """(N, delta, 2) observation history of new tracks: their first centre repeated."""
    return np.repeat(np.asarray(centres, np.float64)[:, None, :2], delta, axis=1)


def observe(
    history: np.ndarray, centres: np.ndarray, heights: np.ndarray, min_move: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A new observation ``centres`` (N, 2) of tracks with ``history`` (N, delta, 2), oldest first.

    Returns the unit direction from the oldest kept observation to the new one (0 when it did
    not move), its confidence in [0, 1] (the move in box ``heights``, over ``min_move``; 1 when
    ``min_move`` is 0) and the shifted history.
    """
    step = centres - history[:, 0]
    length = np.linalg.norm(step, axis=1)
    moved = length > EPS
    direction = np.where(moved[:, None], step / np.maximum(length, EPS)[:, None], 0.0)
    if min_move > 0:
        confidence = np.clip(length / (min_move * np.maximum(heights, EPS)), 0.0, 1.0)
    else:
        confidence = moved.astype(np.float64)
    shifted = np.concatenate([history[:, 1:], centres[:, None, :]], axis=1)
    return direction, confidence, shifted


def direction_cost(
    cost: np.ndarray,
    threshold: float,
    weight: float,
    direction: np.ndarray,
    confidence: np.ndarray,
    origin: np.ndarray,
    centres: np.ndarray,
    scores: np.ndarray,
    keep_gate: bool,
) -> np.ndarray:
    """``cost`` (N, M) with the direction term of tracks (rows) and detections at ``centres`` (M, 2).

    A detection straight ahead of ``origin`` (the track's oldest kept observation) along
    ``direction`` gains ``weight / 2 x confidence x score``, one behind loses as much. Pairs
    above ``threshold`` stay as they were; with ``keep_gate`` pairs within it stay within it.
    """
    bonus = direction_bonus(direction, origin, centres) * confidence[:, None]
    inside = cost <= threshold
    moved = cost - weight * bonus * np.asarray(scores, np.float64)[None, :]
    if keep_gate:
        moved = np.minimum(moved, threshold * (1 - EPS))
    return np.where(inside, moved, cost)
