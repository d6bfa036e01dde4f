"""ByteTrack's optional behaviours (IoU convention, ORU, xywh filter, appearance, adaptive split).

Scored behaviour uses the real KITTI PointRCNN detections of ../shared with TrackEval's KITTI
protocol; the assertions are directions and mechanisms, not tuned numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detection.types import Detections
from evaluate.kitti import KittiSequence, evaluate_kitti, tracked_lines
from mot.association import iou_distance
from mot.bytetrack.tracker import ByteTrack, ByteTrackOptions, is_score_valley, otsu_threshold
from mot.kalman import KalmanBoxFilter, KalmanXYWHFilter


def run_tracker(seq: KittiSequence, **kwargs: object) -> list[str]:
    return tracked_lines(ByteTrack(ByteTrackOptions(**kwargs), frame_rate=10.0), seq)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- IoU convention


def test_pixel_inclusive_iou_matches_the_reference_formula() -> None:
    a = np.array([[0.0, 0.0, 9.0, 9.0]])
    b = np.array([[5.0, 5.0, 14.0, 14.0]])
    # continuous boxes: 9 x 9 each, 4 x 4 overlap; pixel-inclusive (x2 - x1 + 1): 10 x 10, 5 x 5
    np.testing.assert_allclose(iou_distance(a, b), [[1 - 16 / (81 + 81 - 16)]])
    np.testing.assert_allclose(iou_distance(a, b, pixel_pad=1.0), [[1 - 25 / (100 + 100 - 25)]])
    # the +1 matters for small, distant boxes: two 4 px boxes 3 px apart overlap only with it
    small = np.array([[0.0, 0.0, 3.0, 3.0]]), np.array([[3.0, 0.0, 6.0, 3.0]])
    assert iou_distance(*small)[0, 0] == 1.0 and iou_distance(*small, pixel_pad=1.0)[0, 0] < 1.0


def test_iou_plus_one_only_changes_matching_of_small_boxes(seq_0000: KittiSequence) -> None:
    exact = run_tracker(seq_0000, iou_plus_one=False)
    inclusive = run_tracker(seq_0000, iou_plus_one=True)
    assert len(exact) > 500 and abs(len(inclusive) - len(exact)) < 0.05 * len(exact)


# ---------------------------------------------------------------------- OC-SORT re-update


def test_reupdate_rewinds_a_lost_track_to_its_last_observation() -> None:
    """A box moving 10 px/frame, unseen for 4 frames, reappears on its line: ORU recovers its velocity."""
    boxes = [[100.0 + 10 * t, 50.0, 160.0 + 10 * t, 90.0] for t in range(14)]
    seen = [t for t in range(14) if not 6 <= t < 10]
    velocities = {}
    for oru in (False, True):
        tracker = ByteTrack(ByteTrackOptions(observation_reupdate=oru, track_thresh=0.5), frame_rate=30.0)
        for t in range(14):
            dets = Detections(np.array([boxes[t]]), [0.9], [2]) if t in seen else Detections.empty()
            out = tracker.update(dets)
            if t == 10:
                assert out.track_id.tolist() == [1]  # found again either way
                velocities[oru] = tracker.tracks.mean[0, 4]
    # without ORU the filter's velocity decayed while unobserved and is pulled up only partly;
    # ORU re-filters along the gap and is close to the true 10 px/frame
    assert abs(velocities[True] - 10.0) < abs(velocities[False] - 10.0)
    assert abs(velocities[True] - 10.0) < 1.5


def test_reupdate_keeps_or_reduces_id_switches_on_kitti(seq_0000: KittiSequence, kitti: Path) -> None:
    """KITTI 0000 has cars occluded by passing traffic; ORU must not add identity switches."""
    n = {"0000": seq_0000.n_frames}
    plain = run_tracker(seq_0000, observation_reupdate=False)
    oru = run_tracker(seq_0000, observation_reupdate=True)
    assert oru != plain  # the option changes boxes after occlusions
    scores = evaluate_kitti({"0000": plain}, kitti / "label_02", n)["0000"]
    scores_oru = evaluate_kitti({"0000": oru}, kitti / "label_02", n)["0000"]
    assert scores_oru["IDSW"] <= scores["IDSW"]
    assert scores_oru["HOTA"] >= scores["HOTA"] - 0.005


def test_recovery_finds_a_car_that_stopped_while_occluded() -> None:
    """Moving 8 px/frame, hidden 4 frames, back where it was last seen: the prediction drifted away."""
    moving = [[100.0 + 8 * t, 50.0, 140.0 + 8 * t, 80.0] for t in range(8)]
    stopped = [moving[-1][0] + 2, 50.0, moving[-1][2] + 2, 80.0]
    ids = {}
    for ocr in (False, True):
        tracker = ByteTrack(ByteTrackOptions(observation_recovery=ocr), frame_rate=30.0)
        for b in moving:
            first = tracker.update(Detections(np.array([b]), [0.9], [2]))
        for _ in range(4):
            tracker.update(Detections.empty())
        for _ in range(2):  # a new track is confirmed on its second frame
            back = tracker.update(Detections(np.array([stopped]), [0.9], [2]))
        ids[ocr] = back.track_id.tolist()
    assert ids[True] == first.track_id.tolist()
    assert ids[False] != first.track_id.tolist()  # IoU with the drifted prediction alone fails


# ---------------------------------------------------------------------- BoT-SORT filter and appearance


def test_xywh_filter_follows_a_sudden_width_change_faster() -> None:
    """A car half leaving the frame: width halves, height stays; xywh estimates width directly."""
    widths = {}
    for name, kf in (("xyah", KalmanBoxFilter()), ("xywh", KalmanXYWHFilter())):
        box = np.array([[100.0, 100.0, 300.0, 180.0]])
        mean, cov = kf.initiate(kf.measure(box))
        for _ in range(5):
            mean, cov = kf.predict(mean, cov)
            mean, cov = kf.update(mean, cov, kf.measure(box))
        half = np.array([[200.0, 100.0, 300.0, 180.0]])
        for _ in range(2):
            mean, cov = kf.predict(mean, cov)
            mean, cov = kf.update(mean, cov, kf.measure(half))
        xyxy = kf.to_xyxy(mean)[0]
        widths[name] = xyxy[2] - xyxy[0]
    assert abs(widths["xywh"] - 100) < abs(widths["xyah"] - 100)


def test_xywh_filter_boxes_round_trip() -> None:
    kf = KalmanXYWHFilter()
    xyxy = np.array([[10.0, 20.0, 50.0, 80.0], [0.0, 0.0, 5.0, 3.0]])
    np.testing.assert_allclose(kf.to_xyxy(kf.measure(xyxy)), xyxy)
    mean, cov = kf.initiate(kf.measure(xyxy))
    assert mean.shape == (2, 8) and cov.shape == (2, 8, 8)
    np.testing.assert_allclose(kf.to_xyxy(kf.predict(mean, cov)[0]), xyxy)  # zero initial velocity


def test_unknown_kalman_state_is_rejected() -> None:
    with pytest.raises(ValueError, match="kalman_state"):
        ByteTrackOptions(kalman_state="xyxy")


def two_cars(t: int) -> np.ndarray:
    """Two overlapping cars that pass each other: at t=3 each box is nearer the other's track."""
    if t < 3:
        return np.array([[100.0, 100.0, 160.0, 140.0], [120.0, 100.0, 180.0, 140.0]])
    return np.array([[112.0, 100.0, 172.0, 140.0], [108.0, 100.0, 168.0, 140.0]])


