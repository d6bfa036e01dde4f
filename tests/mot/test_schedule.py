"""Detection schedules: decisions, coasting trackers, interpolation, and the pipeline on real video."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from detection.boxes import iou_matrix, xywh_to_xyxy
from detection.factory import build_detector
from detection.filters import filter_detections
from detection.types import Detections
from detection.video import iter_frames
from mot.builder import TrackletBuilder
from mot.factory import build_tracker
from mot.interpolate import BOX_SOURCE, DETECTED, INTERPOLATED, PREDICTED, fill_gaps
from mot.pipeline import LoopStats, track_frames
from mot.schedule import DetectionSchedule, ScheduleSpec, frames_for, scheduled, scheduled_step
from mot.tracklet import Tracklet

VEHICLES = [2, 3, 5, 7]
FRAMES = 60


def select(dets: Detections) -> Detections:
    return filter_detections(dets, 0.1, VEHICLES, None)


@pytest.fixture(scope="module")
def detector():  # type: ignore[no-untyped-def]
    return build_detector("yolox_nano.onnx", conf_threshold=0.1)


@pytest.fixture(scope="module")
def clip(shared: Path) -> list[tuple[int, np.ndarray]]:
    """The first frames of the real intersection video (30 fps, vehicles entering and leaving)."""
    return list(itertools.islice(iter_frames(str(shared / "data/traffic/intersection_960x540.mp4")), FRAMES))


@pytest.fixture(scope="module")
def detections(clip: list, detector) -> dict[int, Detections]:  # type: ignore[no-untyped-def]
    """The detector's output per frame: a schedule only decides which of them the tracker sees."""
    return {index: detector.detect_batch([frame])[0] for index, frame in clip}


class Cached:
    """A detector answering from ``detections`` by frame identity (frames are decoded once)."""

    def __init__(self, clip: list, detections: dict[int, Detections]) -> None:
        self.by_id = {id(frame): detections[index] for index, frame in clip}
        self.calls = 0

    def detect_batch(self, frames: list[np.ndarray]) -> list[Detections]:
        self.calls += len(frames)
        return [self.by_id[id(f)] for f in frames]


def run(clip: list, detections: dict, spec: ScheduleSpec | None, **builder: object) -> tuple[list, LoopStats]:
    schedule = None if spec is None else DetectionSchedule(spec)
    skips = spec is not None and spec.skips
    built = TrackletBuilder(0, 1, 1, box_sources=skips, max_gap=spec.fill_gap if spec else 0, **builder)  # type: ignore[arg-type]
    stats = LoopStats()
    out = track_frames(
        iter(clip), Cached(clip, detections), select, build_tracker("bytetrack_iou"), built, stats=stats,
        schedule=schedule,
    )  # fmt: skip
    return out, stats


# ---------------------------------------------------------------------- decisions


@pytest.mark.parametrize(
    ("spec", "indices", "expected"),
    [
        (ScheduleSpec("every_frame"), range(5), [0, 1, 2, 3, 4]),
        (ScheduleSpec("interval", 3), range(8), [0, 3, 6]),
        (ScheduleSpec("interval", 3, phase=2), range(9), [2, 5, 8]),
        (ScheduleSpec("interval", 3), [0, 1, 5, 6, 7, 8], [0, 5, 8]),  # live ticks may jump
        (ScheduleSpec("interval", 1), range(3), [0, 1, 2]),
    ],
)
def test_interval_decisions(spec: ScheduleSpec, indices: range | list, expected: list[int]) -> None:
    schedule = DetectionSchedule(spec)
    assert [i for i in indices if schedule.decide(i)] == expected


def test_stagger_offsets_cameras_by_index() -> None:
    spec = ScheduleSpec("interval", 3)
    schedules = [DetectionSchedule(spec.staggered(cam)) for cam in range(3)]
    due = [[i for i in range(6) if schedule.decide(i)] for schedule in schedules]
    assert due == [[0, 3], [1, 4], [2, 5]]
    assert ScheduleSpec("every_frame").staggered(2).phase == 0


