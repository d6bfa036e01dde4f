"""One camera's tracking run from its config: frame source, tracker, the loop, outputs.

This is runner glue shared by every runner (single camera, express, scale-out workers): it
reads ``cfg.MOT``, builds typed components (models from ``mot.model_cache``) and calls
``mot.pipeline``; it draws through ``mot.video_output`` and saves through ``mot.result_set``.

Outputs in the camera's directory: ``mot.npz`` (canonical, written last), ``mot.pkl``,
``mot.csv``, ``mot.txt`` and, with ``MOT.VIDEO_OUTPUT``, ``mot.mp4``; ``mot.manifest.json``
lists them (``mot.result_set``). An interrupted camera still writes what it tracked, marked
incomplete; a camera whose ReID model fails at run time writes its tracks without features and
raises ``FeatureExtractionError``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm
from yacs.config import CfgNode

from config.interrupts import saving
from detection.types import Detections
from detection.video import FrameReader, VideoInfo, iter_frames, probe_video
from mot.base import Tracks
from mot.builder import TrackletBuilder
from mot.camera_setup import detection_schedule, detection_selector, tracker_params
from mot.enrich import Enricher
from mot.factory import build_tracker
from mot.manifest import add_files, new_run_id, remove_manifest
from mot.model_cache import FeatureExtractionError, ModelCache, guard_features
from mot.pipeline import (
    BackgroundHooks,
    CameraLoop,
    FrameHook,
    LoopStats,
    finish_tracks,
    sparse_result_warnings,
    track_frames,
    track_lockstep,
)
from mot.result_set import RESULT_STEM, VIDEO_READ, save_results, write_result_manifest
from mot.speed import apply_speed, load_calibration
from mot.tracklet import Tracklet
from mot.video_output import DrawnVideo, ShowWindow, write_video
from mot.zones import ZoneError, apply_zones, load_zones
from reid.color import color_histogram, histogram_spec

log = logging.getLogger(__name__)


@dataclass
class CameraResult:
    """A finished (or interrupted) camera."""

    name: str
    output_dir: Path
    tracklets: list[Tracklet]
    stats: LoopStats = field(default_factory=LoopStats)
    complete: bool = True
    skipped: bool = False  # results of an earlier identical run were reused
    fully_read: bool = True  # False: a corrupt stretch was skipped or the video ended early


@dataclass
class CameraRun:
    """One camera's components between ``open_camera`` and ``close_camera``."""

    cfg: CfgNode
    camera: int
    name: str
    output_dir: Path
    info: VideoInfo
    loop: CameraLoop
    source: FrameReader  # the frame source itself: closing it joins its decoding thread
    frames: Any  # the progress-bar-wrapped frame iterator
    enricher: Enricher
    zones: np.ndarray | None
    projection: Any
    hooks: list[FrameHook]
    stream_video: DrawnVideo | None
    progress: bool
    run_id: str
    command: str


def open_camera(
    cfg: CfgNode,
    camera: int,
    name: str,
    output_dir: Path,
    models: ModelCache,
    position: int = 0,
    on_frame: FrameHook | None = None,
    progress: bool = True,
    batched: bool = False,
    run_id: str = "",
    command: str = "mot",
) -> CameraRun:
    """Build one camera's models, tracker, builder and frame source (``cfg.MOT`` is its view).

    ``batched``: the detector may take several frames per call (``ModelCache.detector``).
    ``run_id`` (a new one when empty) and ``command`` go into the result files' metadata and
    manifest.
    """
    mot = cfg.MOT
    run_id = run_id or new_run_id()
    info = probe_video(mot.VIDEO)
    select = detection_selector(mot, info)
    detector = models.detector(mot, batched=batched)
    embedder = models.embedder(mot)
    embed, embed_crops = (
        (guard_features(embedder.embed, mot), guard_features(embedder.embed_crops, mot))
        if embedder is not None
        else (None, None)
    )
    tracker = build_tracker(mot.TRACKER, tracker_params(mot), frame_rate=info.fps)
    schedule = detection_schedule(mot, info.fps, camera)
    enricher = Enricher(
        embed_crops=None if tracker.needs_embeddings else embed_crops,
        readers=models.attribute_readers(mot),
        plate_reader=models.plate_reader(mot),
        plate_samples=mot.ALPR_SAMPLES_PER_TRACK,
        plate_min_width=mot.ALPR_MIN_WIDTH,
        class_names=list(mot.CLASS_NAMES) or list(getattr(detector, "class_names", [])),
    )
    builder = TrackletBuilder(
        camera,
        mot.MIN_FRAMES,
        mot.REID_SAMPLES_PER_TRACK,
        batch_size=mot.REID_BATCHSIZE,
        describe_crop=partial(color_histogram, spec=histogram_spec(mot)),
        enricher=enricher,
        box_sources=schedule.spec.skips,
        max_gap=schedule.spec.fill_gap,
    )
    zones = load_zones(mot.ZONE_MASK_DIR) if mot.ZONE_MASK_DIR else None
    if zones is not None and zones.shape != (info.height, info.width):
        raise ZoneError(
            f"{mot.ZONE_MASK_DIR}: zone masks are {zones.shape[1]}x{zones.shape[0]}, the camera's frames "
            f"{info.width}x{info.height}"
        )
    projection = load_calibration(mot.CALIBRATION, (info.width, info.height)) if mot.CALIBRATION else None
    models.warm_up(detector, embedder, info)
    hooks: list[FrameHook] = [h for h in (on_frame, ShowWindow(name) if mot.SHOW else None) if h]
    remove_manifest(output_dir, RESULT_STEM)  # from here on the folder's earlier mot.* set is stale
    stream_video = None
    if mot.VIDEO_OUTPUT and info.is_stream:  # a stream cannot be re-read: draw while tracking
        stream_video = DrawnVideo(output_dir / f"{RESULT_STEM}.mp4", info.fps, (info.width, info.height))
        hooks.append(BackgroundHooks(stream_video) if mot.PIPELINE_LOOKAHEAD else stream_video)
    source = iter_frames(mot.VIDEO)
    frames = tqdm(
        source,
        total=info.frames if info.frames > 0 else None,
        desc=name,
        unit="frame",
        position=position,
        dynamic_ncols=True,
        disable=None if progress else True,  # None: only on a terminal
    )
    loop = CameraLoop(detector, select, tracker, builder, embed, _chain(hooks), LoopStats(), schedule)
    return CameraRun(
        cfg,
        camera,
        name,
        output_dir,
        info,
        loop,
        source,
        frames,
        enricher,
        zones,
        projection,
        hooks,
        stream_video,
        progress,
        run_id,
        command,
    )