def test_appearance_keeps_identities_that_iou_alone_swaps() -> None:
    looks = np.eye(2, 8, dtype=np.float32)  # car 0 and car 1 look different
    ids = {}
    for appearance in (False, True):
        tracker = ByteTrack(ByteTrackOptions(appearance=appearance))
        assert tracker.needs_embeddings is appearance
        for t in range(4):
            feats = looks if t < 3 else looks[::-1]  # at t=3 the detections come in swapped order...
            boxes = two_cars(t) if t < 3 else two_cars(t)[::-1]  # ...of boxes listed car 1 first
            out = tracker.update(Detections(boxes, [0.9, 0.9], [2, 2], feats))
        order = np.argsort(out.det_index)
        ids[appearance] = out.track_id[order].tolist()  # ids of (car 1's box, car 0's box)
    assert ids[True] == [2, 1]  # appearance follows each car
    assert ids[False] == [1, 2]  # IoU alone hands each id to the nearer box: a swap


def test_appearance_rejects_a_change_of_embedding_size() -> None:
    tracker = ByteTrack(ByteTrackOptions(appearance=True))
    tracker.update(Detections(two_cars(0), [0.9, 0.9], [2, 2], np.eye(2, 8, dtype=np.float32)))
    with pytest.raises(ValueError, match="expected dimension 8"):
        tracker.update(Detections(two_cars(1), [0.9, 0.9], [2, 2], np.eye(2, 4, dtype=np.float32)))


