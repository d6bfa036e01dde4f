"""Detections keep every field aligned through any row selection."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise
from typing import Any

import numpy as np
import pytest

from detection.types import Detections


def sample(embedding: bool = True) -> Detections:
    xyxy = np.array([[0, 0, 10, 10], [5, 5, 20, 25], [100, 50, 140, 90], [7, 8, 9, 10]], np.float32)
    emb = np.eye(4, 3, dtype=np.float32) if embedding else None
    return Detections(xyxy, [0.9, 0.2, 0.6, 0.4], [2, 7, 2, 5], emb)


@pytest.mark.parametrize(
    ("index", "rows", "context"),
    [
        (np.array([True, False, True, False]), [0, 2], does_not_raise()),
        (np.zeros(4, bool), [], does_not_raise()),
        (1, [1], does_not_raise()),
        (slice(1, 3), [1, 2], does_not_raise()),
        ([3, 0], [3, 0], does_not_raise()),
        (np.array([True, False]), None, pytest.raises(IndexError, match="mask of length 2 for 4 rows")),
    ],
)
def test_row_selection_cuts_every_field(index: Any, rows: list[int] | None, context: Any) -> None:
    dets = sample()
    with context:
        picked = dets[index]
        assert rows is not None
        np.testing.assert_array_equal(picked.xyxy, dets.xyxy[rows])
        np.testing.assert_array_equal(picked.score, dets.score[rows])
        np.testing.assert_array_equal(picked.class_id, dets.class_id[rows])
        assert picked.embedding is not None
        np.testing.assert_array_equal(picked.embedding, dets.embedding[rows])


def test_filter_by_class_then_score_keeps_rows_together() -> None:
    dets = sample()
    cars = dets.filter(dets.class_id == 2)
    confident = cars.filter(cars.score > 0.7)
    assert len(confident) == 1
    np.testing.assert_array_equal(confident.xyxy, [[0, 0, 10, 10]])
    assert confident.class_id.tolist() == [2] and confident.score.tolist() == [pytest.approx(0.9)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"xyxy": np.zeros((2, 4)), "score": np.zeros(3), "class_id": np.zeros(2)},
            "Detections.score: expected 2",
        ),
        ({"xyxy": np.zeros((2, 4)), "score": np.zeros(2), "class_id": np.zeros(1)}, "Detections.class_id"),
        (
            {
                "xyxy": np.zeros((2, 4)),
                "score": np.zeros(2),
                "class_id": np.zeros(2),
                "embedding": np.zeros((3, 8)),
            },
            r"Detections.embedding: expected shape \(2, D\)",
        ),
    ],
)
def test_shapes_are_checked_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Detections(**kwargs)


def test_empty_and_merge() -> None:
    empty = Detections.empty(embedding_dim=3)
    assert len(empty) == 0 and empty.embedding is not None and empty.embedding.shape == (0, 3)
    assert empty.xyxy.dtype == np.float32 and empty.class_id.dtype == np.int64
    merged = Detections.merge([sample(), empty, sample()[1:3]])
    assert len(merged) == 6 and merged.embedding is not None and merged.embedding.shape == (6, 3)
    without = Detections.merge([sample(), sample(embedding=False)])
    assert without.embedding is None and len(without) == 8
    assert len(Detections.merge([])) == 0


def test_xywh() -> None:
    np.testing.assert_array_equal(sample().xywh[1], [5, 5, 15, 20])
