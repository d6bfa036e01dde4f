"""One camera's tracking run from its config: models, frame source, the loop, outputs.

This is runner glue shared by every runner (single camera, express, scale-out workers): it
reads ``cfg.MOT``, builds typed components and calls ``mot.pipeline``; it is the one module of
``mot/`` that reads the config and draws (through ``mot.video_output``).

Outputs in the camera's directory: ``mot.npz`` (canonical, written last), ``mot.pkl``,
``mot.csv``, ``mot.txt`` and, with ``MOT.VIDEO_OUTPUT``, ``mot.mp4``. The canonical file
records a fingerprint of the camera's effective config and whether the run completed, so a
re-run can skip cameras whose results are complete and current (``completed_result``).
An interrupted camera still writes what it tracked, marked incomplete; a camera whose ReID
model fails at run time writes its tracks without features and raises
``FeatureExtractionError``. ``mot.manifest.json`` (``mot.manifest``) is written after the
files and lists them with their hashes: a camera is only reused when it matches.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm
from yacs.config import CfgNode

from config.interrupts import saving
from config.reid_defaults import reid_choice
from detection.factory import build_detector
from detection.filters import check_mask_size, filter_detections, load_mask
from detection.tiling import Detector
from detection.types import Detections
from detection.video import FrameReader, ReadReport, VideoInfo, image_files, iter_frames, probe_video
from models.runtime import ModelRunner, SessionOptions, detector_backend, open_runner
from mot.base import Tracks
from mot.builder import TrackletBuilder
from mot.enrich import Enricher
from mot.factory import build_tracker
from mot.manifest import (
    ResultSetError,
    add_files,
    check_result_file,
    manifest_path,
    new_run_id,
    read_manifest,
    remove_manifest,
    write_manifest,
)
from mot.pipeline import (
    BackgroundHooks,
    CameraLoop,
    FrameHook,
    LoopStats,
    detection_concurrency,
    finish_tracks,
    sparse_result_warnings,
    track_frames,
    track_lockstep,
)
from mot.resume_key import files_signature
from mot.schedule import DetectionSchedule, ScheduleSpec, frames_for
from mot.speed import apply_speed, load_calibration
from mot.storage import TrackletFileError, load_tracklet_file, save_all
from mot.tracklet import Tracklet
from mot.video_output import DrawnVideo, ShowWindow, render_tracklets
from mot.zones import ZoneError, apply_zones, load_zones
from reid.attributes import build_attribute_readers
from reid.color import color_histogram
from reid.embedder import ModelEmbedder
from reid.factory import build_embedder
from reid.plates import build_plate_reader

log = logging.getLogger(__name__)

RESULT_STEM = "mot"
VIDEO_READ = "video_read"  # metadata and manifest entry: how completely the video was read
EXIT_NOT_FULLY_READ = 3  # results saved, but a video had a corrupt stretch or ended early


class FeatureExtractionError(RuntimeError):
    """The ReID model failed at run time (a wrong model file, or an input size it does not take)."""


def guard_features(call: Callable[..., np.ndarray], mot: CfgNode) -> Callable[..., np.ndarray]:
    """``call`` with any model failure turned into one ``FeatureExtractionError`` naming the keys."""
    model = mot.REID_ONNX if mot.REID_BACKEND in ("onnxruntime", "openvino") else mot.REID_TRT
    model = model or mot.REID_MODEL_CKPT

    def guarded(*args: Any) -> np.ndarray:
        try:
            return call(*args)
        except Exception as err:
            lines = str(err).strip().splitlines() or [""]
            raise FeatureExtractionError(
                f"the ReID model {model} [{mot.REID_BACKEND}] failed on its crops at MOT.REID_INPUT_SIZE "
                f"{list(mot.REID_INPUT_SIZE)}: {type(err).__name__}: {lines[0][:300]}. Check that "
                "MOT.REID_ONNX is an appearance (ReID) model and that MOT.REID_INPUT_SIZE is the input "
                "size it expects"
            ) from err

    return guarded


class ModelCache:
    """Loads each network once per process; cameras with the same model share it.

    ONNX Runtime sessions and OpenVINO compiled models are safe to call from several threads.
    ``options`` are the runtimes' session options (``session_options(cfg.SYSTEM)``).
    """

    def __init__(self, device: str = "cpu", threads: int = 0, options: SessionOptions | None = None) -> None:
        self.device, self.threads = device, threads
        self.options = options if options is not None else SessionOptions()
        self._runners: dict[tuple, ModelRunner] = {}
        self._detectors: dict[tuple, Detector] = {}
        self._embedders: dict[tuple, ModelEmbedder] = {}
        self._readers: dict[tuple, list[Any]] = {}
        self._plates: dict[tuple, Any] = {}

    def open_model(
        self,
        path: Path,
        backend: str,
        device: str,
        threads: int,
        fp16: bool = False,
        parallel: bool = False,
        dynamic_batch: bool = False,
        input_hw: tuple[int, ...] = (),
        concurrent: int = 1,
    ) -> ModelRunner:
        options, hw = self.options, tuple(input_hw)
        key = (str(path), backend, device, threads, fp16, parallel, dynamic_batch, options, hw, concurrent)
        if key not in self._runners:
            log.info("loading %s [%s%s]", path, backend, ", fp16" if fp16 else "")
            self._runners[key] = open_runner(
                path, backend, device, threads, fp16, parallel, dynamic_batch, options, hw, concurrent
            )
        return self._runners[key]

    def detector(self, mot: CfgNode, batched: bool = False) -> Detector:
        """The camera's detector; ``batched`` lets an OpenVINO model saved with batch 1 take any batch."""
        backend = detector_backend(mot.DETECTOR, mot.DETECTOR_BACKEND)
        dynamic = batched and backend == "openvino"
        concurrent = detection_concurrency(mot, batched)
        key = (
            dynamic,
            concurrent,
            mot.DETECTOR,
            backend,
            mot.DETECTOR_OUTPUT_FORMAT,
            tuple(mot.DETECTOR_INPUT_SIZE),
            mot.DETECTION_CONF_THRESH,
            mot.DETECTION_NMS_IOU,
            mot.DETECTION_TILE_SIZE,
            mot.DETECTION_TILE_OVERLAP,
            mot.DETECTOR_FP16,
            tuple(shared_classes(mot) or ()),
            tuple(mot.DETECTOR_CLASS_MAP),
        )
        if key not in self._detectors:
            self._detectors[key] = build_detector(
                mot.DETECTOR,
                backend=mot.DETECTOR_BACKEND,
                output_format=mot.DETECTOR_OUTPUT_FORMAT,
                input_size=mot.DETECTOR_INPUT_SIZE,
                conf_threshold=mot.DETECTION_CONF_THRESH,
                nms_iou=mot.DETECTION_NMS_IOU,
                device=self.device,
                threads=self.threads,
                tile_size=mot.DETECTION_TILE_SIZE,
                tile_overlap=mot.DETECTION_TILE_OVERLAP,
                fp16=mot.DETECTOR_FP16,
                open_model=functools.partial(self.open_model, dynamic_batch=dynamic, concurrent=concurrent),
                shared_classes=shared_classes(mot),
                class_map=mot.DETECTOR_CLASS_MAP,
            )
        return self._detectors[key]

    def attribute_readers(self, mot: CfgNode) -> list[Any]:
        key = (
            json.dumps(list(mot.STATIC_ATTRIBUTES), sort_keys=True),
            mot.ATTRIBUTE_INFER_BATCHSIZE,
            mot.ATTRIBUTE_INFER_FP16,
            mot.ATTRIBUTE_ALLOW_PICKLE,
        )
        if key not in self._readers:
            self._readers[key] = build_attribute_readers(
                mot.STATIC_ATTRIBUTES,
                mot.ATTRIBUTE_INFER_BATCHSIZE,
                mot.ATTRIBUTE_INFER_FP16,
                self.open_model,
                allow_pickle=mot.ATTRIBUTE_ALLOW_PICKLE,
            )
        return self._readers[key]

    def plate_reader(self, mot: CfgNode) -> Any:
        """The camera's plate reader, None when ALPR is off or cannot run here (said in the log)."""
        if not mot.ENABLE_ALPR:
            return None
        key = (mot.ALPR_BACKEND, mot.ALPR_LOCALISER)
        if key not in self._plates:
            self._plates[key] = build_plate_reader(
                mot.ALPR_BACKEND, mot.ALPR_LOCALISER, self.threads, self.open_model
            )
        return self._plates[key]

    def embedder(self, mot: CfgNode) -> ModelEmbedder | None:
        """The camera's appearance model; None with MOT.REID_BACKEND 'none' (tracking only)."""
        if mot.REID_BACKEND == "none":
            return None
        key = (
            mot.REID_BACKEND,
            mot.REID_ONNX if mot.REID_BACKEND in ("onnxruntime", "openvino") else mot.REID_TRT,
            mot.REID_MODEL_OPTS,
            mot.REID_MODEL_CKPT,
            tuple(mot.REID_INPUT_SIZE),
            tuple(mot.REID_MEAN),
            tuple(mot.REID_STD),
            mot.REID_BATCHSIZE,
            mot.REID_FP16,
            mot.REID_CHANNEL_ORDER,
            mot.REID_FLIP,
        )
        if key not in self._embedders:
            log.info("ReID model %s: %s", key[1] or mot.REID_MODEL_CKPT, reid_choice(mot) or "as configured")
            self._embedders[key] = build_embedder(
                mot.REID_BACKEND,
                key[1],
                opts=mot.REID_MODEL_OPTS,
                checkpoint=mot.REID_MODEL_CKPT,
                input_size=mot.REID_INPUT_SIZE,
                mean=mot.REID_MEAN,
                std=mot.REID_STD,
                batch_size=mot.REID_BATCHSIZE,
                fp16=mot.REID_FP16,
                device=self.device,
                threads=self.threads,
                open_model=self.open_model,
                channel_order=mot.REID_CHANNEL_ORDER,
                flip=mot.REID_FLIP,
            )
        return self._embedders[key]


