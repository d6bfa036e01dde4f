"""Tracker name -> tracker instance; each config sub-node maps one-to-one onto the tracker's settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mot.base import Tracker

TRACKERS = ("bytetrack_iou", "deepsort")


def build_tracker(name: str, params: Mapping[str, Any] | None = None, frame_rate: float = 30.0) -> Tracker:
    """A fresh tracker; ``params`` are its options or constructor arguments (config keys in lower case)."""
    kwargs = {str(k).lower(): v for k, v in (params or {}).items()}
    if name == "bytetrack_iou":
        from mot.bytetrack.tracker import ByteTrack, ByteTrackOptions

        return ByteTrack(ByteTrackOptions(**kwargs), frame_rate=frame_rate)
    if name == "deepsort":
        from mot.deepsort.tracker import DeepSort

        return DeepSort(**kwargs, frame_rate=frame_rate)
    raise ValueError(f"unknown tracker {name!r}; expected one of {', '.join(TRACKERS)}")
