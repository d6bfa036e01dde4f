"""Cross-camera Rank-k and mAP against numbers worked out by hand, and the labels reader on real sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reid.retrieval import cross_camera_retrieval, read_labels_csv


def test_hand_computed_ranks_and_map() -> None:
    # Camera a: vehicles 1, 2. Camera b: vehicles 1, 2, 3 (3 has no other-camera match: never a query).
    features = np.array(
        [
            [1.0, 0.0],  # a/1
            [0.0, 1.0],  # a/2
            [0.9, 0.1],  # b/1: nearest to a/1
            [0.8, 0.6],  # b/2: nearer to a/1 than to a/2? cos(a/1)=0.8, cos(a/2)=0.6
            [1.0, 0.05],  # b/3
        ]
    )
    vehicles = np.array(["1", "2", "1", "2", "3"])
    cameras = np.array(["a", "a", "b", "b", "b"])
    scores = cross_camera_retrieval(features, vehicles, cameras)
    # a/1 -> gallery b: b/3 (0.9988), b/1 (0.9939), b/2 (0.8): true match at rank 2 -> AP 1/2.
    # a/2 -> b/2 (0.6) > b/1 (0.110) > b/3 (0.05): rank 1 -> AP 1.
    # b/1 -> gallery a: a/1 (0.9939) > a/2: rank 1 -> AP 1.
    # b/2 -> a/1 (0.8) > a/2 (0.6): true match at rank 2 -> AP 1/2.
    assert scores.queries == 4
    assert scores.rank1 == pytest.approx(2 / 4)
    assert scores.rank5 == pytest.approx(1.0)
    assert scores.mAP == pytest.approx((0.5 + 1 + 1 + 0.5) / 4)


def test_average_precision_with_two_true_matches() -> None:
    # Query q in camera a; its vehicle appears twice in camera b, at ranks 1 and 3 -> AP (1/1 + 2/3) / 2.
    features = np.array([[1.0, 0.0], [0.99, 0.14], [0.9, 0.43], [0.5, 0.86]])
    vehicles = np.array(["q", "q", "x", "q"])
    cameras = np.array(["a", "b", "b", "b"])
    scores = cross_camera_retrieval(features, vehicles, cameras)
    # Only queries whose vehicle is in another camera count: q/a (gallery b) and both q/b (gallery a).
    first = (1 + 2 / 3) / 2
    assert scores.queries == 3
    assert scores.mAP == pytest.approx((first + 1 + 1) / 3)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="expected"):
        cross_camera_retrieval(np.zeros((3, 2)), np.array(["1", "2"]), np.array(["a", "b", "c"]))


def test_reads_the_real_two_camera_set(shared: Path) -> None:
    crops = read_labels_csv(shared / "data" / "reid_vn2cam" / "labels.csv", split="test")
    assert len(crops.paths) == 120
    assert set(crops.camera_ids) == {"cam1", "cam2"}
    assert all(path.is_file() for path in crops.paths)
