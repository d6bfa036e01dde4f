"""Colour histograms of vehicle crops: a cheap appearance cue that holds across viewpoints.

An HSV histogram (hue x saturation x value bins) over the central part of the crop: the borders of a
box are mostly road, shadow and neighbours, so ``margin`` of the width and height is cut from each side
first. Optionally (``grey_bins`` > 0) pixels too grey or too dark to have a reliable hue go to a separate
histogram of their value alone, so white, grey and black vehicles fall into different bins instead of
spreading over noisy hues. Optionally (``white_balance``) the crop is first white-balanced on its own
border — the road around the vehicle, roughly neutral grey in any camera — so a camera's colour cast
cancels before binning. The histogram sums to 1: its square root has unit L2 norm, and the dot
product of two square roots is the Bhattacharyya coefficient, so histograms blend into unit descriptors
(``reid.fusion``).

The settings come from ``MOT.COLOR_HIST_*`` (``histogram_spec``); the tracker computes the histogram of
every sampled crop with them (``mot.camera``) and ``bench/bench_reid.py`` of every labelled crop, so the
bench measures the pipeline's histogram. How the defaults were chosen: docs/reid.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

_SIDE = 32  # crops are shrunk to this size first: the histogram needs no detail
GREY_SATURATION = 40  # below this saturation (of 255) a pixel is achromatic (grey-level part)
GREY_VALUE = 40  # below this value (of 255) a pixel is too dark for its hue to mean anything


@dataclass(frozen=True)
class HistogramSpec:
    """Bins, region and white balance of the colour histogram (``MOT.COLOR_HIST_*``)."""

    bins: tuple[int, int, int] = (16, 3, 3)
    margin: float = 0.25
    grey_bins: int = 16
    white_balance: bool = False

    @property
    def size(self) -> int:
        """Length of the histogram vector."""
        return self.bins[0] * self.bins[1] * self.bins[2] + self.grey_bins


def histogram_spec(mot: Any) -> HistogramSpec:
    """The histogram settings of a config's ``MOT`` node."""
    return HistogramSpec(
        tuple(int(b) for b in mot.COLOR_HIST_BINS),  # type: ignore[arg-type]
        float(mot.COLOR_HIST_MARGIN),
        int(mot.COLOR_HIST_GREY_BINS),
        bool(mot.COLOR_HIST_WHITE_BALANCE),
    )


def central_region(crop: np.ndarray, margin: float) -> np.ndarray:
    """The crop without ``margin`` of its width and height on each side, shrunk to 32x32."""
    h, w = crop.shape[:2]
    y0, y1 = int(h * margin), max(int(h * (1 - margin)), int(h * margin) + 1)
    x0, x1 = int(w * margin), max(int(w * (1 - margin)), int(w * margin) + 1)
    return cv2.resize(crop[y0:y1, x0:x1], (_SIDE, _SIDE), interpolation=cv2.INTER_AREA)


def border_white_balance(crop: np.ndarray, margin: float) -> np.ndarray:
    """The crop scaled per channel so that the mean colour of its border (outside the central region
    of ``margin``) is grey, brightness kept: a diagonal colour cast of the camera cancels. Unchanged
    when there is no border (margin 0 or a crop too small)."""
    h, w = crop.shape[:2]
    border = np.ones((h, w), bool)
    border[int(h * margin) : int(h * (1 - margin)), int(w * margin) : int(w * (1 - margin))] = False
    if margin <= 0 or not border.any() or border.all():
        return crop
    reference = np.maximum(crop[border].reshape(-1, 3).astype(np.float64).mean(axis=0), 1.0)
    gains = reference.mean() / reference
    return np.clip(crop * gains, 0, 255).astype(np.uint8)


def hsv_bin_index(hsv: np.ndarray, spec: HistogramSpec) -> np.ndarray:
    """(N,) bin of each OpenCV HSV pixel (N, 3): hue in [0, 180), saturation and value in [0, 256).

    Without grey bins: uniform bins of each channel. With them, achromatic pixels (saturation below
    ``GREY_SATURATION`` or value below ``GREY_VALUE``) go to the grey-level bins after the colour
    bins, and the saturation and value bins of the others span only the chromatic range.
    """
    hb, sb, vb = spec.bins
    h, s, v = (hsv[:, i].astype(np.int64) for i in range(3))
    if spec.grey_bins == 0:
        return (h * hb // 180) * sb * vb + (s * sb // 256) * vb + v * vb // 256
    s_bin = np.clip((s - GREY_SATURATION) * sb // (256 - GREY_SATURATION), 0, sb - 1)
    v_bin = np.clip((v - GREY_VALUE) * vb // (256 - GREY_VALUE), 0, vb - 1)
    colour = (h * hb // 180) * sb * vb + s_bin * vb + v_bin
    grey = hb * sb * vb + v * spec.grey_bins // 256
    return np.where((s < GREY_SATURATION) | (v < GREY_VALUE), grey, colour)


def color_histogram(crop: np.ndarray, spec: HistogramSpec = HistogramSpec()) -> np.ndarray:
    """(spec.size,) float32 colour histogram of a BGR crop, summing to 1."""
    if spec.white_balance:
        crop = border_white_balance(crop, spec.margin)
    hsv = cv2.cvtColor(central_region(crop, spec.margin), cv2.COLOR_BGR2HSV).reshape(-1, 3)
    hist = np.bincount(hsv_bin_index(hsv, spec), minlength=spec.size).astype(np.float64)
    return (hist / max(float(hist.sum()), 1.0)).astype(np.float32)
