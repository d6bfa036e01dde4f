"""The per-frame loop of one camera: detect, filter, embed when the tracker needs it, track, collect.

With ``lookahead`` > 0 the loop is a pipeline: decoding (``detection.video``'s reader thread),
detection (+ the per-detection embeddings DeepSORT needs) in background threads, and
tracking, sampled ReID and the frame hooks in the calling thread. ONNX Runtime and OpenVINO
release the GIL while they infer, so the cores run inference while Python tracks the frame
before. Detection of a frame depends on that frame only, and frames reach the tracker in
order, so the results are those of the sequential loop.

A detection schedule (``mot.schedule``) decides in frame order, as frames leave the decoder,
which frames are detected; the others are neither detected nor embedded, and the tracker
predicts them (``Tracker.coast``). Without a schedule every frame is detected.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from detection.tiling import Detector
from detection.types import Detections
from mot.base import Tracker, Tracks
from mot.builder import TrackletBuilder
from mot.schedule import DetectionSchedule, scheduled, track_step
from mot.tracklet import Tracklet

FrameHook = Callable[[int, np.ndarray, Detections, Tracks], None]
# (frame index, frame, detections or None when skipped, raw boxes, detect seconds, embed seconds)
Detected = tuple[int, np.ndarray, Detections | None, int, float, float]
EmbedBoxes = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (frame, xyxy (N, 4)) -> (N, D) features
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class LoopStats:
    """Counts and wall time of one camera's loop."""

    frames: int = 0
    detected_frames: int = 0  # frames the detector ran on (all of them without a schedule)
    detections: int = 0  # kept by the selector (score, class, mask)
    raw_detections: int = 0  # as the detector gave them
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def add(self, stage: str, seconds: float) -> None:
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds


def detection_concurrency(mot: Any, batched: bool = False) -> int:
    """Frames the detector is called on at once (``cfg.MOT``): the pipeline's workers; a
    sequential or batched run calls it from one thread."""
    return int(mot.DETECTION_WORKERS) if mot.PIPELINE_LOOKAHEAD > 0 and not batched else 1


def ordered_map(fn: Callable[[T], R], items: Iterable[T], lookahead: int, workers: int = 1) -> Iterator[R]:
    """``map(fn, items)`` run ``lookahead`` items ahead of the consumer by ``workers`` threads, in order.

    With ``lookahead`` 0 it is plain ``map``. An exception of ``fn`` is raised when its item's
    turn comes, one of ``items`` after the results of the items before it; when the consumer
    stops early, queued items are cancelled.
    """
    if lookahead <= 0:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="pipeline")
    pending: list[Future[R]] = []
    try:
        source = iter(items)
        while True:
            try:
                item = next(source)
            except StopIteration:
                break
            except Exception:  # the source failed: hand over what it gave before, as map would
                while pending:
                    yield pending.pop(0).result()
                raise
            pending.append(pool.submit(fn, item))
            if len(pending) > lookahead:
                yield pending.pop(0).result()
        while pending:
            yield pending.pop(0).result()
    finally:
        for future in pending:
            future.cancel()
        # wait for the items already running (at most ``workers``): no thread may still be
        # inside a model when a stopped runner exits (the runtime would abort the process)
        pool.shutdown(wait=True, cancel_futures=True)


class BackgroundHooks:
    """Runs frame hooks (drawing, video writing) in one background thread, in frame order.

    A hook's error is raised at the next frame; ``close`` waits for the queued frames and
    returns the error of the last ones, if any (the caller raises it once results are saved).
    """

    def __init__(self, hook: FrameHook, depth: int = 8) -> None:
        self.hook = hook
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="frame-hooks", daemon=True)
        self._thread.start()

    def __call__(self, index: int, frame: np.ndarray, detections: Detections, tracks: Tracks) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((index, frame, detections, tracks))

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.hook(*item)
                except BaseException as err:  # raised in the loop's thread
                    self._error = err

    def close(self) -> BaseException | None:
        self._queue.put(None)
        self._thread.join()
        return self._error


