"""Single-camera tracking of MOT.VIDEO into OUTPUT_DIR.

python mot/run_tracker.py --config config/examples/mot_intersection.yaml [--dry-run] [KEY VALUE ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from yacs.config import CfgNode

from config.cli import run_cli
from mot.camera import ModelCache, run_camera
from mot.plan import camera_plan, format_camera, plan_errors, save_plan

log = logging.getLogger("mot.run_tracker")


def run(cfg: CfgNode, args: argparse.Namespace) -> int:
    out = Path(cfg.OUTPUT_DIR)
    models = ModelCache(cfg.SYSTEM.DEVICE, cfg.SYSTEM.NUM_THREADS)  # loads and checks every model once
    name = Path(cfg.MOT.VIDEO).stem or "camera"
    plan = {"command": "mot", "cameras": [camera_plan(cfg.MOT, name, out, models)]}
    log.info("%s", format_camera(plan["cameras"][0]))
    if errors := plan_errors(plan):
        log.error("cannot start:\n  %s", "\n  ".join(errors))
        return 2
    written = save_plan(out, cfg, plan)
    log.info("wrote %s", ", ".join(map(str, written)))
    if args.dry_run:
        log.info("dry run: configuration, models and input are valid; stopping before tracking")
        return 0
    run_camera(cfg, 0, plan["cameras"][0]["name"], out, models)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli("Single-camera multi-object tracking.", "mot", run, argv)


if __name__ == "__main__":
    sys.exit(main())