def close_camera(
    run: CameraRun, tracklets: list[Tracklet] | None, error: BaseException | None = None
) -> CameraResult:
    """Post-process and save a camera's tracklets and its manifest; ``None`` means it was stopped.

    A stopped camera saves what was tracked, marked incomplete (``error`` says why: a failing
    ReID model is not called again).
    """
    mot, stats = run.cfg.MOT, run.loop.stats
    complete = tracklets is not None
    if tracklets is None:
        log.warning("camera '%s' stopped after %d frames; saving what was tracked", run.name, stats.frames)
        tracklets = _finish_after_stop(run.loop.tracker, run.loop.builder, run.name, error)
    run.frames.close()
    run.source.close()  # stops and joins the decoding thread: none may be left in OpenCV at exit
    hook_errors = [h.close() for h in run.hooks if isinstance(h, BackgroundHooks)]
    if run.stream_video is not None:
        run.stream_video.close()
    if run.zones is not None:
        tracklets = apply_zones(tracklets, run.zones, list(mot.VALID_ZONEPATHS))
    if run.projection is not None:
        tracklets = apply_speed(tracklets, run.projection, run.info.fps, mot.SPEED_WINDOW)
    read = run.source.report
    with saving(f"camera '{run.name}': its {RESULT_STEM}.* result set in {run.output_dir}"):
        written = save_results(
            run.cfg,
            run.output_dir,
            run.name,
            tracklets,
            stats,
            complete,
            run.info,
            run.run_id,
            run.command,
            read,
        )
        if run.stream_video is not None:
            written.append(run.output_dir / f"{RESULT_STEM}.mp4")
        write_result_manifest(run.cfg, run.output_dir, written, run.run_id, run.command, complete, read)
    for hook_error in hook_errors:
        if hook_error is not None:
            raise hook_error
    return CameraResult(run.name, run.output_dir, tracklets, stats, complete, fully_read=read.fully_read)


def _report(run: CameraRun, result: CameraResult) -> None:
    """Log the camera's summary and render ``mot.mp4`` from the saved tracklets."""
    mot, stats = run.cfg.MOT, result.stats
    log.info(
        "camera '%s': %d frames at %.1f fps (detector on %d), %d tracklets kept (%d short or unconfirmed "
        "dropped) -> %s",
        run.name,
        stats.frames,
        stats.fps,
        stats.detected_frames,
        len(result.tracklets),
        run.loop.builder.dropped,
        run.output_dir,
    )
    hint = (
        f"MOT.DETECTOR {mot.DETECTOR}, MOT.DETECTION_CONF_THRESH {mot.DETECTION_CONF_THRESH}, "
        f"MOT.TRACKED_CLASSES {list(mot.TRACKED_CLASSES)}, MOT.MIN_FRAMES {mot.MIN_FRAMES}"
    )
    for warning in sparse_result_warnings(stats, len(result.tracklets), hint):
        log.warning("camera '%s': %s", run.name, warning)
    if not result.fully_read:
        read = run.source.report
        log.warning(
            "camera '%s': the video was not fully read (%d undecodable frames skipped, %d frame numbers "
            "missing%s); the results say so (%s in the metadata and manifest)",
            run.name,
            read.decode_errors,
            read.frames_skipped,
            ", it ended early" if read.ended_early else "",
            VIDEO_READ,
        )
    if run.enricher.plate_reader is not None:
        log.info(
            "camera '%s': %d plate reads, %d tracklets with a plate",
            run.name,
            run.enricher.stats["plate_reads"],
            run.enricher.stats["plates"],
        )
    if mot.VIDEO_OUTPUT and not run.info.is_stream:
        video = write_video(mot, result.tracklets, run.output_dir, run.progress)
        add_files(run.output_dir, RESULT_STEM, [video])


