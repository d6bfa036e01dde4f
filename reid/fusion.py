"""Fusion of appearance cues into one unit descriptor whose cosine is the similarity MTMC clusters on.

Pure functions on arrays, shared by MTMC (``mtmc.descriptors``, rows = the tracklets of a run) and by
``bench/bench_reid.py`` (rows = the crops of a labelled set), so the bench measures what MTMC uses.
Steps, all fitted on the rows themselves (no training data):

* deep feature, L2-normalised;
* centring: subtract a mean feature, then re-normalise, so cosines measure how a vehicle differs from
  the average one instead of the large component every crop shares. Either the mean of all rows
  (``center``) or, with ``camera_norm``, the mean of the row's own camera, which also removes what a
  camera adds to every vehicle (viewpoint, light, white balance). A camera that sees few vehicles has a
  poor mean (with one vehicle, subtracting it leaves nothing), so its mean is shrunk to the mean of all
  rows: ``(n_c * mean_c + k * mean_all) / (n_c + k)`` with ``k = camera_shrinkage`` rows of pseudo-count;
* PCA whitening (``pca_dim`` > 0), fitted on sample features (a tracklet's samples in MTMC);
* colour blend (``color_weight`` w): append the square-rooted colour histogram (``reid.color``) so that the
  cosine of two descriptors is ``(1 - w) x feature cosine + w x Bhattacharyya coefficient``. With
  ``color_camera_norm`` the square-rooted histograms are first centred on their camera's mean like the
  features (same shrinkage) and re-normalised: what a camera's light and white balance add to every
  vehicle's colours goes, and the colour term becomes a cosine around 0 for unrelated vehicles (which
  lowers the similarity of other-vehicle pairs: ``MTMC.MIN_SIM`` is chosen with it, docs/reid.md).

Rows without a feature keep a zero feature part; with w = 0 the result is exactly the (centred) feature.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FusionOptions:
    """How the descriptor is built (config ``MTMC.FEATURE_CENTER``, ``MTMC.CAMERA_NORM``, ...)."""

    center: bool = True
    camera_norm: bool = False
    camera_shrinkage: float = 0.0
    pca_dim: int = 0
    color_weight: float = 0.0
    color_camera_norm: bool = False


def unit_rows(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1; zero rows stay zero."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def centring_means(features: np.ndarray, cameras: np.ndarray, options: FusionOptions) -> np.ndarray:
    """(n, D) mean to subtract from each row: zero, the global mean, or the row's shrunk camera mean.

    ``features`` are unit rows (all present); ``cameras`` (n,) their camera.
    """
    overall = features.mean(axis=0)
    if options.camera_norm:
        means = np.empty_like(features)
        k = float(options.camera_shrinkage)
        for camera in np.unique(cameras):
            rows = cameras == camera
            n = int(rows.sum())
            means[rows] = (features[rows].sum(axis=0) + k * overall) / (n + k)
        return means
    if options.center:
        return np.broadcast_to(overall, features.shape)
    return np.zeros_like(features)


def centre_features(features: np.ndarray, cameras: np.ndarray, options: FusionOptions) -> np.ndarray:
    """Unit, centred rows of ``features`` (n, D); unchanged when fewer than two rows."""
    unit = unit_rows(np.asarray(features, np.float64))
    if len(unit) < 2:
        return unit
    return unit_rows(unit - centring_means(unit, np.asarray(cameras), options))


def sqrt_histograms(histograms: np.ndarray) -> np.ndarray:
    """Square roots of histograms normalised to sum 1: unit rows whose dot product is Bhattacharyya's
    coefficient. All-zero rows (no histogram) stay zero."""
    hist = np.clip(np.asarray(histograms, np.float64), 0, None)
    sums = hist.sum(axis=1, keepdims=True)
    return np.sqrt(np.divide(hist, sums, out=np.zeros_like(hist), where=sums > 0))


def color_rows(histograms: np.ndarray, cameras: np.ndarray, options: FusionOptions) -> np.ndarray:
    """(n, H) unit colour rows: square-rooted histograms, with ``color_camera_norm`` centred on their
    camera's mean (shrunk by ``camera_shrinkage``, like the features) and re-normalised. Rows without a
    histogram (all zero) stay zero and take no part in the means."""
    rows = sqrt_histograms(histograms)
    has = rows.any(axis=1)
    if options.color_camera_norm and has.sum() >= 2:
        norm = FusionOptions(camera_norm=True, camera_shrinkage=options.camera_shrinkage)
        rows[has] = unit_rows(rows[has] - centring_means(rows[has], np.asarray(cameras)[has], norm))
    return rows


def blend_color(features: np.ndarray, colour: np.ndarray, weight: float) -> np.ndarray:
    """Unit rows ``[sqrt(1 - w) f, sqrt(w) c]``; ``features`` unit or zero rows, ``colour`` (n, H) unit
    or zero colour rows (``color_rows``). Weight 0 returns ``features`` unchanged."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"colour weight {weight}: expected a value in [0, 1]")
    if weight == 0.0:
        return features
    return unit_rows(np.hstack([np.sqrt(1 - weight) * features, np.sqrt(weight) * colour]))


def whiten(descriptors: np.ndarray, samples: np.ndarray, pca_dim: int) -> np.ndarray:
    """Project unit ``descriptors`` on the leading ``pca_dim`` principal directions of ``samples`` (same
    centring as the descriptors), each scaled to unit variance, then re-normalise."""
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
    return unit_rows((descriptors @ components[:keep].T) / scale)


def fuse(
    features: np.ndarray,
    histograms: np.ndarray | None,
    cameras: np.ndarray,
    options: FusionOptions,
) -> np.ndarray:
    """(n, D') float32 unit descriptors of rows that all have a feature (crops in the bench).

    Args:
        features: (n, D) deep features, any scale.
        histograms: (n, H) colour histograms (``reid.color``), or None when ``color_weight`` is 0.
        cameras: (n,) camera of each row (used with ``camera_norm`` and ``color_camera_norm``).
        options: the steps to apply; PCA is fitted on the rows themselves (each crop is its own sample).
    """
    feats = centre_features(features, cameras, options)
    if options.pca_dim > 0 and len(feats) >= 2:
        feats = whiten(feats, feats, options.pca_dim)
    if options.color_weight > 0:
        if histograms is None:
            raise ValueError("fuse: a colour weight was given but no histograms")
        feats = blend_color(feats, color_rows(histograms, cameras, options), options.color_weight)
    return feats.astype(np.float32)
