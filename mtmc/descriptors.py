"""Tracklet descriptors for clustering: the mean ReID feature, post-processed so cosines separate vehicles.

The steps and their reasons are those of ``reid.fusion`` (centring over the run or per camera, PCA
whitening, colour blend with optional per-camera centring of the colour part), applied to the
tracklets of the run: row i is ``tracklets[i]``, its camera ``tracklets[i].camera``.
``bench/bench_reid.py`` applies the same functions to labelled crops, so its figures are those of
this descriptor.

Every output row has unit length, so the clustering's cosine machinery applies unchanged.
Tracklets without a feature get a zero feature part (with no colour either they cluster with nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from mot.tracklet import Tracklet
from reid.fusion import FusionOptions, blend_color, centring_means, color_rows, unit_rows, whiten

log = logging.getLogger(__name__)

DEFAULT_FUSION = FusionOptions()  # centred on the run's mean feature, no PCA, no colour


def build_descriptors(tracklets: Sequence[Tracklet], options: FusionOptions = DEFAULT_FUSION) -> np.ndarray:
    """(n, D') float32 unit descriptors, row i for ``tracklets[i]``, built as ``options`` say."""
    feats, has = _features(tracklets)
    cameras = np.array([t.camera for t in tracklets])
    if has.sum() >= 2:
        means = centring_means(feats[has], cameras[has], options)
        feats[has] = unit_rows(feats[has] - means)
        if options.pca_dim > 0:
            whitened = whiten(feats[has], _samples(tracklets, has, means), options.pca_dim)
            feats = np.zeros((len(tracklets), whitened.shape[1]))
            feats[has] = whitened
    if options.color_weight > 0 and (histograms := _histograms(tracklets)) is not None:
        feats = blend_color(feats, color_rows(histograms, cameras, options), options.color_weight)
    return feats.astype(np.float32)


def _features(tracklets: Sequence[Tracklet]) -> tuple[np.ndarray, np.ndarray]:
    """(n, D) unit mean features (zero rows where missing) and the (n,) mask of present ones."""
    dims = {len(t.mean_feature) for t in tracklets if t.mean_feature is not None}
    if len(dims) > 1:
        raise ValueError(
            f"tracklet features of different dimensions {sorted(dims)}: were they made by one ReID model?"
        )
    dim = dims.pop() if dims else 0
    has = np.array([t.mean_feature is not None for t in tracklets], bool)
    feats = np.zeros((len(tracklets), dim))
    if has.any():
        present = [t.mean_feature for t in tracklets if t.mean_feature is not None]
        feats[has] = unit_rows(np.stack(present).astype(np.float64))
    return feats, has


def _samples(tracklets: Sequence[Tracklet], has: np.ndarray, means: np.ndarray) -> np.ndarray:
    """The run's sampled features, each centred like its tracklet's descriptor (the tracklet means
    themselves when no samples were kept)."""
    present = [t for t, h in zip(tracklets, has, strict=True) if h]
    rows = [
        unit_rows(t.features.astype(np.float64)) - m
        for t, m in zip(present, means, strict=True)
        if len(t.features)
    ]
    if not rows:
        rows = [
            unit_rows(t.mean_feature[None].astype(np.float64)) - m
            for t, m in zip(present, means, strict=True)
        ]
    return np.concatenate(rows)


def _histograms(tracklets: Sequence[Tracklet]) -> np.ndarray | None:
    """(n, H) colour histograms of the largest size present (zero rows where a tracklet has none);
    None when no tracklet has one."""
    sizes = {len(t.color_histogram) for t in tracklets if t.color_histogram is not None}
    if not sizes:
        log.warning("colour blend asked, but no tracklet has a colour histogram; using features only")
        return None
    size = max(sizes)
    hist = np.zeros((len(tracklets), size))
    for row, t in enumerate(tracklets):
        if t.color_histogram is not None and len(t.color_histogram) == size:
            hist[row] = t.color_histogram
    return hist
