"""Detection schedules: on which frames the detector runs; the tracker predicts the others.

The detector is the cost of a camera (about 0.1 s per 1080p frame for the accurate SSD on two
cores); vehicles move little between frames, so running it on every frame buys little. A
schedule decides, frame by frame and in frame order, whether to detect:

* ``every_frame``: always (today's pipeline, bit for bit).
* ``interval``: one frame in ``interval`` (NVIDIA DeepStream's ``interval``); the tracker's
  Kalman filter carries the boxes in between. A vehicle entering is picked up after at most
  ``interval - 1`` frames.
* ``motion``: like ``interval`` while the image changes, but in a static scene (parked cars)
  only one frame in ``max_interval`` (Frigate's idea: cheap frame differencing on every frame,
  the detector only when something moves). The change is measured against the last detected
  frame on a small grey copy, so a vehicle entering a static scene triggers a detection within
  ``interval`` frames and nothing is missed for longer than ``max_interval`` frames.

``max_shift`` makes either schedule adaptive: a confirmed track moving fast relative to its
size (its Kalman speed, in box heights per frame, times the frames since the last detection,
above ``max_shift``), or a new (or found again) track whose velocity is not known yet or which
waits for the detection that confirms it, makes the next frame a detection too (``urgent``).
Fast traffic or a moving camera is detected often, a static scene rarely, and a vehicle
entering is confirmed (and its velocity learnt) at the video's own frame rate. The regular
decision (``decide``) is made ahead of the tracker, from frame indices and images only;
``urgent`` is asked at tracking time with the tracker's last output (``observe``), so results
do not depend on how far ahead frames are detected.

``phase`` staggers cameras: camera ``k`` starts ``k mod interval`` frames late, so with a
shared detector each frame step detects only a share of the cameras.

The schedule is pure state on frame indices and images (no model, no config), shared by the
batch loop (``mot.pipeline``) and the live worker. Intervals are given in seconds by the
config and turned into frames with the video's frame rate (``frames_for``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from detection.types import Detections
from mot.base import Tracker, Tracks

SCHEDULES = ("every_frame", "interval", "motion")
MOTION_WIDTH = 160  # pixels: width of the grey copy the motion test compares
MOTION_BLUR = 5  # box blur side on that copy: sensor noise and compression blocks do not count


def frames_for(seconds: float, fps: float) -> int:
    """Frames spanning ``seconds`` at ``fps`` (at least 1: detect every frame)."""
    return max(1, round(seconds * fps)) if fps > 0 else 1


@dataclass(frozen=True)
class ScheduleSpec:
    """What a ``DetectionSchedule`` decides with.

    Attributes:
        kind: one of ``SCHEDULES``.
        interval: frames from one detection to the next (``motion``: while the scene moves).
        max_interval: ``motion`` only: frames between detections in a static scene.
        motion_threshold: ``motion``: share of the small grey copy's pixels that must change
            since the last detected frame for the scene to count as moving.
        pixel_diff: grey levels (0-255) a pixel must change by to count as changed.
        phase: frames the first detection waits after the first frame (camera staggering).
        max_shift: adaptive: detect as soon as a confirmed track's predicted shift since the
            last detection exceeds this share of its box height (0: off).
    """

    kind: str = "every_frame"
    interval: int = 1
    max_interval: int = 1
    motion_threshold: float = 0.002
    pixel_diff: int = 20
    phase: int = 0
    max_shift: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"schedule kind: expected one of {', '.join(SCHEDULES)}, got {self.kind!r}")
        if self.interval < 1 or self.max_interval < 1 or self.phase < 0:
            raise ValueError(
                f"schedule: interval {self.interval} and max_interval {self.max_interval} must be >= 1, "
                f"phase {self.phase} >= 0"
            )

    @property
    def skips(self) -> bool:
        """Whether any frame may go undetected."""
        return self.kind != "every_frame" and max(self.interval, self.max_interval) > 1

    @property
    def fill_gap(self) -> int:
        """Longest run of frames a batch run fills in where a track was lost between two detections
        (a detection frame missed it, the next found it again): two intervals."""
        return 2 * self.interval if self.skips else 0

    def staggered(self, camera: int) -> ScheduleSpec:
        """This spec for camera index ``camera``: its first detection ``camera mod interval`` frames late.

        Cameras 0..n-1 then detect on different frame steps (evenly when n divides the
        interval or the interval divides n). The phase depends on the camera index only, so a
        camera's result is the same whichever executor runs it.
        """
        if not self.skips:
            return self
        return ScheduleSpec(**{**self.__dict__, "phase": camera % self.interval})


def motion_image(frame: np.ndarray) -> np.ndarray:
    """The small blurred grey copy of a BGR frame that the motion test compares (uint8)."""
    h, w = frame.shape[:2]
    height = max(1, round(h * MOTION_WIDTH / max(w, 1)))
    small = cv2.resize(frame, (MOTION_WIDTH, height), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    return cv2.blur(grey, (MOTION_BLUR, MOTION_BLUR))


def changed_share(reference: np.ndarray, image: np.ndarray, pixel_diff: int) -> float:
    """Share of pixels of ``image`` differing from ``reference`` by more than ``pixel_diff``."""
    diff = cv2.absdiff(reference, image)
    return float(np.count_nonzero(diff > pixel_diff)) / max(diff.size, 1)


class DetectionSchedule:
    """Per-camera decision, frame by frame: detect this frame, or let the tracker predict it.

    Per frame, in order: ``decide`` (may run ahead of the tracker), then at tracking time
    ``urgent`` when ``decide`` said no, then ``observe`` with the tracker's output. The index
    may jump (a live camera skips ticks when it falls behind). ``decide`` is cheap (a resize
    of the frame for ``motion``).
    """

    def __init__(self, spec: ScheduleSpec) -> None:
        self.spec = spec
        self._first: int | None = None
        self._last: int | None = None  # index of the last regularly scheduled frame
        self._reference: np.ndarray | None = None  # motion image of that frame
        self._last_detected: int | None = None  # the last frame detected, urgent ones included
        self._speed = 0.0  # fastest confirmed track in the last output, box heights per frame
        self._unsure = False  # the last output had a track whose velocity is not known yet
        self._shown: set[int] = set()  # ids of the previous output
        self.detected = 0
        self.seen = 0

    def decide(self, index: int, frame: np.ndarray | None = None) -> bool:
        """Whether frame ``index`` is due by the schedule (``motion`` compares ``frame``; without
        one the scene counts as moving, as in the tracker-alone harnesses)."""
        detect = self._due(index, frame)
        if detect:
            self._last = index
        return detect

    def urgent(self, index: int) -> bool:
        """Whether frame ``index``, not due, must be detected anyway: a track moves fast (``max_shift``)."""
        if self.spec.max_shift <= 0 or self._last_detected is None:
            return False
        return self._unsure or self._speed * (index - self._last_detected) > self.spec.max_shift

    def observe(self, index: int, detected: bool, tracks: Tracks) -> None:
        """The tracker's output for frame ``index`` (``detected``: the detector ran on it)."""
        self.seen += 1
        if detected:
            self.detected += 1
            self._last_detected = index
        fast = tracks.speed[tracks.confirmed]
        self._speed = float(fast.max()) if len(fast) else 0.0
        ids = set(tracks.track_id.tolist())
        # a track seen for the first time (or again after being lost) has no velocity to predict
        # with yet; a tentative one waits for its confirming detection
        self._unsure = bool(ids - self._shown) or not tracks.confirmed.all()
        self._shown = ids

    @property
    def cost(self) -> float:
        """Share of the frames seen so far that were detected."""
        return self.detected / self.seen if self.seen else 0.0

    def _due(self, index: int, frame: np.ndarray | None) -> bool:
        spec = self.spec
        if not spec.skips:
            return True
        if self._first is None:
            self._first = index
        if self._last is None:
            due = index - self._first >= spec.phase
            if due and spec.kind == "motion":
                self._reference = _motion_image(frame)
            return due
        gap = index - self._last
        if spec.kind == "interval":
            return gap >= spec.interval
        if gap >= spec.max_interval:
            self._reference = _motion_image(frame)
            return True
        if gap < spec.interval:
            return False
        image = _motion_image(frame)
        moving = (
            image is None
            or self._reference is None
            or (changed_share(self._reference, image, spec.pixel_diff) > spec.motion_threshold)
        )
        if moving:
            self._reference = image
        return moving


