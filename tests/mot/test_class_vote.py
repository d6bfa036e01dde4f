"""A tracklet's class from the per-class scores its boxes absorbed in NMS."""

from __future__ import annotations

import numpy as np
import pytest

from mot.builder import vote_class


@pytest.mark.parametrize(
    ("classes", "votes", "expected"),
    [
        # the van: car wins NMS in 2 frames of 3, but truck has more evidence over the track
        ([2, 2, 7], np.array([0, 0, 1.5, 0, 0, 0.4, 0, 1.9]), 7),
        ([2, 2, 7], None, 2),  # no class scores: most frequent class
        ([5], np.zeros(8), 5),  # an all-zero table carries no evidence
    ],
)
def test_vote_class(classes: list[int], votes: np.ndarray | None, expected: int) -> None:
    assert vote_class(classes, votes) == expected
