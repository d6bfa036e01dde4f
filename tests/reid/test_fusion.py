"""Descriptor fusion on real crops and real MobileNetV2 features: each setting does what it says, and MTMC's
tracklet descriptors are the same function as the bench's crop descriptors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mot.tracklet import Tracklet
from mtmc.descriptors import build_descriptors
from reid.color import color_histogram
from reid.factory import build_embedder
from reid.fusion import FusionOptions, fuse, sqrt_histograms, unit_rows
from reid.retrieval import read_labels_csv


@pytest.fixture(scope="module")
def crops(shared: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, histograms and cameras of 16 real vn2cam test crops (8 vehicles x 2 cameras)."""
    labels = read_labels_csv(shared / "data" / "reid_vn2cam" / "labels.csv", split="test")
    images = [cv2.imread(str(p)) for p in labels.paths[:16]]
    features = build_embedder().embed_crops(images)
    return features, np.stack([color_histogram(i) for i in images]), labels.camera_ids[:16]


def test_colour_weight_zero_is_exactly_the_centred_feature(crops: tuple[np.ndarray, ...]) -> None:
    features, hist, cams = crops
    centred = unit_rows(features.astype(np.float64) - unit_rows(features.astype(np.float64)).mean(axis=0))
    fused = fuse(features, hist, cams, FusionOptions(center=True, color_weight=0.0))
    np.testing.assert_allclose(fused, centred, atol=1e-6)
    raw = fuse(features, hist, cams, FusionOptions(center=False, color_weight=0.0))
    np.testing.assert_allclose(raw, features, atol=1e-6)  # the embedder's rows are unit already


@pytest.mark.parametrize("weight", [0.3, 0.5, 1.0])
def test_colour_weight_blends_the_two_similarities(crops: tuple[np.ndarray, ...], weight: float) -> None:
    features, hist, cams = crops
    fused = fuse(features, hist, cams, FusionOptions(center=False, color_weight=weight))
    feature_cos = features @ features.T
    bhattacharyya = np.sqrt(hist[:, None, :] * hist[None, :, :]).sum(axis=2)  # histograms sum to 1
    np.testing.assert_allclose(
        fused @ fused.T, (1 - weight) * feature_cos + weight * bhattacharyya, atol=1e-5
    )
    assert not np.allclose(fused @ fused.T, feature_cos, atol=1e-3)  # colour did change the similarities


def test_camera_norm_subtracts_each_cameras_shrunk_mean(crops: tuple[np.ndarray, ...]) -> None:
    features, hist, cams = crops
    unit = features.astype(np.float64)
    k = 3.0
    fused = fuse(features, hist, cams, FusionOptions(camera_norm=True, camera_shrinkage=k))
    for camera in np.unique(cams):
        rows = cams == camera
        mean = (unit[rows].sum(axis=0) + k * unit.mean(axis=0)) / (rows.sum() + k)
        np.testing.assert_allclose(fused[rows], unit_rows(unit[rows] - mean), atol=1e-6)
    # a very large shrinkage is the run's mean: plain centring
    far = fuse(features, hist, cams, FusionOptions(camera_norm=True, camera_shrinkage=1e9))
    np.testing.assert_allclose(far, fuse(features, hist, cams, FusionOptions(center=True)), atol=1e-5)


def test_a_camera_with_one_crop_keeps_its_direction_with_shrinkage(crops: tuple[np.ndarray, ...]) -> None:
    features, hist, cams = crops
    cams = cams.copy()
    cams[0] = "lonely"  # a camera that sees a single vehicle
    alone = fuse(features, hist, cams, FusionOptions(camera_norm=True, camera_shrinkage=0.0))
    assert np.allclose(alone[0], 0.0)  # its own mean is itself: nothing is left (why shrinkage exists)
    shrunk = fuse(features, hist, cams, FusionOptions(camera_norm=True, camera_shrinkage=3.0))
    centred = fuse(features, hist, cams, FusionOptions(center=True))
    np.testing.assert_allclose(shrunk[0], centred[0], atol=1e-6)  # f - (f + k m)/(1 + k) is along f - m


@pytest.mark.parametrize("color_camera_norm", [False, True])
def test_mtmc_descriptors_are_the_bench_descriptors(
    crops: tuple[np.ndarray, ...], color_camera_norm: bool
) -> None:
    features, hist, cams = crops
    camera_index = {c: i for i, c in enumerate(sorted(set(cams)))}
    tracklets = [
        Tracklet(
            i,
            camera_index[c],
            np.array([0]),
            np.array([[0.0, 0.0, 10.0, 10.0]]),
            np.ones(1),
            mean_feature=f,
            color_histogram=h,
        )
        for i, (f, h, c) in enumerate(zip(features, hist, cams, strict=True))
    ]
    options = FusionOptions(
        camera_norm=True, camera_shrinkage=3.0, color_weight=0.3, color_camera_norm=color_camera_norm
    )
    mtmc = build_descriptors(tracklets, options)
    np.testing.assert_allclose(mtmc, fuse(features, hist, cams, options), atol=1e-6)


def test_sqrt_histograms_are_unit_and_missing_rows_stay_zero() -> None:
    hist = np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    rows = sqrt_histograms(hist)
    np.testing.assert_allclose(rows[0], np.sqrt([0.25, 0.75, 0.0]))
    assert np.all(rows[1] == 0.0)


def test_a_colour_weight_without_histograms_is_an_error(crops: tuple[np.ndarray, ...]) -> None:
    features, _, cams = crops
    with pytest.raises(ValueError, match="no histograms"):
        fuse(features, None, cams, FusionOptions(color_weight=0.3))


def test_mtmc_reads_the_fusion_keys_and_rejects_bad_ones() -> None:
    from config.loader import ConfigError, load_config
    from mtmc.express import matching_options

    options = matching_options(
        load_config(None, ["MTMC.CAMERA_NORM", "false", "MTMC.CAMERA_NORM_SHRINKAGE", "4"])
    )
    assert (options.camera_norm, options.camera_shrinkage) == (False, 4.0)
    defaults = matching_options(load_config(None))
    assert (defaults.camera_norm, defaults.camera_shrinkage, defaults.color_weight) == (True, 1.0, 0.3)
    assert defaults.color_camera_norm
    assert not matching_options(load_config(None, ["MTMC.COLOR_CAMERA_NORM", "false"])).color_camera_norm
    with pytest.raises(ConfigError, match=r"MTMC\.CAMERA_NORM_SHRINKAGE"):
        load_config(None, ["MTMC.CAMERA_NORM_SHRINKAGE", "-1"])
