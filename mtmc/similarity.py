"""Exact pair similarities shared by the clustering stages, and the rounding that makes ties agree."""

from __future__ import annotations

import numpy as np

DECIMALS = 12  # values are compared after rounding, so that different summation orders agree
SCREEN_MARGIN = 1e-4  # pairs this close below the threshold are kept when screening
_CHUNK = 65536


def pair_similarities(features: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Cosine similarity of the unit rows ``features[i]`` and ``features[j]``, in chunks."""
    out = np.empty(len(i))
    for start in range(0, len(i), _CHUNK):
        a, b = features[i[start : start + _CHUNK]], features[j[start : start + _CHUNK]]
        out[start : start + _CHUNK] = np.einsum("nd,nd->n", a, b, dtype=np.float64)
    return out