def session_options(system: CfgNode) -> SessionOptions:
    """The runtimes' session options of ``cfg.SYSTEM``."""
    return SessionOptions(system.ORT_EXECUTION_MODE, system.ORT_GRAPH_OPTIMIZATION, system.OPENVINO_HINT)


def model_cache(cfg: CfgNode, threads: int | None = None) -> ModelCache:
    """The process's model cache for ``cfg.SYSTEM`` (``threads`` overrides ``SYSTEM.NUM_THREADS``)."""
    system = cfg.SYSTEM
    threads = system.NUM_THREADS if threads is None else threads
    return ModelCache(system.DEVICE, threads, session_options(system))


def shared_classes(mot: CfgNode) -> list[int] | None:
    """The classes NMS merges as one: the tracked ones, unless class-aware NMS is asked for."""
    return list(mot.TRACKED_CLASSES) if mot.DETECTION_NMS_CLASS_AGNOSTIC else None


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


def source_signature(source: str) -> str:
    """What identifies the input's content cheaply: size and modification time of its file(s)."""
    path = Path(source)
    if "://" in source or not path.exists():
        return source
    files = image_files(path) if path.is_dir() else [path]
    stats = [f.stat() for f in files]
    size, newest = sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)
    return f"{source}|{len(files)}|{size}|{newest}"


