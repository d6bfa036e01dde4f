"""The live worker's per-tick work: detections spread over ticks, JPEGs only for watchers.

Workers are driven tick by tick in the test's thread on real c010 frames (no clock, no
timing): what is checked is which ticks detect and what the worker publishes and records.
"""

from __future__ import annotations

import http.client
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from config.loader import load_config
from mot.model_cache import ModelCache
from mot.tracklet import Tracklet
from mtmc.live.clock import DetectionSlots, detection_slots
from mtmc.live.run import LiveRun


@pytest.fixture(scope="module")
def models() -> ModelCache:
    return ModelCache()


def live_run(tmp_path: Path, video: Path, cameras: int, models: ModelCache) -> LiveRun:
    """A live session of ``cameras`` copies of ``video`` at 8 ticks/s (not started)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    names = [f"cam{i}" for i in range(cameras)]
    (tmp_path / "layout.txt").write_text(f"fps {' '.join(['10'] * cameras)}\n")
    lines = "".join(f"    - name: {n}\n      video: {video}\n" for n in names)
    (tmp_path / "live.yaml").write_text(
        f"OUTPUT_DIR: {tmp_path / 'out'}\nMTMC:\n  CAMERA_LAYOUT: {tmp_path / 'layout.txt'}\n"
        f"LIVE:\n  TARGET_FPS: 8\n  MJPEG_PORT: 0\n  LOOP_VIDEO: true\nEXPRESS:\n  CAMERAS:\n{lines}"
    )
    return LiveRun(load_config(tmp_path / "live.yaml", [], mode="live"), models)


def drive(run: LiveRun, ticks: range) -> list[int]:
    """Process ``ticks`` on every worker in turn; the number of cameras that detected on each tick."""
    per_tick = []
    for tick in ticks:
        before = [w.schedule.detected for w in run.workers if w.schedule is not None]
        for worker in run.workers:
            frame = worker.source.frame(tick)
            assert frame is not None
            worker.process(tick, frame.image)
        after = [w.schedule.detected for w in run.workers if w.schedule is not None]
        per_tick.append(sum(a - b for a, b in zip(after, before, strict=True)))
    return per_tick


def boxes_of(tracklets: list[Tracklet]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    return [(t.track_id, t.frames, t.bboxes) for t in tracklets]


def test_detection_slots_cap_a_tick_and_a_held_back_camera_goes_first_next_tick() -> None:
    slots = DetectionSlots(2)
    assert slots.reserve(5, "a") and slots.reserve(5, "b") and not slots.reserve(5, "c")
    assert slots.taken(6) == 1  # "c" is booked a slot of tick 6
    slots.release(5)
    assert slots.taken(5) == 1 and slots.reserve(5, "d") and not slots.reserve(5, "e")  # "e" books 6 too
    assert slots.reserve(6, "a") is False  # 6 is full of the held-back cameras' bookings
    assert slots.reserve(6, "c") and slots.reserve(6, "e") and slots.taken(6) == 2
    # a busy scene where all cameras want every tick, always asking in the same order (the last
    # would find every slot taken, tick after tick): the held-back ones queue and take turns
    for per_tick, longest_wait in ((2, 1), (1, 2)):
        busy, waits, longest = DetectionSlots(per_tick), dict.fromkeys("xyz", 0), 0
        for tick in range(10, 40):
            for name in "xyz":
                waits[name] = 0 if busy.reserve(tick, name) else waits[name] + 1
                longest = max(longest, waits[name])
            assert busy.taken(tick) == per_tick
        assert longest == longest_wait
    one = DetectionSlots(1)
    assert one.reserve(50, "p") and not one.reserve(50, "q") and one.taken(51) == 1  # "q" books 51
    assert one.reserve(53, "q") and one.taken(51) == 0  # it jumped past 51: that slot is given back
    for tick in range(200, 400):  # old ticks are forgotten: memory stays bounded
        slots.reserve(tick, "x")
    assert len(slots._taken) <= slots.keep
    assert detection_slots([2, 2, 2]).per_tick == 2  # type: ignore[union-attr]
    assert detection_slots([2, 2]).per_tick == 1  # type: ignore[union-attr]
    assert detection_slots([9, 9, 9]).per_tick == 1  # type: ignore[union-attr]
    assert detection_slots([2]) is None  # one camera detects once per tick at most anyway


def test_three_live_cameras_never_detect_on_the_same_tick(
    shared: Path, tmp_path: Path, models: ModelCache
) -> None:
    run = live_run(tmp_path, shared / "data" / "aic_s03_c010" / "c010_first100.mp4", 3, models)
    try:
        assert run.slots is not None and run.slots.per_tick == 2  # 0.3 s at 8 ticks/s: every 2nd tick
        per_tick = drive(run, range(24))
    finally:
        run.shutdown()
    # every camera starts with new tracks (urgent detections on its second tick): a cap is needed
    assert max(per_tick) <= 2, per_tick
    assert all(w.schedule is not None and w.schedule.detected >= 3 for w in run.workers)
    assert sum(w.stats.held_back for w in run.workers) >= 1  # the cap held a camera back


def test_frames_are_drawn_and_encoded_only_while_a_client_watches(
    shared: Path, tmp_path: Path, models: ModelCache
) -> None:
    video = shared / "data" / "aic_s03_c010" / "c010_first100.mp4"
    watched, unwatched = (live_run(tmp_path / name, video, 1, models) for name in ("a", "b"))
    try:
        hub = watched.hub
        watched.server.start()
        conn = http.client.HTTPConnection("127.0.0.1", watched.server.port, timeout=30)
        conn.request("GET", "/cam0.mjpg")
        stream = conn.getresponse()
        deadline = time.monotonic() + 30
        while not hub.watched("cam0") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stream.status == 200 and hub.watched("cam0") and not unwatched.hub.watched("cam0")
        drive(watched, range(6))
        frame = unwatched.workers[0].source.frame(0)
        assert frame is not None
        pristine = frame.image.copy()
        drive(unwatched, range(6))
        version, jpeg = hub.latest("cam0")
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert version == 6 and image.shape == pristine.shape
        assert unwatched.hub.latest("cam0") == (0, b"")  # nobody watched: nothing encoded
        assert np.array_equal(frame.image, pristine)  # nor drawn onto the frame
        # what is tracked and saved does not depend on anyone watching
        a, b = (boxes_of(r.workers[0].builder.snapshot()) for r in (watched, unwatched))
        assert a and [t[0] for t in a] == [t[0] for t in b]
        for (_, frames_a, boxes_a), (_, frames_b, boxes_b) in zip(a, b, strict=True):
            assert np.array_equal(frames_a, frames_b) and np.array_equal(boxes_a, boxes_b)
        stream.close()
        conn.close()
        deadline = time.monotonic() + 30
        while hub.watched("cam0") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not hub.watched("cam0")  # the client left: the worker stops encoding
    finally:
        watched.shutdown()
        unwatched.shutdown()
