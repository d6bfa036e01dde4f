"""A camera's per-frame components from its ``cfg.MOT``: detection filter, schedule, tracker settings.

Shared by ``mot.camera``, live mode and the tools and benchmarks that build a camera's loop themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from yacs.config import CfgNode

from detection.filters import check_mask_size, filter_detections, load_mask
from detection.types import Detections
from detection.video import VideoInfo
from mot.schedule import DetectionSchedule, ScheduleSpec, frames_for


def detection_selector(mot: CfgNode, info: VideoInfo) -> Callable[[Detections], Detections]:
    """The score / class / ROI filter of this camera (DeepSORT ignores weaker boxes anyway)."""
    conf = mot.DETECTION_CONF_THRESH
    if mot.TRACKER == "deepsort":
        conf = max(conf, mot.DEEPSORT.MIN_CONFIDENCE)  # spare the ReID cost of boxes it would drop
    mask = None
    if mot.DETECTION_MASK:
        mask = load_mask(mot.DETECTION_MASK)
        if info.width > 0:  # 0: a live stream not up yet (the mask then applies by clipped box centres)
            check_mask_size(mask, (info.height, info.width), mot.DETECTION_MASK)
    classes = list(mot.TRACKED_CLASSES)
    return lambda dets: filter_detections(dets, conf, classes, mask)


def detection_schedule(mot: CfgNode, fps: float, camera: int = 0) -> DetectionSchedule:
    """The camera's detection schedule (``MOT.DETECTION_SCHEDULE`` and friends, intervals in
    seconds at the video's ``fps``), staggered by camera index with ``MOT.DETECTION_STAGGER``."""
    spec = ScheduleSpec(
        mot.DETECTION_SCHEDULE,
        frames_for(mot.DETECTION_INTERVAL, fps),
        frames_for(max(mot.MOTION_MAX_INTERVAL, mot.DETECTION_INTERVAL), fps),
        mot.MOTION_THRESHOLD,
        mot.MOTION_PIXEL_DIFF,
        max_shift=mot.DETECTION_MAX_SHIFT,
    )
    return DetectionSchedule(spec.staggered(camera) if mot.DETECTION_STAGGER else spec)


def tracker_params(mot: CfgNode, tracker: str | None = None) -> dict[str, Any]:
    """Constructor arguments of ``tracker`` (default ``MOT.TRACKER``) from its config sub-node."""
    node = mot.BYTETRACK if (tracker or mot.TRACKER) == "bytetrack_iou" else mot.DEEPSORT
    return {k.lower(): v for k, v in node.items()}
