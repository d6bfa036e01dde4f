"""ByteTrack's direction consistency and hit-aware deletion switches, on KITTI 0000 (PointRCNN)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluate.kitti import KittiSequence, evaluate_kitti, load_kitti, tracked_lines
from mot.association import direction_bonus
from mot.bytetrack.tracker import ByteTrack


@pytest.fixture(scope="module")
def kitti(shared: Path) -> Path:
    return shared / "data" / "kitti_train"


@pytest.fixture(scope="module")
def seq_0000(kitti: Path) -> KittiSequence:
    (seq,) = load_kitti(kitti / "label_02", kitti / "det_pointrcnn_car", ["0000"])
    return seq


def run_tracker(seq: KittiSequence, **kwargs: object) -> list[str]:
    return tracked_lines(ByteTrack(frame_rate=10.0, **kwargs), seq)  # type: ignore[arg-type]


def scores(seq: KittiSequence, kitti: Path, lines: list[str]) -> dict[str, float]:
    return evaluate_kitti({seq.name: lines}, kitti / "label_02", {seq.name: seq.n_frames})[seq.name]


def test_direction_bonus_favours_the_way_ahead() -> None:
    direction = np.array([[1.0, 0.0], [0.0, 0.0]])  # moving right; unknown
    origin = np.zeros((2, 2))
    targets = np.array([[10.0, 0.0], [-10.0, 0.0], [0.0, 10.0]])
    bonus = direction_bonus(direction, origin, targets)
    np.testing.assert_allclose(bonus[0], [0.5, -0.5, 0.0], atol=1e-9)
    np.testing.assert_array_equal(bonus[1], 0.0)


def test_switches_off_change_nothing(seq_0000: KittiSequence) -> None:
    plain = run_tracker(seq_0000, deletion_hits=0)
    assert run_tracker(seq_0000, direction_weight=0.0, deletion_hits=0, long_buffer=0) == plain
    assert run_tracker(seq_0000, direction_weight=0.2, deletion_hits=0) != plain


@pytest.mark.parametrize("option", [{"direction_weight": 0.2}, {"deletion_hits": 5}])
def test_each_option_keeps_identities_on_kitti(seq_0000: KittiSequence, kitti: Path, option: dict) -> None:
    """KITTI 0000: cars crossing and occluded by passing traffic; neither option may add switches."""
    off = {"direction_weight": 0.0, "deletion_hits": 0}
    base = scores(seq_0000, kitti, run_tracker(seq_0000, **off))
    lines = run_tracker(seq_0000, **{**off, **option})
    assert lines != run_tracker(seq_0000, **off)
    new = scores(seq_0000, kitti, lines)
    assert new["IDSW"] <= base["IDSW"]
    assert new["HOTA"] >= base["HOTA"] - 0.005


def longest_gaps(lines: list[str]) -> int:
    """The longest run of frames any track id went unreported before being reported again."""
    seen: dict[int, list[int]] = {}
    for line in lines:
        frame, track = (int(v) for v in line.split()[:2])
        seen.setdefault(track, []).append(frame)
    return max((int(np.diff(sorted(f)).max()) for f in seen.values() if len(f) > 1), default=0)


def test_long_buffer_revives_tracks_only_past_the_buffer(kitti: Path) -> None:
    """KITTI 0003 at 10 fps: TRACK_BUFFER 30 keeps a lost track 10 frames; with LONG_BUFFER 90 an id
    may come back after up to 30 frames (parked cars hidden by passing traffic)."""
    (seq,) = load_kitti(kitti / "label_02", kitti / "det_pointrcnn_car", ["0003"])
    plain = run_tracker(seq)
    longer = run_tracker(seq, long_buffer=90)
    assert longest_gaps(plain) <= 11  # lost for at most the buffer, then matched or dropped
    assert 11 < longest_gaps(longer) <= 31
