"""LiveMOTWorker: one camera in live mode, a thread from frame to annotated JPEG.

Per tick of the ``VirtualClock``: take the camera's frame for that moment, detect when the
camera's detection schedule says so (``mot.schedule``, the batch runs' code; on the other ticks
the tracker predicts, and nothing is interpolated into the past), track (ByteTrack), embed a
few tracks' crops from detected ticks (so every active track gets an appearance feature within
a second or so, without embedding every box), report the active tracks to the aggregator and,
while a stream client watches the camera, draw the boxes with their global ids and publish the
JPEG to the ``FrameHub`` (nobody watching: no drawing, no encoding). With ``DetectionSlots``
the workers share a cap on detections per tick (``mtmc.live.clock``): a camera that finds the
tick's slots taken predicts that tick and detects on the next.

Sources (``mtmc.live.capture.LiveSource``): a video file is sampled at the tick rate (frame
``tick x video fps / target fps``), looping with ``LIVE.LOOP_VIDEO``; a stream (rtsp://,
http://) is captured in its own process that reconnects with back-off when it drops.

Only a new frame is tracked (``Frame.seq`` changed). A camera with no new frame for
``stall_seconds`` (``LIVE.STALL_SECONDS``) is marked stalled: its tracks end (the saved
tracklets never repeat a frozen picture) and it rejoins with fresh tracks when frames come again.
Models are shared by all workers (ONNX Runtime and OpenVINO inference is thread-safe); the
tracker and everything about tracks are the worker's own.

Every ``checkpoint_seconds`` the worker appends the tracklets that finished since the last
checkpoint to its camera's journal (``mtmc.live.journal``) and forgets them, so memory stays
bounded, and replaces the snapshot of its open tracks (``live.open``), so a crash loses at most
one interval of any track, open or finished.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from detection.boxes import crop_boxes, xyxy_to_xywh
from detection.tiling import Detector
from detection.types import Detections
from mot.base import Tracker, Tracks
from mot.builder import TrackletBuilder
from mot.schedule import DetectionSchedule, scheduled_step
from mot.tracklet import Tracklet
from mot.video_output import draw_tracks
from mtmc.live.aggregator import LiveMTMCAggregator, LiveTrack
from mtmc.live.capture import LiveSource
from mtmc.live.clock import DetectionSlots, VirtualClock
from mtmc.live.frame_hub import FrameHub
from mtmc.live.journal import Journal

log = logging.getLogger(__name__)

EMBEDS_PER_FRAME = 4  # crops embedded per tick at most
EMBED_EVERY = 1.0  # seconds between two embeddings of one track
JPEG_QUALITY = 80
FPS_WINDOW = 5.0  # seconds of frames the achieved rate is measured over


def achieved_fps(times: Sequence[float]) -> float:
    """Frames per second over monotonic frame times (0 with fewer than two)."""
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


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
    held_back: int = 0  # ticks predicted without asking the schedule: the tick's detection slots were taken
    fps: float = 0.0  # frames processed per second of wall time (over the last FPS_WINDOW)
    frame_seconds: float = 0.0  # smoothed processing time of one frame
    saved: int = 0  # finished tracklets written to the journal
    checkpoints: int = 0
    tracks: int = 0
    last_tick: int = -1
    last_frame_at: float | None = None  # time.monotonic() of the last new frame tracked
    error: str = ""
    stalled: bool = False  # no new frame for stall_seconds: nothing is tracked, its tracks ended
    stalls: int = 0  # times it was marked stalled


class LiveMOTWorker(threading.Thread):
    slots: DetectionSlots | None = None  # the cap on detections per tick shared with the other workers

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
        journal: Journal | None = None,
        checkpoint_seconds: float = 10.0,
        stall_seconds: float = 5.0,
        schedule: DetectionSchedule | None = None,
        slots: DetectionSlots | None = None,
    ) -> None:
        super().__init__(name=f"camera:{name}", daemon=True)
        self.index, self.camera = index, name
        self.source, self.clock, self.aggregator, self.hub = source, clock, aggregator, hub
        self.detector, self.select, self.embed_crops, self.tracker = detector, select, embed_crops, tracker
        self.builder, self.sleep_on_empty, self.samples_per_track = builder, sleep_on_empty, samples_per_track
        self.stall_seconds = stall_seconds
        self._began = time.monotonic()
        self._last_seq = -1
        self.schedule = schedule  # None: detect every tick
        self.slots = slots if schedule is not None else None  # None: no cap on detections per tick
        self.embed_every = max(1, round(EMBED_EVERY * source.target_fps))
        self._classes: dict[int, int] = {}  # last detected class of each track (predicted rows have none)
        self.stats = WorkerStats()
        self.journal, self.checkpoint_seconds = journal, checkpoint_seconds
        self._next_checkpoint = time.monotonic() + checkpoint_seconds
        self._unsaved: list[Tracklet] = []  # finished, not yet in the journal (a write failed)
        self._ended: set[int] = set()  # ended tracks whose appearance the next checkpoint drops
        self._frame_times: deque[float] = deque()
        self._appearance: dict[int, _Appearance] = {}
        self._first_tick: dict[int, int] = {}
        self._frames_seen: dict[int, int] = {}
        self.clock.register(name)

    def run(self) -> None:
        last = -1
        self._began = time.monotonic()
        try:
            while True:
                tick = self.clock.wait_for_tick(self.camera, last)
                if tick is None:
                    return
                self.stats.skipped += max(0, tick - last - 1) if last >= 0 else 0
                frame = self.source.frame(tick)
                if frame is None and not self.source.is_stream and not self.source.loop:
                    log.info("camera '%s': the video ended", self.camera)
                    return
                if frame is not None and frame.seq != self._last_seq:
                    self._last_seq = frame.seq
                    self._rejoin()
                    self.process(tick, frame.image)
                else:  # nothing new: the last picture is never tracked twice
                    self._check_stall()
                    time.sleep(self.sleep_on_empty)
                if time.monotonic() >= self._next_checkpoint:
                    self.checkpoint()
                last = tick
        except Exception as err:  # a broken camera must not take the others down
            self.stats.error = f"{type(err).__name__}: {err}"
            log.exception("camera '%s' stopped", self.camera)
        finally:
            self.clock.unregister(self.camera)

    def step(self, tick: int, frame: np.ndarray) -> tuple[Tracks, Detections]:
        """Detect the tick when the schedule says so and a detection slot of the tick is free
        (``urgent`` is a query: asking it here and in ``scheduled_step`` gives one answer), track
        it, record it in the builder."""

        def detect() -> Detections:
            return self.select(self.detector.detect_batch([frame])[0])

        schedule, slots = self.schedule, self.slots
        if schedule is not None and slots is not None and not slots.reserve(tick, self.camera):
            # the tick's detection slots are taken: predict; what is due is detected next tick
            tracks, detections, _ = scheduled_step(self.tracker, None, tick, None, detect)
            schedule.observe(tick, False, tracks)
            self.stats.held_back += 1
        else:
            due = schedule is None or schedule.decide(tick, frame)
            if schedule is not None and slots is not None and not due and not schedule.urgent(tick):
                slots.release(tick)  # not detecting: free the slot for the others at once
            tracks, detections, _ = scheduled_step(
                self.tracker, schedule, tick, detect() if due else None, detect
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
            self._ended.add(track_id)
            self._classes.pop(track_id, None)
        if self.hub.watched(self.camera):
            self._publish(tick, frame, shown, global_ids)
        seconds = time.perf_counter() - start
        stats = self.stats
        stats.frame_seconds = seconds if stats.frames == 0 else 0.9 * stats.frame_seconds + 0.1 * seconds
        now = time.monotonic()
        self._frame_times.append(now)
        while now - self._frame_times[0] > FPS_WINDOW:
            self._frame_times.popleft()
        stats.fps = achieved_fps(self._frame_times)
        stats.frames += 1
        stats.tracks = len(shown)
        stats.last_tick = tick
        stats.last_frame_at = now

    def checkpoint(self) -> int:
        """Append the tracklets finished since the last checkpoint to the journal, forget them, then
        replace the snapshot of the open tracks.

        A failed write (disk full) keeps the finished ones for the next try. Returns the number written.
        """
        self._next_checkpoint = time.monotonic() + self.checkpoint_seconds
        self._unsaved += self._with_appearance(self.builder.take_finished())
        for track_id in self._ended:
            self._appearance.pop(track_id, None)
        self._ended.clear()
        if self.journal is None:
            return 0
        written = 0
        try:
            if self._unsaved:
                self.journal.append(self._unsaved)
            written, self._unsaved = len(self._unsaved), []
            self.journal.write_open(self._with_appearance(self.builder.snapshot()))
        except OSError as err:
            log.error(
                "camera '%s': cannot write the checkpoint %s (%s); %d finished tracklets stay in memory",
                self.camera,
                self.journal.path if self._unsaved else self.journal.open_path,
                err.strerror or err,
                len(self._unsaved),
            )
            self.stats.saved += written
            return written
        self.stats.saved += written
        self.stats.checkpoints += 1
        return written

    def finish(self) -> list[Tracklet]:
        """The tracks not yet checkpointed as tracklets (ticks as frames), with their appearance."""
        self.builder.end(self.tracker.finish())
        tracklets = self._unsaved + self._with_appearance(self.builder.finish())
        self._unsaved = []
        self.source.close()
        return sorted(tracklets, key=lambda t: t.track_id)

    @property
    def finished_unsaved(self) -> int:
        """Kept tracklets that finished and are not in the journal yet."""
        return self.builder.finished_tracks + len(self._unsaved)

    @property
    def unsaved_tracks(self) -> int:
        """Tracks a crash would lose now: open ones and finished ones not yet in the journal."""
        return self.builder.live_tracks + self.builder.finished_tracks + len(self._unsaved)

    def _with_appearance(self, tracklets: list[Tracklet]) -> list[Tracklet]:
        """Give tracklets the appearance gathered live (the builder's enricher has no models)."""
        for t in tracklets:
            appearance = self._appearance.get(t.track_id)
            if appearance is not None and appearance.samples:
                t.features = np.stack([f for _, f in appearance.samples])
                t.feature_frames = np.array([tick for tick, _ in appearance.samples], np.int64)
                t.mean_feature = appearance.mean
        return tracklets

    # ------------------------------------------------------------------ internals

    def _check_stall(self) -> None:
        """Mark the camera stalled once it delivered no new frame for ``stall_seconds``; end its tracks."""
        since = self.stats.last_frame_at if self.stats.last_frame_at is not None else self._began
        if self.stats.stalled or time.monotonic() - since < self.stall_seconds:
            return
        self.stats.stalled, self.stats.stalls = True, self.stats.stalls + 1
        log.warning(
            "camera '%s': no new frame for %.1f s (LIVE.STALL_SECONDS %g); marked stalled, its tracks end",
            self.camera,
            time.monotonic() - since,
            self.stall_seconds,
        )
        self.builder.end(self.tracker.finish())
        self._first_tick.clear()
        self._frames_seen.clear()

    def _rejoin(self) -> None:
        if self.stats.stalled:
            self.stats.stalled = False
            log.info("camera '%s': new frames again; tracking resumes", self.camera)

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

    def _publish(self, tick: int, frame: np.ndarray, shown: Tracks, global_ids: dict[int, int]) -> None:
        """Draw the shown tracks with their global ids onto the frame and publish it as a JPEG."""
        labels = [f"G{global_ids[t]}" if t in global_ids else "" for t in shown.track_id.tolist()]
        image = draw_tracks(frame, shown.xyxy, shown.track_id.tolist(), labels)
        cv2.putText(
            image, f"{self.camera}  tick {tick}", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2
        )
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if ok:
            self.hub.publish(self.camera, jpeg.tobytes())

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