# ---------------------------------------------------------------------- adaptive (score-aware) split


def scaled(seq: KittiSequence, factor: float) -> KittiSequence:
    dets = [Detections(d.xyxy, d.score * factor, d.class_id) for d in seq.detections]
    return KittiSequence(seq.name, seq.n_frames, dets)


def test_otsu_split_sits_between_the_score_modes_and_follows_the_scale(seq_0000: KittiSequence) -> None:
    scores = np.concatenate([d.score for d in seq_0000.detections])
    split = otsu_threshold(scores, 0.1, 1.0)
    assert np.mean(scores > split) > 0.5  # most PointRCNN boxes are confident cars
    assert 0.4 < split < 0.95
    weak = otsu_threshold(scores * 0.5, 0.05, 1.0)
    assert weak == pytest.approx(split * 0.5, abs=0.05)
    assert otsu_threshold(np.array([0.7]), 0.1, 1.0) == 1.0


def test_adaptive_split_keeps_clutter_of_a_confident_detector_out(
    seq_0000: KittiSequence, kitti: Path
) -> None:
    """PointRCNN's clutter scores up to ~0.7: the split rises from 0.5 and fewer false tracks start."""
    tracker = ByteTrack(ByteTrackOptions(adaptive_thresh=True), frame_rate=10.0)
    splits = []
    for dets in seq_0000.detections:
        splits.append(tracker._thresholds(dets.score)[0])
    assert splits[0] == 0.5  # too few scores yet: the fixed split
    assert 0.5 < np.median(splits) <= 0.8
    n = {"0000": seq_0000.n_frames}
    labels = kitti / "label_02"
    fixed = evaluate_kitti({"0000": run_tracker(seq_0000, adaptive_thresh=False)}, labels, n)["0000"]
    adaptive = evaluate_kitti({"0000": run_tracker(seq_0000, adaptive_thresh=True)}, labels, n)["0000"]
    assert adaptive["FP"] < fixed["FP"]


def test_split_is_used_only_in_a_valley_of_the_scores(seq_0000: KittiSequence) -> None:
    """PointRCNN: clutter and cars with a sparse band between; evenly spread true scores: none."""
    scores = np.concatenate([d.score for d in seq_0000.detections])
    assert is_score_valley(scores, otsu_threshold(scores, 0.1, 1.0), 0.1)
    rng = np.random.default_rng(0)
    flat = np.concatenate([rng.uniform(0.5, 1.0, 800), rng.uniform(0.1, 0.7, 200)])
    assert not is_score_valley(flat, otsu_threshold(flat, 0.1, 1.0), 0.1)
    tracker = ByteTrack(ByteTrackOptions(adaptive_thresh=True))
    assert [tracker._thresholds(flat[i : i + 50])[0] for i in range(0, 1000, 50)] == [0.5] * 20


def test_adaptive_split_never_falls_below_track_thresh(seq_0000: KittiSequence) -> None:
    """A weak detector (the same boxes, scores halved) keeps its own floor."""
    weak = scaled(seq_0000, 0.5)
    tracker = ByteTrack(
        ByteTrackOptions(track_thresh=0.3, new_track_thresh=0.35, adaptive_thresh=True), frame_rate=10.0
    )
    splits = [tracker._thresholds(d.score)[0] for d in weak.detections]
    assert min(splits) >= 0.3 and max(splits) <= 0.8
    assert len(run_tracker(weak, track_thresh=0.3, new_track_thresh=0.35, adaptive_thresh=True)) > 0
