"""Express MTMC: single-camera tracking on every camera of EXPRESS.CAMERAS, then clustering across cameras.

python mtmc/run_express_mtmc.py --config config/examples/express_demo.yaml [--dry-run] [KEY VALUE ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from yacs.config import CfgNode

from config.cli import run_cli
from config.layout import parse_layout
from config.loader import camera_config, camera_name
from mot.camera import ModelCache
from mot.plan import camera_plan, format_camera, save_plan, video_errors
from mtmc.express import camera_jobs, evaluate_result, render_videos, run_matching, track_camera

log = logging.getLogger("mtmc.express")


def express_plan(cfg: CfgNode) -> dict[str, Any]:
    out = Path(cfg.OUTPUT_DIR)
    names = [camera_name(cfg, i) for i in range(len(cfg.EXPRESS.CAMERAS))]
    cameras = [
        camera_plan(camera_config(cfg, i).MOT, name, out / f"{i}_{name}") for i, name in enumerate(names)
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
    if errors := video_errors(plan):
        log.error("unreadable input:\n  %s", "\n  ".join(errors))
        return 2
    written = save_plan(Path(cfg.OUTPUT_DIR), cfg, plan)
    log.info("wrote %s", ", ".join(map(str, written)))
    if args.dry_run:
        log.info("dry run: configuration, models and inputs are valid; stopping before tracking")
        return 0
    jobs = camera_jobs(cfg)
    models = ModelCache(cfg.SYSTEM.DEVICE, cfg.SYSTEM.NUM_THREADS)
    tracklets = []
    for job in jobs:
        try:
            tracklets += track_camera(job, models, position=job.index)
        except Exception:
            done = [j.name for j in jobs[: job.index]]
            log.exception(
                "camera '%s' failed; the results of the cameras before it (%s) are kept, and a re-run "
                "reuses them",
                job.name,
                ", ".join(done) or "none",
            )
            return 1
    result = run_matching(cfg, jobs, tracklets)
    if cfg.EXPRESS.FINAL_VIDEO_OUTPUT:
        render_videos(jobs, result)
    evaluate_result(cfg, [job.name for job in jobs], result)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli("Express MTMC: MOT on every camera, then multi-camera clustering.", "express", run, argv)


if __name__ == "__main__":
    sys.exit(main())
