"""Express MTMC: single-camera tracking on every camera of EXPRESS.CAMERAS, then clustering across cameras.

python mtmc/run_express_mtmc.py --config config/examples/express_demo.yaml [--dry-run] [KEY VALUE ...]

The stages are imported when the run starts, so ``--help`` does not load models, OpenCV or
the evaluation libraries.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.cli import run_cli

if TYPE_CHECKING:
    from yacs.config import CfgNode

    from mtmc.express import CameraJob

log = logging.getLogger("mtmc.express")


def express_plan(cfg: CfgNode) -> dict[str, Any]:
    from config.cameras import camera_config, camera_name
    from config.layout import parse_layout
    from mot.model_cache import model_cache
    from mot.plan import camera_plan

    out = Path(cfg.OUTPUT_DIR)
    names = [camera_name(cfg, i) for i in range(len(cfg.EXPRESS.CAMERAS))]
    models = model_cache(cfg)  # checks each model once, then dropped
    cameras = [
        camera_plan(camera_config(cfg, i).MOT, name, out / f"{i}_{name}", models)
        for i, name in enumerate(names)
    ]
    layout = parse_layout(cfg.MTMC.CAMERA_LAYOUT, names)
    return {
        "command": "express",
        "cameras": cameras,
        "mtmc": {
            "layout": cfg.MTMC.CAMERA_LAYOUT,
            "fps": layout.fps.tolist(),
            "linkage": cfg.MTMC.LINKAGE,
            "min_sim": cfg.MTMC.MIN_SIM,
            "transitions": int(layout.allowed.sum()),
        },
        "final_video": cfg.EXPRESS.FINAL_VIDEO_OUTPUT,
        "evaluate": list(cfg.EVAL.GROUND_TRUTHS),
        "output_dir": str(out),
    }


def run(cfg: CfgNode, args: argparse.Namespace) -> int:
    from evaluate.formats import ground_truth_problems
    from mot.plan import format_camera, plan_errors, save_plan

    plan = express_plan(cfg)
    for camera in plan["cameras"]:
        log.info("%s", format_camera(camera))
    mtmc = plan["mtmc"]
    log.info(
        "mtmc: %d cameras, %d allowed transitions, linkage %s, min_sim %.2f (%s)",
        len(plan["cameras"]),
        mtmc["transitions"],
        mtmc["linkage"],
        mtmc["min_sim"],
        mtmc["layout"],
    )
    if errors := plan_errors(plan) + ground_truth_problems(cfg.EVAL.GROUND_TRUTHS):
        log.error("cannot start:\n  %s", "\n  ".join(errors))
        return 2
    written = save_plan(Path(cfg.OUTPUT_DIR), cfg, plan)
    log.info("wrote %s", ", ".join(map(str, written)))
    if args.dry_run:
        log.info("dry run: configuration, models and inputs are valid; stopping before tracking")
        return 0
    return track_and_match(cfg)


def track_and_match(cfg: CfgNode) -> int:
    from mot.manifest import new_run_id
    from mtmc.executors import run_cameras
    from mtmc.express import (
        camera_jobs,
        clear_mtmc,
        evaluate_result,
        render_videos,
        run_matching,
        write_run_report,
    )

    run_id = new_run_id()
    log.info("run %s", run_id)
    jobs = camera_jobs(cfg, run_id)
    clear_mtmc(Path(cfg.OUTPUT_DIR))  # stale until rewritten
    outcomes = run_cameras(cfg, jobs)
    failed = [o for o in outcomes if not o.ok]
    for outcome in failed:
        log.error("camera '%s' failed after %d attempt(s): %s", outcome.name, outcome.attempts, outcome.error)
    if failed and not cfg.EXPRESS.ALLOW_PARTIAL:
        finished = [o.name for o in outcomes if o.ok]
        log.error(
            "multi-camera matching not run: %d of %d cameras failed. The finished cameras' results are "
            "kept (%s) and a re-run reuses them; set EXPRESS.ALLOW_PARTIAL true to match the cameras "
            "that succeeded.",
            len(failed),
            len(outcomes),
            ", ".join(finished) or "none",
        )
        return 1
    if len(failed) == len(outcomes):
        log.error("every camera failed; nothing to match")
        return 1
    skip = {o.index for o in failed}
    if skip:
        log.warning(
            "EXPRESS.ALLOW_PARTIAL: matching the %d cameras that succeeded", len(outcomes) - len(skip)
        )
    tracklets = [t for o in outcomes for t in o.tracklets]
    result = run_matching(cfg, jobs, tracklets, skip, run_id)
    if cfg.EXPRESS.FINAL_VIDEO_OUTPUT:
        render_videos(jobs, result, skip=skip, output_dir=Path(cfg.OUTPUT_DIR))
    write_run_report(cfg)
    evaluate_result(cfg, [job.name for job in jobs], result)
    return 1 if failed else not_fully_read_code(jobs, skip)


def not_fully_read_code(jobs: list[CameraJob], skip: set[int]) -> int:
    """EXIT_NOT_FULLY_READ when a camera's video had a corrupt stretch or ended early, else 0."""
    from mot.result_set import EXIT_NOT_FULLY_READ, partly_read

    partial = [job.name for job in jobs if job.index not in skip and partly_read(job.output_dir)]
    if partial:
        log.warning(
            "not every video was fully read (%s): see video_read in their results; exit code %d",
            ", ".join(partial),
            EXIT_NOT_FULLY_READ,
        )
    return EXIT_NOT_FULLY_READ if partial else 0


def main(argv: list[str] | None = None) -> int:
    return run_cli("Express MTMC: MOT on every camera, then multi-camera clustering.", "express", run, argv)


if __name__ == "__main__":
    sys.exit(main())
