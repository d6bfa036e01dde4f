"""Global identities, attribute and plate propagation, descriptor post-processing, multi-camera scores."""

from __future__ import annotations

import numpy as np
import pytest

from config.defaults import get_cfg_defaults
from config.layout import CameraLayout
from evaluate.formats import BoxRows
from evaluate.multicam import MULTI_CAMERA, evaluate_cameras
from mot.tracklet import Tracklet
from mtmc.descriptors import build_descriptors
from mtmc.express import matching_options
from mtmc.matching import MatchingOptions, match_tracklets
from mtmc.multicam_tracklet import merge_attributes
from mtmc.output import camera_results
from reid.fusion import FusionOptions

LAYOUT = CameraLayout(
    np.full(3, 10.0),
    np.zeros(3),
    np.ones(3),
    ~np.eye(3, dtype=bool),
    np.full((3, 3), -2.0),
    np.full((3, 3), 20.0),
)
PLAIN = MatchingOptions(center=False, camera_norm=False, color_weight=0.0)  # hand-made features as given


def tracklet(
    camera: int, track_id: int, start: int, feature: np.ndarray, length: int = 20, **attributes
) -> Tracklet:
    f = np.asarray(feature, np.float32)
    return Tracklet(
        track_id,
        camera,
        np.arange(start, start + length),
        np.tile([[10, 10, 50, 40]], (length, 1)),
        np.ones(length),
        mean_feature=f / np.linalg.norm(f),
        attributes=attributes,
    )


def test_a_plate_read_at_one_camera_reaches_every_camera() -> None:
    car, other = np.eye(4)[0], np.eye(4)[1]
    tracklets = [
        tracklet(0, 1, 0, car + 0.1 * other, plate="ABC123", plate_conf=0.9, color="red"),
        tracklet(1, 7, 40, car),
        tracklet(2, 3, 80, car + 0.05, color="red"),
        tracklet(1, 8, 40, other),  # another vehicle, same time as the car in camera 1
    ]
    result = match_tracklets(tracklets, LAYOUT, PLAIN)
    assert result.global_ids.tolist() == [1, 1, 1, 2]
    per_camera = camera_results(result, 3)
    for camera_tracklets, ids in per_camera:
        for t, gid in zip(camera_tracklets, ids, strict=True):
            if gid == 1:
                assert t.attributes["plate"] == "ABC123" and t.attributes["color"] == "red"
            else:
                assert "plate" not in t.attributes
    assert "plate" not in tracklets[1].attributes  # inputs are not modified


def test_plate_votes_are_confidence_weighted_and_colours_length_weighted() -> None:
    members = [
        tracklet(0, 1, 0, np.ones(2), plate="ABC123", plate_conf=0.5, color="white", length=5),
        tracklet(1, 2, 0, np.ones(2), plate="ABC128", plate_conf=0.7, color="gray", length=50),
        tracklet(2, 3, 0, np.ones(2), plate="ABC123", plate_conf=0.4, color="white", length=10),
    ]
    merged = merge_attributes(members)
    assert merged["plate"] == "ABC123"  # 0.9 against 0.7
    assert merged["plate_conf"] == pytest.approx(0.9 / 1.6)
    assert merged["plate_camera"] == 0  # its most confident read
    assert merged["color"] == "gray"  # 50 boxes against 15
    assert merge_attributes([tracklet(0, 1, 0, np.ones(2))]) == {}


def test_global_ids_follow_first_appearance() -> None:
    a, b = np.eye(3)[0], np.eye(3)[1]
    tracklets = [tracklet(0, 1, 100, a), tracklet(0, 2, 10, b), tracklet(1, 3, 130, a)]
    result = match_tracklets(tracklets, LAYOUT, PLAIN)
    assert result.global_ids.tolist() == [2, 1, 2]
    assert [m.global_id for m in result.multicam] == [1, 2]