def fingerprint(mot: CfgNode) -> str:
    """A digest of everything that decides a camera's tracking result: its config, its input, the
    contents of its model and input files and the code version (``mot.resume_key``)."""
    text = mot.dump() + source_signature(mot.VIDEO) + files_signature(mot)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def partly_read(output_dir: Path) -> dict[str, Any] | None:
    """The camera's ``video_read`` record when its result set says the video was not fully read."""
    try:
        record = read_manifest(manifest_path(output_dir, RESULT_STEM)).get(VIDEO_READ)
    except ResultSetError:
        return None
    return record if isinstance(record, dict) and not record.get("fully_read", True) else None


def completed_result(output_dir: Path, mot: CfgNode) -> list[Tracklet] | None:
    """The tracklets of a complete earlier run with the same config and input, if there is one.

    Streams are never reused: what they deliver changes from one run to the next.
    """
    if "://" in mot.VIDEO:
        return None
    path = output_dir / f"{RESULT_STEM}.npz"
    if not path.is_file():
        return None
    try:
        table = load_tracklet_file(path)
    except TrackletFileError as err:
        log.warning("%s; not resumable, tracking this camera again", err)
        return None
    if not (table.info.get("complete") and table.info.get("fingerprint") == fingerprint(mot)):
        return None
    try:
        manifest = check_result_file(path)
    except ResultSetError as err:
        log.warning("not reusing the earlier result, tracking again: %s", err)
        return None
    if manifest is None:
        log.info("%s: written without a result manifest (an older version); tracking again", path)
        return None
    return table.tracklets


