"""The express run's stages, shared by the express runner and its executors: per-camera MOT, MTMC, outputs.

Runner glue: reads the config and composes ``mot.camera``, ``mtmc.matching``, ``mtmc.output``
and ``evaluate``. Each camera's MOT results land in ``OUTPUT_DIR/{index}_{name}/`` as soon as
the camera finishes; a camera whose complete results were made by an identical config is not
tracked again, so a run stopped by a crash resumes where it stopped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from yacs.config import CfgNode

from config.layout import parse_layout
from config.loader import camera_config, camera_name
from detection.video import probe_video
from evaluate.formats import from_tracklets, read_ground_truth
from evaluate.multicam import evaluate_cameras
from evaluate.report import format_table, save_report
from mot.camera import ModelCache, completed_result, run_camera
from mot.tracklet import Tracklet
from mtmc.matching import MatchingOptions, MatchingResult, match_tracklets
from mtmc.output import RESULT_STEM, camera_results, save_results

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraJob:
    """One camera of an express run."""

    index: int
    name: str
    output_dir: Path
    cfg: CfgNode  # the full config with this camera's MOT overrides


def camera_jobs(cfg: CfgNode) -> list[CameraJob]:
    out = Path(cfg.OUTPUT_DIR)
    jobs = []
    for i in range(len(cfg.EXPRESS.CAMERAS)):
        name = camera_name(cfg, i)
        jobs.append(CameraJob(i, name, out / f"{i}_{name}", camera_config(cfg, i)))
    return jobs


def track_camera(
    job: CameraJob, models: ModelCache, position: int = 0, progress: bool = True
) -> list[Tracklet]:
    """The camera's tracklets: reused from an identical complete run, or tracked now."""
    previous = completed_result(job.output_dir, job.cfg.MOT)
    if previous is not None:
        log.info(
            "camera '%s': complete results of an identical configuration are in %s; reusing them",
            job.name,
            job.output_dir,
        )
        return previous
    return run_camera(
        job.cfg, job.index, job.name, job.output_dir, models, position, progress=progress
    ).tracklets


def matching_options(cfg: CfgNode) -> MatchingOptions:
    m = cfg.MTMC
    return MatchingOptions(m.LINKAGE, m.MIN_SIM, m.FEATURE_CENTER, m.FEATURE_PCA_DIM, m.COLOR_WEIGHT)


def run_matching(
    cfg: CfgNode, jobs: list[CameraJob], tracklets: list[Tracklet], skip: set[int] = frozenset()
) -> MatchingResult:
    """Cluster the tracklets; write ``mtmc.*`` per camera (except those in ``skip``) and for all."""
    layout = parse_layout(cfg.MTMC.CAMERA_LAYOUT, [job.name for job in jobs])
    result = match_tracklets(tracklets, layout, matching_options(cfg))
    dirs = [None if job.index in skip else job.output_dir for job in jobs]
    written = save_results(Path(cfg.OUTPUT_DIR), dirs, result)
    log.info("wrote %d multi-camera result files (%s, ...)", len(written), written[-1])
    return result


def render_videos(
    jobs: list[CameraJob], result: MatchingResult, progress: bool = True, skip: set[int] = frozenset()
) -> None:
    """``mtmc.mp4`` per camera: boxes labelled with global ids and the vehicle's merged attributes."""
    from mot.video_output import render_tracklets

    for job, (tracklets, ids) in zip(jobs, camera_results(result, len(jobs)), strict=True):
        if job.index in skip:
            continue
        video = job.cfg.MOT.VIDEO
        if probe_video(video).is_stream:
            log.warning("camera '%s': a stream cannot be re-read; no %s.mp4", job.name, RESULT_STEM)
            continue
        render_tracklets(video, tracklets, job.output_dir / f"{RESULT_STEM}.mp4", ids, progress=progress)


def evaluate_result(cfg: CfgNode, names: list[str], result: MatchingResult) -> dict | None:
    """Per-camera and multi-camera scores against ``EVAL.GROUND_TRUTHS``, saved as eval.csv/json."""
    if not cfg.EVAL.GROUND_TRUTHS:
        return None
    gts = [read_ground_truth(path) for path in cfg.EVAL.GROUND_TRUTHS]
    preds = [from_tracklets(t, ids) for t, ids in camera_results(result, len(names))]
    if cfg.EVAL.IGNORE_FP:
        log.warning(
            "EVAL.IGNORE_FP: predictions matching no ground truth are dropped; the scores are flattered"
        )
    ev = cfg.EVAL
    scores = evaluate_cameras(gts, preds, names, ev.MIN_IOU, ev.DROP_SINGLE_CAM, ev.IGNORE_FP)
    log.info("evaluation (min IoU %.2f)\n%s", ev.MIN_IOU, format_table(scores))
    save_report(scores, Path(cfg.OUTPUT_DIR))
    return scores
