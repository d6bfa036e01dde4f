"""Cross-camera pseudo-pairs: the miner by hand and on real crops, identities under constraints, scenes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reid.factory import build_embedder
from reid.fusion import FusionOptions, centre_features
from reid.retrieval import read_labels_csv
from reid.training.crosscam import (
    MinerOptions,
    Pairs,
    coexisting,
    mine_pairs,
    multi_camera,
    pair_precision,
    pair_recall,
    pseudo_identities,
    tracklet_descriptors,
)
from reid.training.loop import load_image
from reid.training.scene import build_scene, unlabelled_crops

CAMERAS = np.array(["A", "A", "A", "B", "B"])


def at_degrees(*angles: float) -> np.ndarray:
    radians = np.radians(angles)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


# A: t0 0 deg, t1 90, t2 105; B: t3 5, t4 95. cos 5 = 0.996, cos 10 = 0.985, cos 85 = 0.087
HAND = at_degrees(0, 90, 105, 5, 95)


def pairs_of(found: Pairs) -> list[tuple[int, int]]:
    return list(zip(found.i.tolist(), found.j.tolist(), strict=True))


def test_mutual_nearest_neighbours_with_a_lead_by_hand() -> None:
    # (0, 3) leads its runner-ups (t4 -0.087, t1 0.087) by 0.91; (1, 4) leads t2 (0.985) by 0.011 only
    assert pairs_of(mine_pairs(HAND, CAMERAS, MinerOptions(margin=0.0))) == [(0, 3), (1, 4)]
    assert pairs_of(mine_pairs(HAND, CAMERAS, MinerOptions(margin=0.05))) == [(0, 3)]
    assert pairs_of(mine_pairs(HAND, CAMERAS, MinerOptions(min_sim=0.999, margin=0.0))) == []
    found = mine_pairs(HAND, CAMERAS, MinerOptions(margin=0.0))
    assert np.allclose(found.sim, np.cos(np.radians([5, 5])))


def test_k_reciprocal_candidates_stay_one_to_one() -> None:
    # with k = 2, (2, 4) is reciprocal too, but t4 is taken by t1, which is more similar
    assert pairs_of(mine_pairs(HAND, CAMERAS, MinerOptions(k=2, margin=0.0))) == [(0, 3), (1, 4)]


def test_pairs_outside_the_time_windows_are_never_mined() -> None:
    allowed = np.ones((5, 5), bool)
    allowed[0, 3] = allowed[3, 0] = False
    # t0's best allowed partner is t4, whose best is t1: nothing mutual but (1, 4)
    assert pairs_of(mine_pairs(HAND, CAMERAS, MinerOptions(margin=0.0), allowed)) == [(1, 4)]


def test_identities_are_components_that_never_hold_a_coexisting_pair() -> None:
    pairs = Pairs(np.array([0, 1, 0]), np.array([2, 2, 3]), np.array([0.9, 0.8, 0.7]))
    assert pseudo_identities(5, pairs).tolist() == [0, 0, 0, 0, 4]
    cannot = coexisting(["A", "A", "B", "C", "A"], [0, 5, 0, 0, 50], [10, 20, 9, 9, 60])
    assert cannot[0, 1] and cannot[1, 0] and not cannot[0, 4] and not cannot[0, 2]
    # (1, 2) would join 1 to 0 through 2, and 0 and 1 of camera A coexist: skipped
    assert pseudo_identities(5, pairs, cannot).tolist() == [0, 1, 0, 0, 4]


def test_unknown_times_never_coexist_and_precision_counts_true_pairs() -> None:
    assert not coexisting(["A", "A"], [np.nan, 0], [np.nan, 5]).any()
    pairs = Pairs(np.array([0, 1]), np.array([2, 3]), np.array([0.9, 0.8]))
    assert pair_precision(pairs, np.array(["x", "y", "x", "z"])) == 0.5


def test_tracklet_descriptors_average_unit_crop_features() -> None:
    features = np.array([[2.0, 0.0], [0.0, 3.0], [0.0, -1.0]])
    out = tracklet_descriptors(features, np.array([0, 0, 1]), 3)
    assert np.allclose(out, [[np.sqrt(0.5), np.sqrt(0.5)], [0, -1], [0, 0]])


@pytest.fixture(scope="module")
def six_vehicles(shared: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per-camera centred features of six vn2cam test vehicles (two crops each) by the shipped model."""
    crops = read_labels_csv(shared / "data" / "reid_vn2cam" / "labels.csv", "test")
    paths, cameras = crops.paths[:12], crops.camera_ids[:12]
    features = build_embedder("onnxruntime", "vehicle_reid_mnv2_vn2cam.onnx", threads=1).embed_crops(
        [load_image(p) for p in paths]
    )
    return (
        centre_features(features, cameras, FusionOptions(camera_norm=True)),
        cameras,
        [p.stem for p in paths],
    )


