"""Single-camera tracking of MOT.VIDEO into OUTPUT_DIR.

python mot/run_tracker.py --config config/examples/mot_intersection.yaml [--dry-run] [KEY VALUE ...]

The stages are imported when the run starts, so ``--help`` loads no model runtime or OpenCV.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from config.cli import run_cli

if TYPE_CHECKING:
    from yacs.config import CfgNode

    from mot.model_cache import ModelCache

log = logging.getLogger("mot.run_tracker")


def run(cfg: CfgNode, args: argparse.Namespace) -> int:
    from mot.model_cache import model_cache
    from mot.plan import camera_plan, format_camera, plan_errors, save_plan

    out = Path(cfg.OUTPUT_DIR)
    models = model_cache(cfg)  # loads and checks every model once
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
    return track(cfg, plan["cameras"][0]["name"], out, models)


def track(cfg: CfgNode, name: str, out: Path, models: ModelCache) -> int:
    from mot.camera import run_camera
    from mot.model_cache import FeatureExtractionError
    from mot.result_set import EXIT_NOT_FULLY_READ

    try:
        result = run_camera(cfg, 0, name, out, models)
    except FeatureExtractionError as err:
        log.error("%s; the tracks were saved without appearance features in %s", err, out)
        return 1
    return 0 if result.fully_read else EXIT_NOT_FULLY_READ


def main(argv: list[str] | None = None) -> int:
    return run_cli("Single-camera multi-object tracking.", "mot", run, argv)


if __name__ == "__main__":
    sys.exit(main())
