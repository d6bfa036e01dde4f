"""KITTI fixtures of the ByteTrack tests: the train10 folder of ../shared and its sequences
(PointRCNN detections), loaded once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from evaluate.kitti import KittiSequence, load_kitti


@pytest.fixture(scope="session")
def kitti(shared: Path) -> Path:
    return shared / "data" / "kitti_train"


@pytest.fixture(scope="session")
def kitti_sequence(kitti: Path) -> Callable[[str], KittiSequence]:
    """Loads one sequence by name (``"0003"``), each at most once per session."""
    loaded: dict[str, KittiSequence] = {}

    def load(name: str) -> KittiSequence:
        if name not in loaded:
            (loaded[name],) = load_kitti(kitti / "label_02", kitti / "det_pointrcnn_car", [name])
        return loaded[name]

    return load


@pytest.fixture(scope="session")
def seq_0000(kitti_sequence: Callable[[str], KittiSequence]) -> KittiSequence:
    """KITTI 0000: cars crossing and occluded by passing traffic."""
    return kitti_sequence("0000")