def test_frames_for_follows_the_frame_rate() -> None:
    assert [frames_for(0.3, 10), frames_for(0.3, 30), frames_for(0.0, 30), frames_for(0.3, 0)] == [3, 9, 1, 1]


def test_bad_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="schedule kind"):
        ScheduleSpec("sometimes")
    with pytest.raises(ValueError, match="interval 0"):
        ScheduleSpec("interval", 0)


def test_motion_schedule_on_real_frames(clip: list) -> None:
    """A frozen scene is detected every max_interval frames; the moving intersection every interval."""
    spec = ScheduleSpec("motion", interval=2, max_interval=10, motion_threshold=0.001)
    frozen = DetectionSchedule(spec)
    still = clip[0][1]
    assert [i for i in range(25) if frozen.decide(i, still)] == [0, 10, 20]
    moving = DetectionSchedule(spec)
    due = [i for i, frame in clip[:25] if moving.decide(i, frame)]
    assert due[:2] == [0, 2] and np.all(np.diff(due) <= 10)
    assert len(due) > 3  # the traffic moves: more than the static cadence


def test_urgent_when_a_track_moves_fast() -> None:
    schedule = DetectionSchedule(ScheduleSpec("interval", 5, max_shift=0.1))
    fast = build_tracker("bytetrack_iou")
    box = np.array([[100.0, 100.0, 140.0, 140.0]])
    for k in range(3):  # a 40-pixel box moving 8 pixels a frame: 0.2 box heights per frame
        assert schedule.decide(k) == (k == 0)
        dets = Detections(box + 8 * k, np.array([0.9]), np.array([2]))
        _, _, detected = scheduled_step(fast, schedule, k, dets, lambda d=dets: d)
        assert detected
    assert schedule.urgent(3)
    assert not DetectionSchedule(ScheduleSpec("interval", 5)).urgent(3)  # adaptivity off


# ---------------------------------------------------------------------- interpolation


def test_fill_gaps_interpolates_between_detections_and_drops_the_tail() -> None:
    frames = np.array([0, 1, 2, 3, 4, 5])
    boxes = np.array(
        [[0, 0, 10, 10], [5, 5, 15, 15], [9, 9, 19, 19], [30, 0, 40, 10], [0, 0, 1, 1], [0, 0, 1, 1]]
    )
    predicted = np.array([False, True, True, False, True, True])
    kept, out, source = fill_gaps(frames, boxes.astype(float), predicted)
    np.testing.assert_array_equal(kept, [0, 1, 2, 3])
    np.testing.assert_allclose(out[1], [10, 0, 20, 10])
    np.testing.assert_allclose(out[2], [20, 0, 30, 10])
    np.testing.assert_array_equal(source, [DETECTED, INTERPOLATED, INTERPOLATED, DETECTED])


def test_fill_gaps_keeps_the_tail_of_a_track_followed_to_the_end() -> None:
    boxes = np.array([[0.0, 0, 4, 4], [1, 0, 5, 4], [2, 0, 6, 4]])
    kept, out, source = fill_gaps(np.arange(3), boxes, np.array([False, True, True]), keep_tail=True)
    np.testing.assert_array_equal(kept, [0, 1, 2])
    np.testing.assert_array_equal(out, boxes)
    assert list(source) == [DETECTED, PREDICTED, PREDICTED]


def test_fill_gaps_adds_back_short_lost_runs_only() -> None:
    frames = np.array([0, 3, 20])
    boxes = np.array([[0.0, 0, 4, 4], [3, 0, 7, 4], [20, 0, 24, 4]])
    kept, out, source = fill_gaps(frames, boxes, np.zeros(3, bool), max_gap=4)
    np.testing.assert_array_equal(kept, [0, 1, 2, 3, 20])
    np.testing.assert_allclose(out[1:3, 0], [1, 2])
    assert list(source) == [DETECTED, INTERPOLATED, INTERPOLATED, DETECTED, DETECTED]


# ---------------------------------------------------------------------- trackers and the loop, real video


