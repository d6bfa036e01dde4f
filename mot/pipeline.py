"""The per-frame loop of one camera: detect, filter, embed when the tracker needs it, track, collect."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from detection.tiling import Detector
from detection.types import Detections
from mot.base import Tracker, Tracks
from mot.builder import TrackletBuilder
from mot.tracklet import Tracklet

FrameHook = Callable[[int, np.ndarray, Detections, Tracks], None]
EmbedBoxes = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (frame, xyxy (N, 4)) -> (N, D) features


@dataclass
class LoopStats:
    """Counts and wall time of one camera's loop."""

    frames: int = 0
    detections: int = 0  # kept by the selector (score, class, mask)
    raw_detections: int = 0  # as the detector gave them
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def add(self, stage: str, seconds: float) -> None:
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds


def track_frames(
    frames: Iterable[tuple[int, np.ndarray]],
    detector: Detector,
    select: Callable[[Detections], Detections],
    tracker: Tracker,
    builder: TrackletBuilder,
    embed: EmbedBoxes | None = None,
    on_frame: FrameHook | None = None,
    stats: LoopStats | None = None,
) -> list[Tracklet]:
    """Track every frame and return the finished tracklets.

    ``select`` keeps the detections to track (score, class, mask). Embeddings are computed for
    every kept detection only when ``tracker.needs_embeddings``; otherwise the builder embeds a
    few sampled crops per track. ``on_frame`` sees each frame's detections and tracks (drawing,
    attributes). If the loop is interrupted, the tracks gathered so far stay in ``builder``
    (``finish_tracks`` turns them into tracklets).
    """
    if tracker.needs_embeddings and embed is None:
        raise ValueError("this tracker needs appearance embeddings, but no embedder was given")
    stats = stats if stats is not None else LoopStats()
    start = time.perf_counter()
    try:
        for index, frame in frames:
            t0 = time.perf_counter()
            raw = detector.detect_batch([frame])[0]
            detections = select(raw)
            t1 = time.perf_counter()
            if tracker.needs_embeddings:
                detections = detections.with_embedding(embed(frame, detections.xyxy))  # type: ignore[misc]
            t2 = time.perf_counter()
            tracks = tracker.update(detections)
            builder.add(index, frame, tracks, detections)
            t3 = time.perf_counter()
            if on_frame is not None:
                on_frame(index, frame, detections, tracks)
            stats.frames += 1
            stats.detections += len(detections)
            stats.raw_detections += len(raw)
            stats.add("detect", t1 - t0)
            stats.add("embed", t2 - t1)
            stats.add("track", t3 - t2)
    finally:
        stats.seconds += time.perf_counter() - start
    t0 = time.perf_counter()
    tracklets = finish_tracks(tracker, builder)
    stats.add("finish", time.perf_counter() - t0)
    return tracklets


FEW_DETECTIONS_PER_FRAME = 0.1  # fewer kept boxes than one per ten frames: something is off


def sparse_result_warnings(stats: LoopStats, tracklets: int, hint: str = "") -> list[str]:
    """Why a run's result is suspiciously empty, for the log (a user otherwise sees only 0 tracklets).

    ``hint`` names the settings to look at (detector, score floor, classes).
    """
    if stats.frames == 0:
        return ["no frame was read from the input"]
    warnings = []
    if stats.detections < FEW_DETECTIONS_PER_FRAME * stats.frames:
        other = stats.raw_detections - stats.detections
        why = (
            f"; the detector gave {other} more boxes, removed by the score floor, TRACKED_CLASSES or the mask"
            if other > 0
            else "; the detector found almost nothing (wrong model, input size or view?)"
        )
        warnings.append(f"only {stats.detections} detections kept in {stats.frames} frames{why}")
    if tracklets == 0:
        warnings.append(f"no tracklet was kept from {stats.frames} frames and {stats.detections} detections")
    if warnings and hint:
        warnings[-1] += f" (check {hint})"
    return warnings


def finish_tracks(tracker: Tracker, builder: TrackletBuilder) -> list[Tracklet]:
    """End every live track and return the builder's tracklets (also after an interruption)."""
    builder.end(tracker.finish())
    return builder.finish()
