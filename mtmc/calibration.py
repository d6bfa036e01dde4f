"""How alike one vehicle and two vehicles look in this run: a floor and a cap for same-camera joins
taken from the run's own similarities (``MTMC.SAME_CAMERA_FLOOR``, ``MTMC.REENTRY_CAP``).

One absolute bar cannot serve every descriptor: with clean features a vehicle's own fragments are
about 1.0 alike and a look-alike 0.5, with noisy ones the own fragments are 0.2 alike. The run
shows its scale through two samples whose identity is known without ground truth:

* **same vehicle**: cross-camera compatible pairs that are each other's most similar compatible
  tracklet (mutual nearest), almost always one vehicle;
* **different vehicles**: two tracklets of one camera seen at the same moment (one camera never
  sees a vehicle twice at once), each with up to ``COEXISTING_PER_TRACKLET`` tracklets that
  enter while it is in view.

The different-vehicle level is the median of the second sample. The same-vehicle level is the
lower edge of the first: its median less ``SPREADS`` times its spread (the median's distance to
the 10th percentile, scaled to a normal standard deviation), because a mutual-nearest pair is
the most similar of several candidates, so its similarity overstates a vehicle's own fragments
when appearance is noisy. A join of one camera's fragments (continuity or re-entry,
``mtmc.reentry``) must then reach ``floor = different + fraction (same - different)``. A
look-alike that shares a part ρ of a vehicle's own appearance lies about ρ of the way from one
level to the other (its cosine, once the run's mean is taken off, is ρ times the same-vehicle
cosine), so a fraction above ρ keeps it out where appearance is clean (no spread), while noisy
fragments of one vehicle, far below any fixed bar, still pass. For the same reason the
appearance bar of a re-entry without continuity (``max(MIN_SIM, REENTRY_MIN_SIM)``) is capped at
the same-vehicle level: it never asks more than the run shows one vehicle's pairs to reach.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from mtmc.compatibility import TrackletTimes
from mtmc.reentry import ReentryRule
from mtmc.similarity import pair_similarities

log = logging.getLogger(__name__)

COEXISTING_PER_TRACKLET = 8  # later-entering tracklets of its camera sampled per tracklet
MIN_SAMPLE = 10  # pairs each level needs; fewer and neither floor nor cap is set
SPREADS = 3.0  # the same-vehicle level: median of the mutual-nearest similarities less this many spreads
_P10_IN_SPREADS = 1.2816  # a normal distribution's 10th percentile lies this many deviations below its median


@dataclass(frozen=True)
class AppearanceLevels:
    """Similarity of pairs that are one vehicle (lower edge), and of pairs that are two (module docstring)."""

    same: float
    different: float
    same_pairs: int
    different_pairs: int

    def floor(self, fraction: float) -> float:
        """The similarity ``fraction`` of the way from the different-vehicle to the same-vehicle level."""
        return self.different + fraction * (self.same - self.different)


def appearance_levels(
    features: np.ndarray, times: TrackletTimes, i: np.ndarray, j: np.ndarray, sims: np.ndarray
) -> AppearanceLevels | None:
    """The run's two levels from its compatible pairs ``(i, j, sims)``; None if either sample is small.

    ``features``: (n, D) unit descriptors; ``sims``: the pairs' similarities (float32 suffices).
    """
    same = mutual_nearest(times.camera, i, j, sims)
    p, q = coexisting_pairs(times)
    if len(same) < MIN_SAMPLE or len(p) < MIN_SAMPLE:
        return None
    different = pair_similarities(np.asarray(features, np.float64), p, q)
    p10, p50 = np.percentile(same, [10, 50])
    level = float(p50 - SPREADS * (p50 - p10) / _P10_IN_SPREADS)
    return AppearanceLevels(level, float(np.median(different)), len(same), len(p))


def mutual_nearest(camera: np.ndarray, i: np.ndarray, j: np.ndarray, sims: np.ndarray) -> np.ndarray:
    """Similarities of the cross-camera pairs whose two tracklets are each other's most similar
    cross-camera partner (ties count for both)."""
    cross = camera[i] != camera[j]
    i, j, sims = i[cross], j[cross], np.asarray(sims[cross], np.float64)
    best = np.full(len(camera), -np.inf)
    np.maximum.at(best, i, sims)
    np.maximum.at(best, j, sims)
    return sims[(sims >= best[i]) & (sims >= best[j])]


def coexisting_pairs(times: TrackletTimes) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of one camera whose time ranges overlap: each tracklet with up to
    ``COEXISTING_PER_TRACKLET`` tracklets that enter after it (first in order of entry) while it is
    in view. Bounded by n times that number, however long the tracklets are."""
    rows_p, rows_q = [], []
    for c in np.unique(times.camera):
        rows = np.flatnonzero(times.camera == c)
        rows = rows[np.argsort(times.start[rows], kind="stable")]
        start, end = times.start[rows], times.end[rows]
        last = np.searchsorted(start, end, side="right")  # after the last one entering while in view
        for offset in range(1, COEXISTING_PER_TRACKLET + 1):
            k = np.flatnonzero(np.arange(len(rows)) + offset < last)
            rows_p.append(rows[k])
            rows_q.append(rows[k + offset])
    if not rows_p:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows_p), np.concatenate(rows_q)


def calibrated_rule(
    rule: ReentryRule,
    features: np.ndarray,
    times: TrackletTimes,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    fraction: float,
    cap: bool,
    verbose: bool = True,
) -> ReentryRule:
    """``rule`` set to the run's levels: re-entry's appearance bar capped at the same-vehicle level
    (``cap``, where that level is above the different-vehicle one), then every same-camera join
    floored ``fraction`` of the way up (0: no floor). Logged at INFO if ``verbose``, else DEBUG
    (live rounds run every few seconds)."""
    if fraction <= 0 and not cap:
        return rule
    level = logging.INFO if verbose else logging.DEBUG
    levels = appearance_levels(features, times, *pairs)
    if levels is None:
        log.log(level, "same-camera levels: too few mutual-nearest or coexisting pairs in this run; none set")
        return rule
    floor = levels.floor(fraction) if fraction > 0 else None
    ceiling = levels.same if cap and levels.same > levels.different else None
    log.log(
        level,
        "same-camera levels: one vehicle %.3f (%d mutual-nearest pairs), two vehicles %.3f (%d coexisting "
        "pairs); re-entry bar capped at %s, floor %s",
        levels.same,
        levels.same_pairs,
        levels.different,
        levels.different_pairs,
        "-" if ceiling is None else f"{ceiling:.3f}",
        "-" if floor is None else f"{floor:.3f}",
    )
    return rule.with_cap(ceiling).with_floor(floor)
