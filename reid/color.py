"""Colour histograms of vehicle crops: a cheap appearance cue that generic ReID features lack.

HSV with 8 hue x 4 saturation x 4 value bins over the central part of the crop (the borders
of a box are mostly road and neighbours), normalised to sum 1. The square root of such a
histogram has unit L2 norm, and the dot product of two square roots is the Bhattacharyya
coefficient, so histograms can be blended into unit descriptors (``mtmc.descriptors``).
"""

from __future__ import annotations

import cv2
import numpy as np

BINS = (8, 4, 4)
HISTOGRAM_SIZE = BINS[0] * BINS[1] * BINS[2]
_SIDE = 32  # crops are shrunk to this size first: the histogram needs no detail
_MARGIN = 0.2  # fraction of width/height cut from each side


def color_histogram(crop: np.ndarray) -> np.ndarray:
    """(128,) float32 HSV histogram of a BGR crop, summing to 1."""
    h, w = crop.shape[:2]
    y0, y1 = int(h * _MARGIN), max(int(h * (1 - _MARGIN)), int(h * _MARGIN) + 1)
    x0, x1 = int(w * _MARGIN), max(int(w * (1 - _MARGIN)), int(w * _MARGIN) + 1)
    small = cv2.resize(crop[y0:y1, x0:x1], (_SIDE, _SIDE), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, list(BINS), [0, 180, 0, 256, 0, 256]).reshape(-1)
    return (hist / max(float(hist.sum()), 1.0)).astype(np.float32)
