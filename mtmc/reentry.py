"""May two tracklets of one camera be one vehicle: the join permission of same-camera pairs.

Two fragments of one camera are joined on one of two kinds of evidence between the fragments
themselves, never through the rest of a cluster (look-alike vehicles pass one camera seconds
apart, and a bridge through another camera proves nothing about them):

* **Continuity** (``continues``): a track cut by an occlusion or a tracker's ID switch resumes
  within a short gap (``ReentryRule.continuity_gap`` seconds) where its motion led: the later
  fragment's first box centre lies within ``continuity_reach`` box sizes of the earlier
  fragment's last centre plus its last velocity times the gap, and the two fragments are each
  other's most similar such partner (``continuations``: a track continues as one track, so when
  a look-alike follows closely and both tracks are cut, position finds the candidates and
  appearance picks one). A look-alike following seconds later enters at the view's edge or
  where the first vehicle stood, not where it was heading, so weak appearance evidence
  (``continuity_min_sim``) suffices.
* **Re-entry** without continuity: appearance at least ``min_sim`` alike; inside an implicit
  window (``MTMC.REENTRY_GAP``, no layout line for the camera) the later fragment must also
  start roughly where the earlier one was heading (``reentry_plausible``, ``REENTRY_REACH``
  box sizes, any gap in the window).

Box size is the square root of the earlier fragment's last box area, so the test reads the
same in every camera and at every depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from mot.tracklet import Tracklet

REENTRY_REACH = 2.0  # box sizes a re-entering fragment may start from the expected spot (any gap)
VELOCITY_FRAMES = 10  # last frames of a fragment its velocity is measured over


@dataclass(frozen=True)
class ReentryRule:
    """What a same-camera pair needs (``MTMC.REENTRY_*`` and ``MTMC.CONTINUITY_*`` keys)."""

    min_sim: float  # appearance needed without continuity: max(MIN_SIM, REENTRY_MIN_SIM)
    continuity_gap: float = 0.0  # seconds; 0 disables the continuity test
    continuity_reach: float = 1.0  # box sizes
    continuity_min_sim: float = -1.0  # appearance needed with continuity

    def with_cap(self, cap: float | None) -> ReentryRule:
        """The rule whose appearance bar (re-entry without continuity) asks at most ``cap``."""
        return self if cap is None else replace(self, min_sim=min(self.min_sim, cap))

    def with_floor(self, floor: float | None) -> ReentryRule:
        """The rule with every same-camera join needing at least ``floor`` (``mtmc.calibration``)."""
        if floor is None:
            return self
        return replace(
            self, min_sim=max(self.min_sim, floor), continuity_min_sim=max(self.continuity_min_sim, floor)
        )


def same_camera_allowed(
    tracklets: Sequence[Tracklet],
    i: np.ndarray,
    j: np.ndarray,
    sims: np.ndarray,
    gaps: np.ndarray,
    explicit: np.ndarray,
    rule: ReentryRule,
) -> np.ndarray:
    """Element-wise for same-camera pairs ``(i, j)``: may they be joined (module docstring).

    ``sims``: exact similarity of each pair; ``gaps``: seconds from the earlier fragment's end to
    the later one's start; ``explicit``: the pair's camera has its own re-entry line.
    """
    ok = sims >= rule.min_sim
    implicit = np.flatnonzero(ok & ~explicit)
    ok[implicit] = reentry_plausible(tracklets, i[implicit], j[implicit])
    if rule.continuity_gap > 0:
        near = np.flatnonzero((sims >= rule.continuity_min_sim) & (gaps > 0) & (gaps <= rule.continuity_gap))
        ok[near] |= continuations(tracklets, i[near], j[near], sims[near], rule.continuity_reach)
    return ok


def continuations(
    tracklets: Sequence[Tracklet], i: np.ndarray, j: np.ndarray, sims: np.ndarray, reach: float
) -> np.ndarray:
    """Element-wise for same-camera pairs: does one fragment continue the other
    (``continuation_miss`` within ``reach``), each being the other's most similar such partner.

    A track continues as one track: when a fragment could continue two earlier ones (a
    look-alike following closely, both tracks cut), position picks the candidates and
    appearance the one (equal similarities: the closer one).
    """
    ordered = [_ordered(tracklets, p, q) for p, q in zip(i.tolist(), j.tolist(), strict=True)]
    miss = np.array([continuation_miss(first, then) for first, then in ordered], np.float64)
    earlier = np.where(tracklets_first(tracklets, i) <= tracklets_first(tracklets, j), i, j)
    later = np.where(earlier == i, j, i)
    near = miss <= reach
    score = np.asarray(sims, np.float64) - 1e-9 * miss  # appearance first, then position
    best_next, best_prev = np.full(len(tracklets), -np.inf), np.full(len(tracklets), -np.inf)
    np.maximum.at(best_next, earlier[near], score[near])
    np.maximum.at(best_prev, later[near], score[near])
    return near & (score >= best_next[earlier]) & (score >= best_prev[later])


def tracklets_first(tracklets: Sequence[Tracklet], rows: np.ndarray) -> np.ndarray:
    """First frame of each tracklet in ``rows``."""
    return np.array([tracklets[r].frames[0] for r in rows.tolist()], np.int64)


def start_gaps(start: np.ndarray, end: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Seconds from the end of the earlier-starting tracklet of each pair to the other's start."""
    later = start[j] >= start[i]
    return np.where(later, start[j] - end[i], start[i] - end[j])


def reentry_plausible(tracklets: Sequence[Tracklet], i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Element-wise for same-camera pairs: does the later fragment start where the earlier one led."""
    out = np.zeros(len(i), bool)
    for k, (p, q) in enumerate(zip(i.tolist(), j.tolist(), strict=True)):
        out[k] = continuation_miss(*_ordered(tracklets, p, q)) <= REENTRY_REACH
    return out


def continues(first: Tracklet, then: Tracklet, gap: float, rule: ReentryRule) -> bool:
    """Whether ``then`` continues ``first`` of the same camera (``gap`` seconds later) by continuity."""
    return 0 < gap <= rule.continuity_gap and continuation_miss(first, then) <= rule.continuity_reach


def continuation_miss(first: Tracklet, then: Tracklet) -> float:
    """How far, in box sizes, ``then`` starts from where ``first`` (ending earlier) was heading.

    The velocity is measured over the last ``VELOCITY_FRAMES`` frames of ``first`` and carried
    over the gap in frames; a stopped vehicle is expected where it stood.
    """
    centres = first.bboxes[:, :2] + first.bboxes[:, 2:] / 2
    back = max(len(centres) - 1 - VELOCITY_FRAMES, 0)
    span = max(float(first.frames[-1] - first.frames[back]), 1.0)
    velocity = (centres[-1] - centres[back]) / span
    gap = float(then.frames[0] - first.frames[-1])
    start = then.bboxes[0, :2] + then.bboxes[0, 2:] / 2
    size = float(np.sqrt(max(first.bboxes[-1, 2] * first.bboxes[-1, 3], 1.0)))
    return float(np.linalg.norm(start - centres[-1] - velocity * gap)) / size


def _ordered(tracklets: Sequence[Tracklet], p: int, q: int) -> tuple[Tracklet, Tracklet]:
    """The pair in order of first frame."""
    first, then = tracklets[p], tracklets[q]
    return (then, first) if first.frames[0] > then.frames[0] else (first, then)