def test_centring_removes_the_common_part_of_generic_features() -> None:
    rng = np.random.default_rng(0)
    common = rng.normal(size=64)
    tracklets = [tracklet(0, i, 0, 3 * common + rng.normal(size=64)) for i in range(40)]
    raw = build_descriptors(tracklets, FusionOptions(center=False))
    centred = build_descriptors(tracklets, FusionOptions(center=True))
    off = ~np.eye(40, dtype=bool)
    assert (raw @ raw.T)[off].mean() > 0.8
    assert abs((centred @ centred.T)[off].mean()) < 0.05
    np.testing.assert_allclose(np.linalg.norm(centred, axis=1), 1.0, rtol=1e-5)


def test_colour_blend_mixes_cosine_and_bhattacharyya_coefficient() -> None:
    h1, h2 = np.array([0.5, 0.5, 0, 0]), np.array([0.25, 0.25, 0.5, 0])
    a = tracklet(0, 1, 0, [1, 0, 0])
    b = tracklet(1, 2, 0, [0.6, 0.8, 0])
    a.color_histogram, b.color_histogram = h1, h2
    d = build_descriptors([a, b], FusionOptions(center=False, color_weight=0.3))
    bc = np.sum(np.sqrt(h1 * h2))
    assert d[0] @ d[1] == pytest.approx(0.7 * 0.6 + 0.3 * bc, abs=1e-6)


def test_pca_whitening_and_tracklets_without_features() -> None:
    rng = np.random.default_rng(1)
    tracklets = [tracklet(0, i, 0, rng.normal(size=32)) for i in range(30)]
    tracklets.append(Tracklet(99, 0, [0], [[0, 0, 1, 1]], [1.0]))
    d = build_descriptors(tracklets, FusionOptions(pca_dim=8))
    assert d.shape == (31, 8)
    np.testing.assert_allclose(np.linalg.norm(d[:30], axis=1), 1.0, rtol=1e-5)
    assert not d[30].any()  # no feature: a zero row that matches nothing


def rows(camera: int, ids: list[int]) -> BoxRows:
    """Two vehicles side by side over frames 1-4, with the given id per vehicle."""
    frames = np.repeat(np.arange(1, 5), 2)
    boxes = np.tile([[0, 0, 10, 10], [100, 0, 10, 10]], (4, 1))
    return BoxRows(camera, frames, np.tile(ids, 4), boxes)


def test_multi_camera_idf1_on_a_hand_made_case() -> None:
    gts = [rows(0, [1, 2]), rows(1, [1, 2])]
    consistent = [rows(0, [10, 20]), rows(1, [10, 20])]
    swapped = [rows(0, [10, 20]), rows(1, [20, 10])]  # camera 1 gives each vehicle the other's id
    good = evaluate_cameras(gts, consistent, ["a", "b"])
    bad = evaluate_cameras(gts, swapped, ["a", "b"])
    assert good[MULTI_CAMERA]["IDF1"] == pytest.approx(1.0)
    assert bad["a"]["IDF1"] == bad["b"]["IDF1"] == pytest.approx(1.0)  # each camera alone is perfect
    assert bad[MULTI_CAMERA]["IDF1"] == pytest.approx(0.5)  # half of every vehicle's boxes carry its id


def test_drop_single_camera_vehicles() -> None:
    gts = [rows(0, [1, 2]), BoxRows(1, [1], [1], [[0, 0, 10, 10]])]  # vehicle 2 only in camera 0
    preds = [rows(0, [10, 20]), BoxRows(1, [1], [10], [[0, 0, 10, 10]])]
    kept = evaluate_cameras(gts, preds, ["a", "b"], drop_single_cam=True)
    assert kept[MULTI_CAMERA]["GT_IDs"] == 1 and kept[MULTI_CAMERA]["Pred_IDs"] == 1
    assert evaluate_cameras(gts, preds, ["a", "b"])[MULTI_CAMERA]["GT_IDs"] == 2


def test_library_defaults_are_the_configs() -> None:
    """``match_tracklets(tracklets, layout)`` clusters as the CLI does with the default config:
    a key added to one side and not the other, or a default moved on one side only, fails here."""
    assert matching_options(get_cfg_defaults()) == MatchingOptions()
