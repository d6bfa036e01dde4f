"""LiveMOTWorker: one camera in live mode, a thread from frame to annotated JPEG.

Per tick of the ``VirtualClock``: take the camera's frame for that moment, detect when the
camera's detection schedule says so (``mot.schedule``, the batch runs' code; on the other ticks
the tracker predicts, and nothing is interpolated into the past), track (ByteTrack), embed a
few tracks' crops from detected ticks (so every active track gets an appearance feature within
a second or so, without embedding every box), report the active tracks to the aggregator, draw
the boxes with their global ids and publish the JPEG to the ``FrameHub``.

Sources (``LiveSource``): a video file is sampled at the tick rate (frame ``tick x video fps /
target fps``), looping with ``LIVE.LOOP_VIDEO``; a stream (rtsp://, http://) is read by a
background thread that keeps only the latest frame and reconnects with back-off when it drops.
Models are shared by all workers (ONNX Runtime and OpenVINO inference is thread-safe); the
tracker and everything about tracks are the worker's own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from detection.boxes import crop_boxes, xyxy_to_xywh
from detection.tiling import Detector
from detection.types import Detections
from detection.video import probe_video
from mot.base import Tracker, Tracks
from mot.builder import TrackletBuilder
from mot.schedule import DetectionSchedule, scheduled_step
from mot.tracklet import Tracklet
from mot.video_output import draw_tracks
from mtmc.live.aggregator import LiveMTMCAggregator, LiveTrack
from mtmc.live.clock import VirtualClock
from mtmc.live.server import FrameHub

log = logging.getLogger(__name__)

EMBEDS_PER_FRAME = 4  # crops embedded per tick at most
EMBED_EVERY = 1.0  # seconds between two embeddings of one track
JPEG_QUALITY = 80


class LiveSource:
    """Frames by tick: files sampled at the tick rate (looping or not), streams by their latest frame."""

    def __init__(self, source: str, target_fps: float, loop: bool = True) -> None:
        self.source, self.target_fps, self.loop = source, target_fps, loop
        self.info = probe_video(source)
        self.is_stream = self.info.is_stream
        self._latest: np.ndarray | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._cap: cv2.VideoCapture | None = None
        self._position = -1  # index of the last frame read from a file
        if self.is_stream:
            self._thread = threading.Thread(target=self._pump, name=f"stream:{source}", daemon=True)
            self._thread.start()

    def frame(self, tick: int) -> np.ndarray | None:
        """The frame for ``tick``; None when a stream has nothing yet or a non-looping file ended."""
        if self.is_stream:
            with self._lock:
                return None if self._latest is None else self._latest.copy()
        index = int(tick * self.info.fps / self.target_fps)
        if self.info.frames > 0 and index >= self.info.frames:
            if not self.loop:
                return None
            index %= self.info.frames
        return self._read_file(index)

    def close(self) -> None:
        self._stop.set()
        if self.is_stream:
            self._thread.join(timeout=0.5)  # a daemon thread; it ends at its next read
        if self._cap is not None:
            self._cap.release()

    def _read_file(self, index: int) -> np.ndarray | None:
        if self._cap is None or index <= self._position:
            if self._cap is not None:
                self._cap.release()
            self._cap = cv2.VideoCapture(self.source)
            self._position = -1
        while self._position < index - 1:  # skip to the frame: grab without decoding into memory
            if not self._cap.grab():
                return None
            self._position += 1
        ok, frame = self._cap.read()
        self._position += 1
        return frame if ok else None

    def _pump(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            cap = cv2.VideoCapture(self.source)
            if not cap.isOpened():
                log.warning("%s: cannot open the stream; retrying in %.1f s", self.source, delay)
                self._stop.wait(delay)
                delay = min(2 * delay, 10.0)
                continue
            delay = 0.5
            while not self._stop.is_set():
                ok, frame = cap.read()
                if not ok:
                    log.warning("%s: the stream dropped; reconnecting", self.source)
                    break
                with self._lock:
                    self._latest = frame
            cap.release()


@dataclass
class _Appearance:
    """A track's appearance so far: embedded samples and their area-weighted mean."""

    total: np.ndarray | None = None
    weight: float = 0.0
    samples: list[tuple[int, np.ndarray]] = field(default_factory=list)
    last_embedded: int = -(10**9)

    def add(self, tick: int, feature: np.ndarray, area: float, keep: int) -> None:
        self.total = feature * area if self.total is None else self.total + feature * area
        self.weight += area
        self.samples = [*self.samples, (tick, feature)][-keep:]
        self.last_embedded = tick

    @property
    def mean(self) -> np.ndarray | None:
        if self.total is None:
            return None
        return (self.total / max(float(np.linalg.norm(self.total)), 1e-12)).astype(np.float32)


@dataclass
class WorkerStats:
    frames: int = 0
    skipped: int = 0  # ticks jumped over to keep up with real time
    fps: float = 0.0
    tracks: int = 0
    last_tick: int = -1
    last_frame_at: float | None = None  # time.monotonic() of the last published frame
    error: str = ""


