"""ByteTrack's direction consistency (its OC-SORT form and the robust one), NSA Kalman, C-BIoU for lost
tracks and hit-aware deletion, on hand-worked cases and KITTI 0000 (PointRCNN)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from evaluate.kitti import KittiSequence, evaluate_kitti, tracked_lines
from mot.association import buffered, direction_bonus
from mot.bytetrack.direction import direction_cost, observe, start_history
from mot.bytetrack.tracker import ByteTrack, ByteTrackOptions
from mot.kalman import KalmanBoxFilter, KalmanXYWHFilter


def run_tracker(seq: KittiSequence, **kwargs: object) -> list[str]:
    return tracked_lines(ByteTrack(ByteTrackOptions(**kwargs), frame_rate=10.0), seq)  # type: ignore[arg-type]


def scores(seq: KittiSequence, kitti: Path, lines: list[str]) -> dict[str, float]:
    return evaluate_kitti({seq.name: lines}, kitti / "label_02", {seq.name: seq.n_frames})[seq.name]


def test_direction_bonus_favours_the_way_ahead() -> None:
    direction = np.array([[1.0, 0.0], [0.0, 0.0]])  # moving right; unknown
    origin = np.zeros((2, 2))
    targets = np.array([[10.0, 0.0], [-10.0, 0.0], [0.0, 10.0]])
    bonus = direction_bonus(direction, origin, targets)
    np.testing.assert_allclose(bonus[0], [0.5, -0.5, 0.0], atol=1e-9)
    np.testing.assert_array_equal(bonus[1], 0.0)


def test_direction_is_measured_over_delta_observations_and_weighed_by_the_move() -> None:
    """delta 3: the direction runs from the observation three back; a 20 px high box that moved
    10 px counts half at DIRECTION_MIN_MOVE 1 (one box height), 20 px and more fully."""
    history = start_history(np.array([[0.0, 0.0]]), 3)
    confidences = []
    for x in (10.0, 20.0, 30.0, 40.0):
        direction, confidence, history = observe(history, np.array([[x, 0.0]]), np.array([20.0]), 1.0)
        np.testing.assert_allclose(direction, [[1.0, 0.0]])
        confidences.append(float(confidence[0]))
    assert confidences == [0.5, 1.0, 1.0, 1.0]
    np.testing.assert_allclose(history[0, :, 0], [20.0, 30.0, 40.0])
    # a stopped car: its boxes jitter by 1 px, its direction is noise and hardly counts
    still = start_history(np.array([[0.0, 0.0]]), 3)
    _, confidence, _ = observe(still, np.array([[1.0, 0.0]]), np.array([20.0]), 1.0)
    assert confidence[0] == pytest.approx(0.05)


@pytest.mark.parametrize("keep_gate", [False, True])
def test_keep_gate_only_reranks_pairs_inside_the_gate(keep_gate: bool) -> None:
    """A detection behind a track loses; with ``keep_gate`` it loses rank, never its place in the gate."""
    cost = np.array([[0.5, 0.79, 0.9]])  # ahead, behind, outside the 0.8 gate
    centres = np.array([[10.0, 0.0], [-10.0, 0.0], [10.0, 0.0]])
    args = (np.array([[1.0, 0.0]]), np.ones(1), np.zeros((1, 2)), centres, np.ones(3))
    out = direction_cost(cost, 0.8, 1.0, *args, keep_gate=keep_gate)
    assert out[0, 0] == pytest.approx(0.0)  # straight ahead: half the weight off
    assert out[0, 2] == 0.9  # outside stays outside, unchanged
    assert (out[0, 1] < 0.8) == keep_gate  # behind: 1.29 without the guard, pushed out of the gate
    assert out[0, 1] > out[0, 0]


@pytest.mark.parametrize("kalman", [KalmanBoxFilter(), KalmanXYWHFilter()])
def test_nsa_noise_scale_makes_a_confident_box_pull_harder(kalman: KalmanBoxFilter) -> None:
    """StrongSORT's NSA: the measurement noise times (1 - score); 1 is the plain filter."""
    mean, cov = kalman.initiate(kalman.measure(np.array([[100.0, 100.0, 140.0, 130.0]])))
    mean, cov = kalman.predict(mean, cov)
    z = kalman.measure(np.array([[110.0, 100.0, 150.0, 130.0]]))  # 10 px to the right
    plain = kalman.update(mean, cov, z)[0][0, 0]
    np.testing.assert_allclose(kalman.update(mean, cov, z, np.ones(1))[0][0, 0], plain)
    confident = kalman.update(mean, cov, z, np.array([0.05]))[0][0, 0]
    assert abs(confident - z[0, 0]) < abs(plain - z[0, 0]) / 2


def test_buffered_boxes_grow_on_every_side() -> None:
    np.testing.assert_allclose(buffered(np.array([[10.0, 20.0, 30.0, 60.0]]), 0.5), [[0.0, 0.0, 40.0, 80.0]])


def test_switches_off_change_nothing(seq_0000: KittiSequence) -> None:
    off = {"direction_weight": 0.0, "deletion_hits": 0}
    plain = run_tracker(seq_0000, **off)
    # with the weight at 0 the other direction keys have nothing to act on
    unused = {"direction_delta": 3, "direction_min_move": 0.5, "direction_keep_gate": False}
    assert (
        run_tracker(seq_0000, **off, **unused, long_buffer=0, nsa_kalman=False, lost_iou_buffer=0.0) == plain
    )
    assert run_tracker(seq_0000, direction_weight=0.2, deletion_hits=0) != plain
    for option in ({"nsa_kalman": True}, {"lost_iou_buffer": 0.3}):
        assert run_tracker(seq_0000, **off, **option) != plain


@pytest.mark.parametrize(
    "option",
    [
        {"direction_weight": 0.2},
        {"direction_weight": 0.3, "direction_keep_gate": True},
        {"deletion_hits": 5},
    ],
)
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


def test_long_buffer_revives_tracks_only_past_the_buffer(
    kitti_sequence: Callable[[str], KittiSequence],
) -> None:
    """KITTI 0003 at 10 fps: TRACK_BUFFER 30 keeps a lost track 10 frames; with LONG_BUFFER 90 an id
    may come back after up to 30 frames (parked cars hidden by passing traffic)."""
    seq = kitti_sequence("0003")
    plain = run_tracker(seq)
    longer = run_tracker(seq, long_buffer=90)
    assert longest_gaps(plain) <= 11  # lost for at most the buffer, then matched or dropped
    assert 11 < longest_gaps(longer) <= 31
