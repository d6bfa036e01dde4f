"""The express run's stages, shared by the express runner and its executors: per-camera MOT, MTMC, outputs.

Runner glue: reads the config and composes ``mot.camera``, ``mtmc.matching``, ``mtmc.output``
and ``evaluate``. Each camera's MOT results land in ``OUTPUT_DIR/{index}_{name}/`` as soon as
the camera finishes; a camera whose complete results were made by an identical config is not
tracked again, so a run stopped by a crash resumes where it stopped.

The multi-camera set (every camera's ``mtmc.*`` and ``OUTPUT_DIR/mtmc.npz``) is written as
one crash-consistent set (``mot.manifest``): the old set is removed first, each canonical
file carries the run id and fingerprint, and ``OUTPUT_DIR/mtmc.manifest.json`` is written
last, listing the files and the ``mot.npz`` inputs with their hashes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from yacs.config import CfgNode

from config.cameras import camera_config, camera_name
from config.interrupts import saving
from config.layout import parse_layout
from detection.video import probe_video
from evaluate.formats import from_tracklets, read_ground_truth
from evaluate.multicam import evaluate_cameras
from evaluate.report import format_table, save_report
from mot.camera import run_camera
from mot.manifest import add_files, file_digest, remove_set, write_manifest
from mot.model_cache import ModelCache
from mot.result_set import RESULT_STEM as MOT_STEM
from mot.result_set import completed_result
from mot.tracklet import Tracklet
from mot.video_output import ensure_video
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
    run_id: str = ""  # the express run's id, recorded in the camera's result files


def camera_jobs(cfg: CfgNode, run_id: str = "") -> list[CameraJob]:
    out = Path(cfg.OUTPUT_DIR)
    jobs = []
    for i in range(len(cfg.EXPRESS.CAMERAS)):
        name = camera_name(cfg, i)
        jobs.append(CameraJob(i, name, out / f"{i}_{name}", camera_config(cfg, i), run_id))
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
        ensure_video(job.output_dir, job.cfg.MOT, previous, progress)
        return previous
    return run_camera(
        job.cfg,
        job.index,
        job.name,
        job.output_dir,
        models,
        position,
        progress=progress,
        run_id=job.run_id,
        command="express",
    ).tracklets


def matching_options(cfg: CfgNode) -> MatchingOptions:
    m = cfg.MTMC
    return MatchingOptions(
        m.LINKAGE,
        m.MIN_SIM,
        m.FEATURE_CENTER,
        m.FEATURE_PCA_DIM,
        m.COLOR_WEIGHT,
        camera_norm=m.CAMERA_NORM,
        camera_shrinkage=m.CAMERA_NORM_SHRINKAGE,
        color_camera_norm=m.COLOR_CAMERA_NORM,
        reentry_gap=m.REENTRY_GAP,
        reentry_min_sim=m.REENTRY_MIN_SIM,
        continuity_gap=m.CONTINUITY_GAP,
        continuity_reach=m.CONTINUITY_REACH,
        continuity_min_sim=m.CONTINUITY_MIN_SIM,
        same_camera_floor=m.SAME_CAMERA_FLOOR,
        reentry_cap=m.REENTRY_CAP,
    )


def mtmc_fingerprint(cfg: CfgNode, inputs: Sequence[Path]) -> str:
    """A digest of what decides the multi-camera result: the MTMC config and the input files."""
    text = cfg.MTMC.dump() + "".join(file_digest(path)["sha256"] for path in inputs)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def clear_mtmc(output_dir: Path) -> None:
    """Remove the earlier multi-camera set (manifest first, then the files it lists), so no stale
    ``mtmc.*`` of ours survives a crash; files the set does not list are left alone.

    The earlier ``report.html`` goes too: it shows the old set until the new one is written.
    """
    remove_set(output_dir, RESULT_STEM)
    (output_dir / "report.html").unlink(missing_ok=True)


def save_mtmc_set(
    output_dir: Path,
    dirs: Sequence[Path | None],
    result: MatchingResult,
    cfg: CfgNode,
    inputs: Sequence[Path],
    run_id: str,
    command: str,
    complete: bool = True,
) -> list[Path]:
    """Write ``mtmc.*`` (run id and fingerprint in their metadata), then the set's manifest."""
    fingerprint = mtmc_fingerprint(cfg, inputs)
    with saving(f"the multi-camera {RESULT_STEM}.* result set in {output_dir}"):
        clear_mtmc(output_dir)
        info = {"run_id": run_id, "command": command, "fingerprint": fingerprint, "complete": complete}
        written = save_results(output_dir, dirs, result, info)
        write_manifest(
            output_dir,
            RESULT_STEM,
            written,
            run_id=run_id,
            command=command,
            fingerprint=fingerprint,
            complete=complete,
            inputs=inputs,
            extra={"config": cfg.dump()},  # config.yaml is the latest run's, maybe not this set's
        )
    log.info("wrote %d multi-camera result files (%s, ...)", len(written), written[-1])
    return written


def run_matching(
    cfg: CfgNode,
    jobs: list[CameraJob],
    tracklets: list[Tracklet],
    skip: set[int] = frozenset(),
    run_id: str = "",
) -> MatchingResult:
    """Cluster the tracklets; write ``mtmc.*`` per camera (except those in ``skip``) and for all."""
    layout = parse_layout(cfg.MTMC.CAMERA_LAYOUT, [job.name for job in jobs])
    result = match_tracklets(tracklets, layout, matching_options(cfg))
    dirs = [None if job.index in skip else job.output_dir for job in jobs]
    inputs = [d / f"{MOT_STEM}.npz" for d in dirs if d is not None]
    run_id = run_id or (jobs[0].run_id if jobs else "")
    save_mtmc_set(Path(cfg.OUTPUT_DIR), dirs, result, cfg, inputs, run_id, "express", complete=not skip)
    return result


def render_videos(
    jobs: list[CameraJob],
    result: MatchingResult,
    progress: bool = True,
    skip: set[int] = frozenset(),
    output_dir: Path | None = None,
) -> list[Path]:
    """``mtmc.mp4`` per camera: boxes labelled with global ids and the vehicle's merged attributes.

    With ``output_dir`` the videos are added to its ``mtmc.manifest.json``.
    """
    from mot.video_output import render_tracklets

    written = []
    for job, (tracklets, ids) in zip(jobs, camera_results(result, len(jobs)), strict=True):
        if job.index in skip:
            continue
        video = job.cfg.MOT.VIDEO
        if probe_video(video).is_stream:
            log.warning("camera '%s': a stream cannot be re-read; no %s.mp4", job.name, RESULT_STEM)
            continue
        path = job.output_dir / f"{RESULT_STEM}.mp4"
        render_tracklets(video, tracklets, path, ids, progress=progress)
        written.append(path)
    if output_dir is not None and written:
        add_files(output_dir, RESULT_STEM, written)
    return written


def write_run_report(cfg: CfgNode) -> Path | None:
    """``OUTPUT_DIR/report.html`` (``mtmc.report``); a failure is logged, the results stay as written."""
    import cv2

    from mtmc.report.build import write_report

    limit = cfg.MTMC.REPORT_MAX_VEHICLES
    if limit == 0:
        return None
    try:
        return write_report(cfg.OUTPUT_DIR, limit)
    except (OSError, ValueError, cv2.error) as err:  # ReportInputError is a ValueError
        log.warning("no report.html: %s", err)
        return None


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