def track_frames(
    frames: Iterable[tuple[int, np.ndarray]],
    detector: Detector,
    select: Callable[[Detections], Detections],
    tracker: Tracker,
    builder: TrackletBuilder,
    embed: EmbedBoxes | None = None,
    on_frame: FrameHook | None = None,
    stats: LoopStats | None = None,
    lookahead: int = 0,
    workers: int = 1,
    *,
    schedule: DetectionSchedule | None = None,
) -> list[Tracklet]:
    """Track every frame and return the finished tracklets.

    ``select`` keeps the detections to track (score, class, mask). Embeddings are computed for
    every kept detection only when ``tracker.needs_embeddings``; otherwise the builder embeds a
    few sampled crops per track. ``on_frame`` sees each frame's detections and tracks (drawing,
    attributes). ``lookahead`` frames are detected ahead of the tracker by ``workers``
    background threads (0: everything in this thread). ``schedule`` picks the frames to detect
    (default: all). If the loop is interrupted, the tracks gathered so far stay in ``builder``
    (``finish_tracks`` turns them into tracklets).
    """
    if tracker.needs_embeddings and embed is None:
        raise ValueError("this tracker needs appearance embeddings, but no embedder was given")
    stats = stats if stats is not None else LoopStats()
    with_embeddings = embed if tracker.needs_embeddings else None

    def detect(item: tuple[int, np.ndarray, bool]) -> Detected:
        index, frame, due = item
        if not due:
            return index, frame, None, 0, 0.0, 0.0
        t0 = time.perf_counter()
        raw = detector.detect_batch([frame])[0]
        detections = select(raw)
        t1 = time.perf_counter()
        if with_embeddings is not None:
            detections = detections.with_embedding(with_embeddings(frame, detections.xyxy))
        return index, frame, detections, len(raw), t1 - t0, time.perf_counter() - t1

    start = time.perf_counter()
    results = ordered_map(detect, scheduled(frames, schedule), lookahead, workers)
    try:
        for item in results:
            index, frame, found = item[:3]
            if found is None and schedule is not None and schedule.urgent(index):
                item = detect((index, frame, True))  # a fast track: detect now, in this thread
            _, _, found, raw_count, detect_s, embed_s = item
            t2 = time.perf_counter()
            tracks, detections = track_step(tracker, found)
            if schedule is not None:
                schedule.observe(index, found is not None, tracks)
            builder.add(index, frame, tracks, detections)
            t3 = time.perf_counter()
            if on_frame is not None:
                on_frame(index, frame, detections, tracks)
            stats.frames += 1
            stats.detected_frames += found is not None
            stats.detections += len(detections)
            stats.raw_detections += raw_count
            stats.add("detect", detect_s)
            stats.add("embed", embed_s)
            stats.add("track", t3 - t2)
    finally:
        results.close()  # cancels the frames queued for detection
        stats.seconds += time.perf_counter() - start
    t0 = time.perf_counter()
    tracklets = finish_tracks(tracker, builder)
    stats.add("finish", time.perf_counter() - t0)
    return tracklets


@dataclass
class CameraLoop:
    """What ``track_frames`` needs of one camera besides its frames."""

    detector: Detector
    select: Callable[[Detections], Detections]
    tracker: Tracker
    builder: TrackletBuilder
    embed: EmbedBoxes | None = None
    on_frame: FrameHook | None = None
    stats: LoopStats = field(default_factory=LoopStats)
    schedule: DetectionSchedule | None = None  # frames to detect; None: every frame

    def args(self) -> tuple:
        """The positional arguments of ``track_frames`` after ``frames``."""
        return self.detector, self.select, self.tracker, self.builder, self.embed, self.on_frame, self.stats


Step = list[tuple[int, int, np.ndarray, bool]]  # (camera, frame index, frame, detect it) per running camera


def _lockstep(
    sources: Sequence[Iterable[tuple[int, np.ndarray]]], loops: Sequence[CameraLoop]
) -> Iterator[Step]:
    """Each camera's next frame and its schedule's decision, step by step, until every source ends."""
    iterators = [iter(scheduled(s, loop.schedule)) for s, loop in zip(sources, loops, strict=True)]
    active = list(range(len(iterators)))
    while active:
        step = []
        for camera in list(active):
            item = next(iterators[camera], None)
            if item is None:
                active.remove(camera)
            else:
                step.append((camera, *item))
        if step:
            yield step


