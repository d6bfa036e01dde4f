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

``phase`` staggers cameras: camera ``k`` of ``n`` starts ``k * interval / n`` frames late,
so with a shared detector each frame step detects only a share of the cameras.

The schedule is pure state on frame indices and images (no model, no config), shared by the
batch loop (``mot.pipeline``) and the live worker. Intervals are given in seconds by the
config and turned into frames with the video's frame rate (``frames_for``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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
    """

    kind: str = "every_frame"
    interval: int = 1
    max_interval: int = 1
    motion_threshold: float = 0.002
    pixel_diff: int = 20
    phase: int = 0

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

    ``decide`` must see the camera's frames in order (the index may jump: a live camera skips
    ticks when it falls behind); it is cheap (a resize of the frame for ``motion``).
    """

    def __init__(self, spec: ScheduleSpec) -> None:
        self.spec = spec
        self._first: int | None = None
        self._last: int | None = None  # index of the last detected frame
        self._reference: np.ndarray | None = None  # motion image of the last detected frame
        self.detected = 0
        self.seen = 0

    def decide(self, index: int, frame: np.ndarray | None = None) -> bool:
        """Whether frame ``index`` is detected (``frame`` is needed by the ``motion`` schedule)."""
        self.seen += 1
        detect = self._due(index, frame)
        if detect:
            self._last = index
            self.detected += 1
        return detect

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
                self._reference = _motion_reference(frame)
            return due
        gap = index - self._last
        if spec.kind == "interval":
            return gap >= spec.interval
        if gap >= spec.max_interval:
            self._reference = _motion_reference(frame)
            return True
        if gap < spec.interval:
            return False
        image = _motion_reference(frame)
        moving = self._reference is None or (
            changed_share(self._reference, image, spec.pixel_diff) > spec.motion_threshold
        )
        if moving:
            self._reference = image
        return moving


def _motion_reference(frame: np.ndarray | None) -> np.ndarray:
    if frame is None:
        raise ValueError("the motion schedule needs the frame's image")
    return motion_image(frame)


def scheduled(
    frames: Iterable[tuple[int, np.ndarray]], schedule: DetectionSchedule | None
) -> Iterator[tuple[int, np.ndarray, bool]]:
    """``(index, frame, detect it)`` for each frame, decided in frame order (None: detect all)."""
    for index, frame in frames:
        yield index, frame, schedule is None or schedule.decide(index, frame)


def track_step(tracker: Tracker, detections: Detections | None) -> tuple[Tracks, Detections]:
    """One frame of a tracker: ``update`` with the frame's detections, or ``coast`` (None: skipped).

    Returns the tracks and the detections they index (empty for a skipped frame). Batch loops
    and the live worker both step trackers through this.
    """
    if detections is None:
        return tracker.coast(), Detections.empty()
    return tracker.update(detections), detections