def test_the_miner_on_real_crops_pairs_each_vehicle_and_a_margin_drops_the_unsure_one(
    six_vehicles: tuple,
) -> None:
    descriptors, cameras, names = six_vehicles
    vehicles = ("bus_0002", "bus_0004", "bus_0006", "car_0001", "car_0002", "car_0006")
    every = mine_pairs(descriptors, cameras, MinerOptions(margin=0.0))
    assert [(names[i], names[j]) for i, j in pairs_of(every)] == [
        (f"{v}_cam1", f"{v}_cam2") for v in vehicles
    ]
    # bus_0004's cam1 crop leads its runner-up (bus_0002_cam2) by 0.472 - 0.451 = 0.02 only, below the
    # default margin 0.05; the closest lead of the others is bus_0002's, 0.672 - 0.451 = 0.22
    found = mine_pairs(descriptors, cameras, MinerOptions())
    assert [names[i] for i in found.i] == [f"{v}_cam1" for v in vehicles if v != "bus_0004"]


def test_an_unlabelled_crop_folder_with_tracks_and_a_layout_becomes_a_scene(
    shared: Path, tmp_path: Path
) -> None:
    images = shared / "data" / "reid_vn2cam" / "images" / "test"
    rows = [  # camera 0 sees two cars at once (two tracks), camera 1 sees the first car 2 s later
        ("car_0001_cam1.jpg", 0, "a", 10, "car_0001"),
        ("car_0001_cam1.jpg", 0, "a", 20, "car_0001"),
        ("car_0002_cam1.jpg", 0, "b", 15, "car_0002"),
        ("car_0001_cam2.jpg", 1, "c", 80, "car_0001"),
        ("car_0002_cam2.jpg", 1, "d", 900, "car_0002"),
    ]
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "path,camera_id,track_id,frame,vehicle\n"
        + "".join(f"{images / p},{c},{t},{f},{v}\n" for p, c, t, f, v in rows),
        encoding="utf-8",
    )
    layout = tmp_path / "layout.txt"
    layout.write_text("0 1 0 5\nfps 10 10\n", encoding="utf-8")
    from config.layout import parse_layout
    from mtmc.compatibility import LayoutPairs

    samples, spans, truth, seconds = unlabelled_crops(labels, name="street", truth_column="vehicle")
    assert [s.identity for s in samples][:3] == ["street:0:a", "street:0:a", "street:0:b"] and not seconds
    assert spans[:3].tolist() == [[10, 20], [10, 20], [15, 15]]
    scene = build_scene("street", samples, spans, LayoutPairs(parse_layout(layout)), truth, seconds)
    assert scene.tracklets == 4 and scene.tracklet.tolist() == [0, 0, 1, 2, 3]
    assert scene.truth is not None and scene.truth.tolist() == [
        "car_0001",
        "car_0002",
        "car_0001",
        "car_0002",
    ]
    # track a leaves camera 0 at 2.0 s, track c is in camera 1 at 8.0 s: 6 s later, outside 0..5 s
    assert scene.allowed is not None and not scene.allowed.any()
    assert scene.cannot[0, 1] and not scene.cannot[0, 2]  # a and b coexist in camera 0
    layout.write_text("0 1 0 7\nfps 10 10\n", encoding="utf-8")
    wider = build_scene("street", samples, spans, LayoutPairs(parse_layout(layout)), truth, seconds)
    assert wider.allowed is not None and np.argwhere(wider.allowed).tolist() == [
        [0, 2],
        [1, 2],
        [2, 0],
        [2, 1],
    ]


def test_an_unlabelled_folder_needs_its_columns(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("path,vehicle_id\nx.jpg,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['camera_id'\]"):
        unlabelled_crops(labels)
    labels.write_text("path,camera_id\nx.jpg,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no 'vehicle_id' column for truth="):
        unlabelled_crops(labels, truth_column="vehicle_id")


def test_recall_counts_true_cross_camera_pairs_and_identities_count_their_cameras() -> None:
    truth = np.array(["x", "x", "x", "y", "y"])
    cameras = np.array(["A", "A", "B", "A", "B"])  # x: 2 x 1 true pairs, y: 1: three in all
    pairs = Pairs(np.array([0, 3, 1]), np.array([2, 4, 3]), np.array([0.9, 0.8, 0.7]))
    assert pair_recall(pairs, truth, cameras) == pytest.approx(2 / 3)
    assert multi_camera(np.array([0, 0, 0, 3, 3]), cameras) == 2
    assert multi_camera(np.array([0, 1, 0, 3, 4]), cameras) == 1