def detect_step(
    loops: Sequence[CameraLoop], step: Step
) -> tuple[list[Detections | None], list[int], list[float], list[float]]:
    """Detections of one step: frames of cameras sharing a detector go in one ``detect_batch`` call.

    Returns per frame of the step its selected detections (with embeddings when its tracker
    needs them; None for a frame its schedule skips), the number of boxes before selection,
    and its share of the detection and embedding seconds.
    """
    groups: dict[int, list[int]] = {}
    for position, (camera, _, _, due) in enumerate(step):
        if due:
            groups.setdefault(id(loops[camera].detector), []).append(position)
    detections: list[Detections | None] = [None] * len(step)
    raw_counts = [0] * len(step)
    detect_s, embed_s = [0.0] * len(step), [0.0] * len(step)
    for positions in groups.values():
        t0 = time.perf_counter()
        batch = loops[step[positions[0]][0]].detector.detect_batch([step[p][2] for p in positions])
        share = (time.perf_counter() - t0) / len(positions)
        for position, found in zip(positions, batch, strict=True):
            camera, _, frame, _ = step[position]
            loop = loops[camera]
            t1 = time.perf_counter()
            raw_counts[position] = len(found)
            found = loop.select(found)
            if loop.tracker.needs_embeddings:
                found = found.with_embedding(loop.embed(frame, found.xyxy))  # type: ignore[misc]
            detections[position] = found
            detect_s[position], embed_s[position] = share, time.perf_counter() - t1
    return detections, raw_counts, detect_s, embed_s


def track_lockstep(
    frames: Sequence[Iterable[tuple[int, np.ndarray]]], loops: Sequence[CameraLoop], lookahead: int = 0
) -> list[list[Tracklet]]:
    """``track_frames`` for several cameras at once, their frames detected in shared batches.

    Each camera keeps its own tracker and builder and sees its frames in order, so each
    camera's tracklets are those ``track_frames`` gives it alone (given a detector whose
    batched output equals its one-frame output). Cameras of different lengths drop out when
    their frames end. Every camera's ``stats.seconds`` is the wall time of the shared loop.
    """
    for loop in loops:
        if loop.tracker.needs_embeddings and loop.embed is None:
            raise ValueError("this tracker needs appearance embeddings, but no embedder was given")

    def detect(step: Step) -> tuple[Step, list[Detections | None], list[int], list[float], list[float]]:
        return (step, *detect_step(loops, step))

    start = time.perf_counter()
    results = ordered_map(detect, _lockstep(frames, loops), lookahead)
    try:
        for step, detections, raw_counts, detect_s, embed_s in results:
            for (camera, index, frame, _), found, raw_count, d_s, e_s in zip(
                step, detections, raw_counts, detect_s, embed_s, strict=True
            ):
                loop = loops[camera]
                if found is None and loop.schedule is not None and loop.schedule.urgent(index):
                    alone = detect_step(loops, [(camera, index, frame, True)])  # a fast track: now
                    found, raw_count, d_s, e_s = (column[0] for column in alone)
                t0 = time.perf_counter()
                tracks, dets = track_step(loop.tracker, found)
                if loop.schedule is not None:
                    loop.schedule.observe(index, found is not None, tracks)
                loop.builder.add(index, frame, tracks, dets)
                t1 = time.perf_counter()
                if loop.on_frame is not None:
                    loop.on_frame(index, frame, dets, tracks)
                loop.stats.frames += 1
                loop.stats.detected_frames += found is not None
                loop.stats.detections += len(dets)
                loop.stats.raw_detections += raw_count
                loop.stats.add("detect", d_s)
                loop.stats.add("embed", e_s)
                loop.stats.add("track", t1 - t0)
    finally:
        results.close()
        for loop in loops:
            loop.stats.seconds += time.perf_counter() - start
    out = []
    for loop in loops:
        t0 = time.perf_counter()
        out.append(finish_tracks(loop.tracker, loop.builder))
        loop.stats.add("finish", time.perf_counter() - t0)
    return out


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
