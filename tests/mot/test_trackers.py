"""Both trackers through the same contract, then constructed scenes for each."""

from __future__ import annotations

import numpy as np
import pytest

from detection.types import Detections
from mot.base import Tracks
from mot.bytetrack.tracker import ByteTrack, ByteTrackOptions
from mot.deepsort.tracker import DeepSort
from mot.factory import build_tracker

TRACKERS = ("bytetrack_iou", "deepsort")


def frame(
    boxes: list[list[float]], scores: list[float] | None = None, features: np.ndarray | None = None
) -> Detections:
    """Detections of one frame; features default to one distinct unit vector per row."""
    n = len(boxes)
    scores = [0.9] * n if scores is None else scores
    if features is None:
        features = np.eye(n, 16, dtype=np.float32)
    return Detections(np.array(boxes, float).reshape(-1, 4), scores, [2] * n, features)


def box(x: float, y: float, w: float = 40, h: float = 30) -> list[float]:
    return [x, y, x + w, y + h]


def confirmed_ids(tracks: Tracks) -> list[int]:
    return tracks.track_id[tracks.confirmed].tolist()


@pytest.mark.parametrize("name", TRACKERS)
def test_empty_frames_give_empty_tracks(name: str) -> None:
    tracker = build_tracker(name)
    out = tracker.update(Detections.empty(16))
    assert len(out) == 0 and out.xyxy.shape == (0, 4) and out.ended.shape == (0,)
    assert tracker.finish().tolist() == []


@pytest.mark.parametrize("name", TRACKERS)
def test_one_moving_box_keeps_its_id_and_reset_restarts_ids(name: str) -> None:
    tracker = build_tracker(name)
    seen = []
    for t in range(10):
        out = tracker.update(frame([box(10 + 4 * t, 50)]))
        assert out.det_index.tolist() == [0]
        seen.append((out.track_id.tolist(), bool(out.confirmed[0])))
    assert {ids[0] for ids, _ in seen} == {1}
    assert seen[-1][1]  # confirmed by then
    np.testing.assert_allclose(out.xyxy[0], box(46, 50), atol=2.0)  # posterior near the last box
    assert tracker.finish().tolist() == [1]
    tracker.reset()
    assert tracker.update(frame([box(0, 0)])).track_id.tolist() == [1]


@pytest.mark.parametrize("name", TRACKERS)
def test_det_index_joins_tracks_to_their_detections(name: str) -> None:
    tracker = build_tracker(name)
    boxes = [box(0, 0), box(200, 0), box(400, 0)]
    for _ in range(4):
        order = [2, 0, 1]
        out = tracker.update(
            frame([boxes[i] for i in order], features=np.eye(3, 16, dtype=np.float32)[order])
        )
    for track_xyxy, det in zip(out.xyxy, out.det_index, strict=True):
        np.testing.assert_allclose(track_xyxy, boxes[order[det]], atol=1.0)


@pytest.mark.parametrize("name", TRACKERS)
def test_crossing_vehicles_keep_their_ids(name: str) -> None:
    tracker = build_tracker(name)
    ids_of_rightward = set()
    for t in range(30):
        a, b = box(10 + 8 * t, 100), box(250 - 8 * t, 110)  # they overlap mid-way
        out = tracker.update(frame([a, b], features=np.eye(2, 16, dtype=np.float32)))
        ids_of_rightward |= set(out.track_id[out.det_index == 0].tolist())
    assert ids_of_rightward == {1}


@pytest.mark.parametrize("name", TRACKERS)
def test_a_gap_shorter_than_the_buffer_keeps_the_id(name: str) -> None:
    tracker = build_tracker(name)  # buffer / max age: 30 frames at 30 fps
    for t in range(10):
        tracker.update(frame([box(10 + 3 * t, 50)]))
    for _ in range(10, 30):  # 20 frames unseen
        assert len(tracker.update(frame([]))) == 0
    out = tracker.update(frame([box(10 + 3 * 30, 50)]))
    assert out.track_id.tolist() == [1]


def test_bytetrack_gap_longer_than_the_buffer_starts_a_new_track() -> None:
    tracker = ByteTrack(ByteTrackOptions(track_buffer=5))
    for _ in range(5):
        tracker.update(frame([box(10, 50)]))
    ended = []
    for _ in range(7):
        ended += tracker.update(frame([])).ended.tolist()
    assert ended == [1]
    assert tracker.update(frame([box(10, 50)])).track_id.tolist() == [2]


def test_bytetrack_low_score_detections_recover_the_track() -> None:
    tracker = ByteTrack()
    for t in range(5):
        tracker.update(frame([box(10 + 5 * t, 50)], [0.9]))
    for t in range(5, 10):  # partly occluded: weak detections only
        out = tracker.update(frame([box(10 + 5 * t, 50)], [0.3]))
        assert out.track_id.tolist() == [1] and out.confirmed.all()
    # a weak detection alone never starts a track
    fresh = ByteTrack()
    assert len(fresh.update(frame([box(0, 0)], [0.45]))) == 0
    assert len(fresh.update(frame([box(0, 0)], [0.3]))) == 0


def test_bytetrack_confirms_new_tracks_on_their_second_frame() -> None:
    tracker = ByteTrack()
    tracker.update(frame([box(0, 0)]))  # frame 1: confirmed at once
    out = tracker.update(frame([box(2, 0), box(300, 0)]))
    assert dict(zip(out.track_id.tolist(), out.confirmed.tolist(), strict=True)) == {1: True, 2: False}
    out = tracker.update(frame([box(4, 0), box(302, 0)]))
    assert out.confirmed.all()


def swap_scene(tracker: ByteTrack | DeepSort) -> dict[int, set[int]]:
    """Two cars, one partly behind the other; both hidden for 2 frames; then they reappear swapped.

    Returns, per appearance (feature row 0 = car A, 1 = car B), the track ids it received.
    """
    left, right = box(100, 100, 60, 60), box(115, 100, 60, 60)  # one partly behind the other
    features = np.eye(2, 16, dtype=np.float32)
    owners: dict[int, set[int]] = {0: set(), 1: set()}

    def step(boxes: list[list[float]], feats: np.ndarray, appearances: list[int]) -> None:
        out = tracker.update(frame(boxes, features=feats))
        for track_id, det in zip(out.track_id.tolist(), out.det_index.tolist(), strict=True):
            owners[appearances[det]].add(track_id)

    for _ in range(6):
        step([left, right], features, [0, 1])
    for _ in range(2):
        tracker.update(frame([]))
    for _ in range(4):
        step([left, right], features[::-1], [1, 0])  # B now on the left, A on the right
    return owners


def test_deepsort_appearance_keeps_ids_through_a_swap() -> None:
    owners = swap_scene(DeepSort())
    assert owners[0] == {1} and owners[1] == {2}


def test_bytetrack_alone_follows_positions_through_the_same_swap() -> None:
    owners = swap_scene(ByteTrack())  # why DeepSORT exists: IoU cannot tell the cars apart
    assert owners[0] == {1, 2} and owners[1] == {1, 2}


def test_deepsort_deletes_tentative_tracks_missed_once_and_needs_embeddings() -> None:
    tracker = DeepSort(n_init=3)
    out = tracker.update(frame([box(0, 0)]))
    assert out.confirmed.tolist() == [False]
    out = tracker.update(frame([]))
    assert out.ended.tolist() == [1]
    with pytest.raises(ValueError, match="need embeddings"):
        tracker.update(Detections(np.array([box(0, 0)]), [0.9], [2]))


def test_unknown_tracker_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="bytetrack_iou, deepsort"):
        build_tracker("sort")