def write_video(mot: CfgNode, tracklets: list[Tracklet], output_dir: Path, progress: bool = True) -> Path:
    path = output_dir / f"{RESULT_STEM}.mp4"
    render_tracklets(mot.VIDEO, tracklets, path, progress=progress)
    return path


def ensure_video(output_dir: Path, mot: CfgNode, tracklets: list[Tracklet], progress: bool = True) -> None:
    """Write a reused camera's missing ``mot.mp4`` (``MOT.VIDEO_OUTPUT``): its run stopped before it."""
    if not mot.VIDEO_OUTPUT or "://" in mot.VIDEO:
        return
    manifest = read_manifest(manifest_path(output_dir, RESULT_STEM))
    if f"{RESULT_STEM}.mp4" in manifest["files"]:
        return
    log.info("%s: the earlier run did not write %s.mp4; writing it now", output_dir, RESULT_STEM)
    add_files(output_dir, RESULT_STEM, [write_video(mot, tracklets, output_dir, progress)])


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


def warm_up(detector: Detector, embedder: ModelEmbedder | None, info: VideoInfo) -> None:
    """One inference of each model on a blank input, so first-call allocations stay out of the timed loop.

    A ReID model that fails here fails again on the first real crops, where the loop saves the
    tracks without features (``guard_features``); the warm-up only leaves a debug line.
    """
    if info.width > 0 and info.height > 0:
        detector.detect_batch([np.zeros((info.height, info.width, 3), np.uint8)])
    if embedder is None:
        return
    try:
        embedder.embed_crops([np.zeros((64, 64, 3), np.uint8)])
    except Exception as err:
        log.debug("ReID warm-up failed (%s: %s); the run will report it", type(err).__name__, err)


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
        describe_crop=color_histogram,
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
    warm_up(detector, embedder, info)
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
    log.info("camera '%s': tracking %s (run %s)", name, mot.VIDEO, run_id)
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
        written = _save(
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
        _write_manifest(run.cfg, run.output_dir, written, run.run_id, run.command, complete, read)
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
        outputs = track_lockstep([run.frames for run in runs], [run.loop for run in runs], lookahead)
    except BaseException as err:
        error = err
        raise
    finally:
        results = close_each(runs, outputs, error)
    for run, result in zip(runs, results, strict=True):
        _report(run, result)
    return results


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


def _write_manifest(
    cfg: CfgNode,
    output_dir: Path,
    files: list[Path],
    run_id: str,
    command: str,
    complete: bool,
    read: ReadReport,
) -> None:
    """The camera's manifest; it holds the config that made the set (config.yaml is the latest run's)
    and how completely the video was read (``video_read``)."""
    write_manifest(
        output_dir,
        RESULT_STEM,
        files,
        run_id=run_id,
        command=command,
        fingerprint=fingerprint(cfg.MOT),
        complete=complete,
        extra={"config": cfg.dump(), VIDEO_READ: read.as_dict()},
    )


def _save(
    cfg: CfgNode,
    output_dir: Path,
    name: str,
    tracklets: list[Tracklet],
    stats: LoopStats,
    complete: bool,
    info: VideoInfo,
    run_id: str,
    command: str,
    read: ReadReport,
) -> list[Path]:
    run_info = {
        "run_id": run_id,
        "command": command,
        "camera": name,
        "video": info.source,
        "fps": info.fps,
        "size": [info.width, info.height],
        "frames_read": stats.frames,
        "complete": complete,
        "fingerprint": fingerprint(cfg.MOT),
        VIDEO_READ: read.as_dict(),
    }
    return save_all(output_dir, RESULT_STEM, tracklets, info=run_info)


def _chain(hooks: list[FrameHook]) -> FrameHook | None:
    if not hooks:
        return None

    def call_all(index: int, frame: np.ndarray, detections: Detections, tracks: Tracks) -> None:
        for hook in hooks:
            hook(index, frame, detections, tracks)

    return call_all
