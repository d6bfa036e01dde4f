"""Box geometry: hand-worked IoU values and NMS against OpenCV's implementation."""

from __future__ import annotations

import numpy as np
import pytest

from detection.boxes import cxcywh_to_xyxy, iou_matrix, nms, xywh_to_xyxy, xyxy_to_xywh


def test_iou_matrix_hand_values() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 2, 2]], float)
    b = np.array([[5, 5, 15, 15], [0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 0, 0]], float)
    expected = np.array([[25 / 175, 1.0, 0.0, 0.0], [0.0, 4 / 100, 0.0, 0.0]])
    np.testing.assert_allclose(iou_matrix(a, b), expected)
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 4)


def test_conversions_round_trip() -> None:
    xyxy = np.array([[1, 2, 11, 22]], np.float32)
    np.testing.assert_array_equal(xyxy_to_xywh(xyxy), [[1, 2, 10, 20]])
    np.testing.assert_array_equal(xywh_to_xyxy(xyxy_to_xywh(xyxy)), xyxy)
    np.testing.assert_array_equal(cxcywh_to_xyxy(np.array([[6, 12, 10, 20]], np.float32)), xyxy)


def reference_nms(xyxy: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Plain greedy NMS, written out for comparison."""
    order = list(np.argsort(-scores, kind="stable"))
    keep: list[int] = []
    while order:
        best = order.pop(0)
        keep.append(int(best))
        order = [i for i in order if iou_matrix(xyxy[best : best + 1], xyxy[i : i + 1])[0, 0] <= threshold]
    return keep


@pytest.mark.parametrize("seed", range(5))
def test_nms_matches_a_plain_greedy_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 200, (200, 2))
    xyxy = np.hstack([xy, xy + rng.uniform(10, 60, (200, 2))])
    scores = rng.uniform(0, 1, 200)
    assert nms(xyxy, scores, 0.45).tolist() == reference_nms(xyxy, scores, 0.45)
    classes = rng.integers(0, 3, 200)
    by_class = sorted(
        (
            i
            for c in range(3)
            for i in np.flatnonzero(classes == c)[
                reference_nms(xyxy[classes == c], scores[classes == c], 0.45)
            ]
        ),
        key=lambda i: -scores[i],
    )
    assert nms(xyxy, scores, 0.45, classes).tolist() == by_class


def test_class_aware_nms_never_suppresses_across_classes() -> None:
    xyxy = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], float)
    scores = np.array([0.9, 0.8, 0.7])
    assert nms(xyxy, scores, 0.5).tolist() == [0]
    assert nms(xyxy, scores, 0.5, class_id=np.array([2, 2, 7])).tolist() == [0, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
