"""The detector's score distribution: Otsu's split and whether it lies in a sparse valley (ByteTrack's
adaptive high/low split)."""

from __future__ import annotations

import numpy as np

SCORE_BINS = 50  # histogram resolution of the Otsu split
VALLEY_WIDTH = 0.05  # half-width of the score band around a split whose density is compared
VALLEY_RATIO = 0.5  # a split is a valley when its band is this much sparser than the scores above


def is_score_valley(values: np.ndarray, split: float, lo: float, bins: int = SCORE_BINS) -> bool:
    """Whether ``split`` lies in a sparse valley of the distribution of ``values`` (in [lo, 1])."""
    counts, edges = np.histogram(values, bins=bins, range=(lo, 1.0))
    return is_valley(counts, edges, split)


def is_valley(counts: np.ndarray, edges: np.ndarray, split: float) -> bool:
    """Whether ``split`` lies in a sparse valley of a score histogram.

    Otsu's split separates any distribution in two, but it means "clutter below, vehicles
    above" only when few scores fall near it: the density within ``VALLEY_WIDTH`` of the
    split must be below ``VALLEY_RATIO`` times the mean density above it. Flat score ranges
    (a detector that spreads its true boxes evenly over 0.5-1.0) fail this test.
    """
    centres = (edges[:-1] + edges[1:]) / 2
    width = edges[1] - edges[0]
    near = np.abs(centres - split) <= VALLEY_WIDTH
    above = centres > split
    if not near.any() or not above.any() or counts[above].sum() == 0:
        return False
    near_density = counts[near].sum() / (near.sum() * width)
    above_density = counts[above].sum() / (above.sum() * width)
    return bool(near_density < VALLEY_RATIO * above_density)


def otsu_threshold(values: np.ndarray, lo: float, hi: float, bins: int = SCORE_BINS) -> float:
    """The split of ``values`` in [lo, hi] that maximises between-class variance (Otsu, 1979).

    With fewer than two values it returns ``hi``.
    """
    if len(values) < 2:
        return hi
    return otsu_split(*np.histogram(values, bins=bins, range=(lo, hi)))


def otsu_split(counts: np.ndarray, edges: np.ndarray) -> float:
    """Otsu's split of a histogram (``counts`` per bin, ``edges`` of len(counts) + 1): a bin edge."""
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts)[:-1].astype(np.float64)
    w1 = counts.sum() - w0
    m0 = np.cumsum(counts * centres)[:-1]
    m1 = (counts * centres).sum() - m0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = w0 * w1 * (m0 / w0 - m1 / w1) ** 2
    between = np.nan_to_num(between, nan=-1.0)
    return float(edges[1:-1][int(np.argmax(between))])