class LiveMOTWorker(threading.Thread):
    def __init__(
        self,
        index: int,
        name: str,
        source: LiveSource,
        clock: VirtualClock,
        aggregator: LiveMTMCAggregator,
        hub: FrameHub,
        detector: Detector,
        select: Callable[[Detections], Detections],
        embed_crops: Callable[[Sequence[np.ndarray]], np.ndarray],
        tracker: Tracker,
        builder: TrackletBuilder,
        sleep_on_empty: float = 0.02,
        samples_per_track: int = 10,
        schedule: DetectionSchedule | None = None,
    ) -> None:
        super().__init__(name=f"camera:{name}", daemon=True)
        self.index, self.camera = index, name
        self.source, self.clock, self.aggregator, self.hub = source, clock, aggregator, hub
        self.detector, self.select, self.embed_crops, self.tracker = detector, select, embed_crops, tracker
        self.builder, self.sleep_on_empty, self.samples_per_track = builder, sleep_on_empty, samples_per_track
        self.schedule = schedule  # None: detect every tick
        self.embed_every = max(1, round(EMBED_EVERY * source.target_fps))
        self._classes: dict[int, int] = {}  # last detected class of each track (predicted rows have none)
        self.stats = WorkerStats()
        self._appearance: dict[int, _Appearance] = {}
        self._first_tick: dict[int, int] = {}
        self._frames_seen: dict[int, int] = {}
        self.clock.register(name)

    def run(self) -> None:
        last = -1
        try:
            while True:
                tick = self.clock.wait_for_tick(self.camera, last)
                if tick is None:
                    return
                self.stats.skipped += max(0, tick - last - 1) if last >= 0 else 0
                frame = self.source.frame(tick)
                if frame is None:
                    if not self.source.is_stream and not self.source.loop:
                        log.info("camera '%s': the video ended", self.camera)
                        return
                    time.sleep(self.sleep_on_empty)
                else:
                    self.process(tick, frame)
                last = tick
        except Exception as err:  # a broken camera must not take the others down
            self.stats.error = f"{type(err).__name__}: {err}"
            log.exception("camera '%s' stopped", self.camera)
        finally:
            self.clock.unregister(self.camera)

    def step(self, tick: int, frame: np.ndarray) -> tuple[Tracks, Detections]:
        """Detect the tick when the schedule says so, track it, record it in the builder."""

        def detect() -> Detections:
            return self.select(self.detector.detect_batch([frame])[0])

        due = self.schedule is None or self.schedule.decide(tick, frame)
        tracks, detections, _ = scheduled_step(
            self.tracker, self.schedule, tick, detect() if due else None, detect
        )
        self.builder.add(tick, frame, tracks, detections)
        return tracks, detections

    def process(self, tick: int, frame: np.ndarray) -> None:
        start = time.perf_counter()
        tracks, detections = self.step(tick, frame)
        shown = tracks[tracks.confirmed]
        self._embed(tick, frame, shown, detections)
        live = [self._live_track(tick, shown, row) for row in range(len(shown))]
        global_ids = self.aggregator.update(self.index, live)
        for track_id in tracks.ended.tolist():
            self._first_tick.pop(track_id, None)
            self._frames_seen.pop(track_id, None)
            self._classes.pop(track_id, None)
        labels = [f"G{global_ids[t]}" if t in global_ids else "" for t in shown.track_id.tolist()]
        image = draw_tracks(frame, shown.xyxy, shown.track_id.tolist(), labels)
        cv2.putText(
            image, f"{self.camera}  tick {tick}", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2
        )
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if ok:
            self.hub.publish(self.camera, jpeg.tobytes())
        seconds = time.perf_counter() - start
        rate = 1.0 / max(seconds, 1e-6)
        self.stats.fps = rate if self.stats.frames == 0 else 0.9 * self.stats.fps + 0.1 * rate
        self.stats.frames += 1
        self.stats.tracks = len(shown)
        self.stats.last_tick = tick
        self.stats.last_frame_at = time.monotonic()

    def finish(self) -> list[Tracklet]:
        """Every track so far as tracklets (ticks as frames), with the appearance gathered live."""
        self.builder.end(self.tracker.finish())
        tracklets = self.builder.finish()
        for t in tracklets:
            appearance = self._appearance.get(t.track_id)
            if appearance is not None and appearance.samples:
                t.features = np.stack([f for _, f in appearance.samples])
                t.feature_frames = np.array([tick for tick, _ in appearance.samples], np.int64)
                t.mean_feature = appearance.mean
        self.source.close()
        return tracklets

    # ------------------------------------------------------------------ internals

    def _embed(self, tick: int, frame: np.ndarray, tracks: Tracks, detections: Detections) -> None:
        """Embed a few tracks' crops: those with no feature first, then the longest unrefreshed."""
        due = []
        for row, track_id in enumerate(tracks.track_id.tolist()):
            appearance = self._appearance.setdefault(track_id, _Appearance())
            if tracks.det_index[row] < 0:  # a predicted box: crops come from detections only
                continue
            if tick - appearance.last_embedded >= self.embed_every:
                due.append((appearance.last_embedded, row))
        due = sorted(due)[:EMBEDS_PER_FRAME]
        if not due:
            return
        rows = [row for _, row in due]
        boxes = detections.xyxy[tracks.det_index[rows]]
        features = self.embed_crops(crop_boxes(frame, boxes))
        for row, box, feature in zip(rows, boxes, features, strict=True):
            area = float((box[2] - box[0]) * (box[3] - box[1]))
            self._appearance[int(tracks.track_id[row])].add(tick, feature, area, self.samples_per_track)

    def _live_track(self, tick: int, tracks: Tracks, row: int) -> LiveTrack:
        track_id = int(tracks.track_id[row])
        self._first_tick.setdefault(track_id, tick)
        self._frames_seen[track_id] = self._frames_seen.get(track_id, 0) + 1
        if tracks.class_id[row] >= 0:
            self._classes[track_id] = int(tracks.class_id[row])
        x, y, w, h = xyxy_to_xywh(tracks.xyxy[row : row + 1])[0].tolist()
        return LiveTrack(
            camera=self.index,
            track_id=track_id,
            first_tick=self._first_tick[track_id],
            last_tick=tick,
            frames=self._frames_seen[track_id],
            bbox=(x, y, w, h),
            feature=self._appearance[track_id].mean,
            class_id=self._classes.get(track_id, -1),
        )