def _motion_image(frame: np.ndarray | None) -> np.ndarray | None:
    """The frame's motion image; None without a frame (detections alone: the scene counts as moving)."""
    return None if frame is None else motion_image(frame)


def scheduled(
    frames: Iterable[tuple[int, np.ndarray]], schedule: DetectionSchedule | None
) -> Iterator[tuple[int, np.ndarray, bool]]:
    """``(index, frame, detect it)`` for each frame, decided in frame order (None: detect all)."""
    for index, frame in frames:
        yield index, frame, schedule is None or schedule.decide(index, frame)


def track_step(tracker: Tracker, detections: Detections | None) -> tuple[Tracks, Detections]:
    """One frame of a tracker: ``update`` with the frame's detections, or ``coast`` (None: skipped).

    Returns the tracks and the detections they index (empty for a skipped frame).
    """
    if detections is None:
        return tracker.coast(), Detections.empty()
    return tracker.update(detections), detections


def scheduled_step(
    tracker: Tracker,
    schedule: DetectionSchedule | None,
    index: int,
    found: Detections | None,
    detect: Callable[[], Detections],
) -> tuple[Tracks, Detections, bool]:
    """One frame of a scheduled camera, after ``decide``: ``found`` is the frame's detections when
    it was due (None otherwise); ``detect`` is called when the schedule finds the frame
    ``urgent``. Returns the tracks, the detections they index, and whether the frame was
    detected. Batch loops, harnesses and the live worker all step cameras through this.
    """
    if found is None and schedule is not None and schedule.urgent(index):
        found = detect()
    tracks, detections = track_step(tracker, found)
    if schedule is not None:
        schedule.observe(index, found is not None, tracks)
    return tracks, detections, found is not None