def test_every_frame_is_todays_loop_exactly(clip: list, detections: dict) -> None:
    """The schedule every_frame gives the results of the loop without any schedule, and a plain one."""
    plain = TrackletBuilder(0, 1, 1)
    tracker = build_tracker("bytetrack_iou")
    for index, frame in clip:
        plain.add(index, frame, tracker.update(select(detections[index])), select(detections[index]))
    plain.end(tracker.finish())
    reference = plain.finish()
    for spec in (None, ScheduleSpec("every_frame"), ScheduleSpec("interval", 1)):
        out, stats = run(clip, detections, spec)
        assert stats.detected_frames == len(clip)
        assert_same(out, reference)


def assert_same(a: list[Tracklet], b: list[Tracklet]) -> None:
    assert [t.track_id for t in a] == [t.track_id for t in b] and a
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.frames, y.frames)
        np.testing.assert_array_equal(x.bboxes, y.bboxes)
        np.testing.assert_array_equal(x.scores, y.scores)
        assert x.frame_attributes == y.frame_attributes == {}


def test_skipped_frames_carry_predicted_boxes_marked_as_such(clip: list, detections: dict) -> None:
    spec = ScheduleSpec("interval", 3)
    live, stats = run(clip, detections, spec, interpolate=False)
    assert stats.detected_frames == len(range(0, FRAMES, 3))
    for t in live:
        source = t.frame_attributes[BOX_SOURCE]
        detected_frames = t.frames % 3 == 0
        np.testing.assert_array_equal(source == DETECTED, detected_frames)
        assert set(source[~detected_frames]) <= {PREDICTED}
    assert any((t.frame_attributes[BOX_SOURCE] == PREDICTED).any() for t in live)
    batch, _ = run(clip, detections, spec)
    for t in batch:
        source = t.frame_attributes[BOX_SOURCE]
        assert source[0] == DETECTED and set(source) <= {DETECTED, INTERPOLATED, PREDICTED}
        tail = np.flatnonzero(source == PREDICTED)  # only after the last detection of a track
        if len(tail):  # that was still followed when the clip ended
            assert tail[0] > np.flatnonzero(source == DETECTED)[-1] and t.end_frame == FRAMES - 1
        else:
            assert source[-1] == DETECTED


def test_interpolated_boxes_lie_between_the_detections(clip: list, detections: dict) -> None:
    batch, _ = run(clip, detections, ScheduleSpec("interval", 3))
    checked = 0
    for t in batch:
        source = t.frame_attributes[BOX_SOURCE]
        known = np.flatnonzero(source == DETECTED)
        for a, b in itertools.pairwise(known):
            inner = t.bboxes[a + 1 : b]
            lo, hi = np.minimum(t.bboxes[a], t.bboxes[b]), np.maximum(t.bboxes[a], t.bboxes[b])
            assert np.all(inner >= lo - 1e-3) and np.all(inner <= hi + 1e-3)
            checked += len(inner)
    assert checked > 50