def run_camera(
    cfg: CfgNode,
    camera: int,
    name: str,
    output_dir: Path,
    models: ModelCache,
    position: int = 0,
    on_frame: FrameHook | None = None,
    progress: bool = True,
    run_id: str = "",
    command: str = "mot",
) -> CameraResult:
    """Track one camera (``cfg.MOT`` is that camera's view) and write its outputs.

    ``position`` is the line of its progress bar (several cameras at once); bars are shown
    on terminals only. ``run_id`` and ``command`` go into the results' metadata and manifest.
    """
    run = open_camera(
        cfg, camera, name, output_dir, models, position, on_frame, progress, run_id=run_id, command=command
    )
    mot = cfg.MOT
    tracklets, error = None, None
    try:
        _log_start(run)
        tracklets = track_frames(
            run.frames,
            *run.loop.args(),
            mot.PIPELINE_LOOKAHEAD,
            mot.DETECTION_WORKERS,
            schedule=run.loop.schedule,
        )
    except BaseException as err:
        error = err
        raise
    finally:
        result = close_camera(run, tracklets, error)
    _report(run, result)
    return result


def run_cameras_batched(
    cameras: Sequence[tuple[CfgNode, int, str, Path]],
    models: ModelCache,
    progress: bool = True,
    run_id: str = "",
    command: str = "express",
) -> list[CameraResult]:
    """Track several cameras in one loop, each camera's frame k detected in one batch with the others'.

    ``cameras`` are (config, camera index, name, output directory). Trackers, builders and
    outputs stay per camera, so the results are those of ``run_camera`` on each; only the
    detector calls are shared (a real batch with models of a dynamic batch dimension, a loop
    over frames otherwise). Pipelined like ``run_camera`` with the first camera's
    ``MOT.PIPELINE_LOOKAHEAD``. If one camera fails, every camera saves what it tracked.
    """
    runs: list[CameraRun] = []
    try:
        for position, (cfg, camera, name, output_dir) in enumerate(cameras):
            runs.append(
                open_camera(
                    cfg, camera, name, output_dir, models, position, None, progress, True, run_id, command
                )
            )
    except BaseException:
        for run in runs:
            run.frames.close()
            run.source.close()
        raise
    lookahead = runs[0].cfg.MOT.PIPELINE_LOOKAHEAD if runs else 0
    outputs: list[list[Tracklet]] | None = None
    error: BaseException | None = None
    try:
        for run in runs:
            _log_start(run)
        outputs = track_lockstep([run.frames for run in runs], [run.loop for run in runs], lookahead)
    except BaseException as err:
        error = err
        raise
    finally:
        results = close_each(runs, outputs, error)
    for run, result in zip(runs, results, strict=True):
        _report(run, result)
    return results


def _log_start(run: CameraRun) -> None:
    """Logged inside the block whose ``finally`` saves: once a user sees it, a stop saves a result set."""
    log.info("camera '%s': tracking %s (run %s)", run.name, run.cfg.MOT.VIDEO, run.run_id)


def close_each(
    runs: list[CameraRun], outputs: list[list[Tracklet]] | None, error: BaseException | None
) -> list[CameraResult]:
    """``close_camera`` on every camera: one that cannot save (a full disk) does not stop the others.

    The first save error is raised after all cameras were closed.
    """
    results, failures = [], []
    for i, run in enumerate(runs):
        try:
            results.append(close_camera(run, None if outputs is None else outputs[i], error))
        except Exception as err:
            log.error("camera '%s': %s", run.name, err)
            failures.append(err)
    if failures:
        raise failures[0]
    return results


def _finish_after_stop(
    tracker: Any, builder: TrackletBuilder, name: str, err: BaseException | None
) -> list[Tracklet]:
    """What was tracked before ``err``: described by the models, unless they are what failed."""
    if not isinstance(err, FeatureExtractionError):
        try:
            return finish_tracks(tracker, builder)
        except BaseException as again:  # a model failing now, or a second Ctrl-C: keep the boxes
            log.warning("camera '%s': describing the tracks failed (%s)", name, type(again).__name__)
    tracklets = builder.salvage()
    log.warning(
        "camera '%s': saving %d tracklets without appearance features (feature extraction failed)",
        name,
        len(tracklets),
    )
    return tracklets


def _chain(hooks: list[FrameHook]) -> FrameHook | None:
    if not hooks:
        return None

    def call_all(index: int, frame: np.ndarray, detections: Detections, tracks: Tracks) -> None:
        for hook in hooks:
            hook(index, frame, detections, tracks)

    return call_all
