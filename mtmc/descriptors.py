"""Tracklet descriptors for clustering: the mean ReID feature, post-processed so cosines separate vehicles.

Generic ImageNet features are anisotropic: every vehicle crop shares a large common
component, so two different vehicles already have cosine ~0.7 and a threshold of 0.5 merges
everything. Three optional steps, all fitted on the tracklets of the run itself:

* centring: subtract the mean descriptor of all tracklets, then re-normalise; cosines
  then measure how two vehicles differ from the average vehicle of the scene;
* PCA whitening (``pca_dim`` > 0): project onto the leading principal directions of the
  run's sampled features and scale each to unit variance, so no few directions dominate;
* colour blend (``color_weight`` w): append the square-rooted colour histogram, weighted so
  that the cosine of two descriptors is ``(1 - w) x feature cosine + w x Bhattacharyya
  coefficient`` of their histograms.

Every output row has unit length, so the clustering's cosine machinery applies unchanged.
Tracklets without a feature get a zero row (they cluster with nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from mot.tracklet import Tracklet

log = logging.getLogger(__name__)


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def build_descriptors(
    tracklets: Sequence[Tracklet], center: bool = True, pca_dim: int = 0, color_weight: float = 0.0
) -> np.ndarray:
    """(n, D') float32 unit descriptors, row i for ``tracklets[i]``."""
    dims = {len(t.mean_feature) for t in tracklets if t.mean_feature is not None}
    if len(dims) > 1:
        raise ValueError(
            f"tracklet features of different dimensions {sorted(dims)}: were they made by one ReID model?"
        )
    dim = dims.pop() if dims else 0
    has = np.array([t.mean_feature is not None for t in tracklets], bool)
    feats = np.zeros((len(tracklets), dim))
    if has.any():
        feats[has] = _unit(
            np.stack([t.mean_feature for t in tracklets if t.mean_feature is not None]).astype(np.float64)
        )
    if has.sum() >= 2:
        mean = feats[has].mean(axis=0) if center else np.zeros(dim)
        if center:
            feats[has] = _unit(feats[has] - mean)
        if pca_dim > 0:
            whitened = _whiten(feats[has], _samples(tracklets, mean), pca_dim)
            feats = np.zeros((len(tracklets), whitened.shape[1]))
            feats[has] = whitened
    if color_weight > 0:
        feats = _blend_color(tracklets, feats, has, color_weight)
    return feats.astype(np.float32)


def _samples(tracklets: Sequence[Tracklet], mean: np.ndarray) -> np.ndarray:
    """The run's sampled features (centred like the descriptors), or the means when there are none."""
    rows = [t.features for t in tracklets if len(t.features)]
    if not rows:
        rows = [t.mean_feature[None] for t in tracklets if t.mean_feature is not None]
    return _unit(np.concatenate(rows).astype(np.float64)) - mean


def _whiten(descriptors: np.ndarray, samples: np.ndarray, pca_dim: int) -> np.ndarray:
    centred = samples - samples.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    keep = min(pca_dim, int((singular > singular[0] * 1e-6).sum()), len(samples) - 1)
    if keep < pca_dim:
        log.warning(
            "PCA whitening: %d dimensions asked, the run's %d features support %d",
            pca_dim,
            len(samples),
            keep,
        )
    scale = singular[:keep] / np.sqrt(max(len(samples) - 1, 1))
    return _unit((descriptors @ components[:keep].T) / scale)


def _blend_color(
    tracklets: Sequence[Tracklet], feats: np.ndarray, has: np.ndarray, weight: float
) -> np.ndarray:
    sizes = {len(t.color_histogram) for t in tracklets if t.color_histogram is not None}
    if not sizes:
        log.warning("colour blend asked, but no tracklet has a colour histogram; using features only")
        return feats
    size = max(sizes)
    hist = np.zeros((len(tracklets), size))
    for row, t in enumerate(tracklets):
        if t.color_histogram is not None and len(t.color_histogram) == size:
            hist[row] = np.sqrt(
                np.clip(t.color_histogram, 0, None) / max(float(t.color_histogram.sum()), 1e-12)
            )
    return _unit(np.hstack([np.sqrt(1 - weight) * feats, np.sqrt(weight) * hist]))