def test_a_vehicle_entering_between_detections_is_picked_up_within_the_interval(
    clip: list, detections: dict
) -> None:
    """Every vehicle the every-frame run follows from after the first frame appears in the scheduled
    run by the first regular detection at or after its entry (at most interval - 1 frames late):
    the adaptive schedule confirms the new track on the next frame."""
    interval = 4
    every, _ = run(clip, detections, None)
    scheduled_run, _ = run(clip, detections, ScheduleSpec("interval", interval, max_shift=0.1))
    entering = [t for t in every if t.start_frame > 0 and len(t) >= 15]
    assert len(entering) >= 3
    for t in entering:
        due = -(-t.start_frame // interval) * interval  # first detected frame from its entry on
        row = np.flatnonzero(t.frames >= due)[0]
        frame, box = t.frames[row], xywh_to_xyxy(t.bboxes[row : row + 1])
        boxes = [s.bboxes[s.frames == frame] for s in scheduled_run if frame in s.frames]
        assert boxes, f"nothing tracked at frame {frame}"
        best = iou_matrix(box, xywh_to_xyxy(np.concatenate(boxes))).max()
        assert frame - t.start_frame < interval + 2 and best > 0.5, (t.track_id, frame, best)


@pytest.mark.parametrize("tracker_name", ["bytetrack_iou", "deepsort"])
def test_coast_predicts_without_counting_a_miss(clip: list, detections: dict, tracker_name: str) -> None:
    tracker = build_tracker(tracker_name)
    for index in range(5):
        dets = select(detections[index])
        tracker.update(dets.with_embedding(np.ones((len(dets), 4), np.float32) / 2))
    before = tracker.update(
        select(detections[5]).with_embedding(np.ones((len(select(detections[5])), 4)) / 2)
    )
    coasted = [tracker.coast() for _ in range(3)]
    assert len(before) and all(len(c) == len(before[before.det_index >= 0]) for c in coasted)
    for c in coasted:
        assert (c.det_index == -1).all() and (c.class_id == -1).all() and len(c.ended) == 0
    assert set(coasted[-1].track_id) == set(before.track_id)


def test_live_worker_steps_through_the_batch_schedule_code(
    shared: Path, clip: list, detections: dict
) -> None:
    """The live worker and the batch loop decide with the same schedule and coast the same way."""
    from mtmc.live.worker import LiveMOTWorker

    spec = ScheduleSpec("interval", 3)
    schedule = DetectionSchedule(spec)
    builder = TrackletBuilder(0, 1, 1, interpolate=False, box_sources=True)
    worker = LiveMOTWorker.__new__(LiveMOTWorker)  # only the per-frame step, no thread or server
    worker.detector, worker.select, worker.tracker, worker.builder = (
        Cached(clip, detections),
        select,
        build_tracker("bytetrack_iou"),
        builder,
    )
    worker.schedule = schedule
    for index, frame in clip[:12]:
        worker.step(index, frame)
    builder.end(worker.tracker.finish())
    live = builder.finish()
    batch_schedule = DetectionSchedule(spec)
    assert [i for i, _, due in scheduled(clip[:12], batch_schedule) if due] == [0, 3, 6, 9]
    assert schedule.detected == 4 and schedule.seen == 12
    reference, _ = run(clip[:12], detections, spec, interpolate=False)
    assert_same_boxes(live, reference)


def assert_same_boxes(a: list[Tracklet], b: list[Tracklet]) -> None:
    assert [t.track_id for t in a] == [t.track_id for t in b] and a
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.frames, y.frames)
        np.testing.assert_array_equal(x.bboxes, y.bboxes)
        np.testing.assert_array_equal(x.frame_attributes[BOX_SOURCE], y.frame_attributes[BOX_SOURCE])


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["MOT.DETECTION_SCHEDULE", "sometimes"], "MOT.DETECTION_SCHEDULE"),
        (["MOT.DETECTION_INTERVAL", "-1"], "MOT.DETECTION_INTERVAL"),
        (
            [
                "MOT.DETECTION_SCHEDULE",
                "motion",
                "MOT.DETECTION_INTERVAL",
                "2",
                "MOT.MOTION_MAX_INTERVAL",
                "1",
            ],
            "MOT.MOTION_MAX_INTERVAL",
        ),
    ],
)
def test_bad_schedule_settings_name_the_key(tmp_path: Path, overrides: list[str], key: str) -> None:
    from config.loader import ConfigError, load_config

    with pytest.raises(ConfigError, match=key):
        load_config(None, ["OUTPUT_DIR", str(tmp_path), *overrides], mode="any")


def test_camera_schedule_follows_the_frame_rate_and_the_camera_index() -> None:
    from config.defaults import get_cfg_defaults
    from mot.camera_setup import detection_schedule

    mot = get_cfg_defaults().MOT
    assert detection_schedule(mot, 10.0).spec.interval == round(mot.DETECTION_INTERVAL * 10)
    assert detection_schedule(mot, 30.0, camera=2).spec.phase == 2 % round(mot.DETECTION_INTERVAL * 30)
