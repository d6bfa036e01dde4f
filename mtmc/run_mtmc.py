"""Multi-camera clustering on saved tracklets (MTMC.TRACKLETS or MTMC.PICKLED_TRACKLETS).

python mtmc/run_mtmc.py --config config/examples/mtmc_only.yaml [--dry-run] [KEY VALUE ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from yacs.config import CfgNode

from config.cli import run_cli
from config.layout import parse_layout
from mot.plan import save_plan
from mot.storage import TrackletFileError, load_tracklets

log = logging.getLogger("mtmc.run_mtmc")


def run(cfg: CfgNode, args: argparse.Namespace) -> int:
    files = list(cfg.MTMC.TRACKLETS or cfg.MTMC.PICKLED_TRACKLETS)
    layout = parse_layout(cfg.MTMC.CAMERA_LAYOUT)
    inputs = []
    for camera, path in enumerate(files):
        try:
            table = load_tracklets(path, allow_pickle=cfg.MTMC.ALLOW_PICKLE, camera=camera)
        except (TrackletFileError, PermissionError) as err:
            log.error("%s", err)
            return 2
        n_boxes = sum(len(t) for t in table.tracklets)
        log.info("camera %d: %d tracklets, %d boxes (%s)", camera, len(table.tracklets), n_boxes, path)
        inputs.append({"file": path, "tracklets": len(table.tracklets), "boxes": n_boxes})
    plan = {
        "command": "mtmc",
        "inputs": inputs,
        "layout": cfg.MTMC.CAMERA_LAYOUT,
        "fps": layout.fps.tolist(),
        "linkage": cfg.MTMC.LINKAGE,
        "min_sim": cfg.MTMC.MIN_SIM,
    }
    written = save_plan(Path(cfg.OUTPUT_DIR), cfg, plan)
    log.info("wrote %s", ", ".join(map(str, written)))
    if args.dry_run:
        log.info("dry run: configuration and tracklet files are valid; stopping before clustering")
        return 0
    log.error(
        "this version validates and plans only: multi-camera clustering (issue #5) is not built yet; "
        "run with --dry-run"
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    return run_cli("Multi-camera tracking on saved single-camera tracklets.", "mtmc", run, argv)


if __name__ == "__main__":
    sys.exit(main())
