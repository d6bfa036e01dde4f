"""Multi-camera clustering on saved tracklets (MTMC.TRACKLETS or MTMC.PICKLED_TRACKLETS).

python mtmc/run_mtmc.py --config config/examples/mtmc_only.yaml [--dry-run] [KEY VALUE ...]

File i holds camera i of the layout. Results: ``OUTPUT_DIR/{i}_{camera}/mtmc.*`` per camera
and ``OUTPUT_DIR/mtmc.npz`` for all; with EVAL.GROUND_TRUTHS (one per camera) also the
per-camera and multi-camera scores.

Input files written by this program must belong to a complete result set (their
``mot.manifest.json`` lists them with matching hashes, ``mot.manifest``); the results form
one such set too. Stages are imported when the run starts, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from config.cli import run_cli

if TYPE_CHECKING:
    from yacs.config import CfgNode

    from mot.tracklet import Tracklet

log = logging.getLogger("mtmc.run_mtmc")


def camera_label(path: str, index: int) -> str:
    """``0_far`` for ``.../0_far/mot.npz``; the file stem for any other file name."""
    from config.cameras import name_from_path

    return f"{index}_{name_from_path(path) or 'camera'}"


def load_cameras(cfg: CfgNode) -> list[list[Tracklet]]:
    """Each file's tracklets, assigned to the camera of its position in the list.

    Raises ``ResultSetError`` for a file of an unfinished or mixed result set.
    """
    from mot.manifest import check_result_file
    from mot.storage import load_tracklets

    files = list(cfg.MTMC.TRACKLETS or cfg.MTMC.PICKLED_TRACKLETS)
    cameras = []
    for camera, path in enumerate(files):
        check_result_file(path)
        table = load_tracklets(path, allow_pickle=cfg.MTMC.ALLOW_PICKLE, camera=camera)
        tracklets = [t if t.camera == camera else replace(t, camera=camera) for t in table.tracklets]
        missing = sum(t.mean_feature is None for t in tracklets)
        log.info(
            "camera %d: %d tracklets, %d boxes (%s)", camera, len(tracklets), sum(map(len, tracklets)), path
        )
        if missing:
            log.warning(
                "camera %d: %d tracklets have no appearance feature; they cannot be matched", camera, missing
            )
        cameras.append(tracklets)
    return cameras


def run(cfg: CfgNode, args: argparse.Namespace) -> int:
    from config.cameras import tracklet_camera_names
    from config.layout import parse_layout
    from evaluate.formats import ground_truth_problems
    from mot.manifest import ResultSetError
    from mot.plan import save_plan
    from mot.tracklet_file import TrackletFileError

    files = list(cfg.MTMC.TRACKLETS or cfg.MTMC.PICKLED_TRACKLETS)
    try:
        cameras = load_cameras(cfg)
    except (TrackletFileError, ResultSetError, PermissionError) as err:
        log.error("%s", err)
        return 2
    if problems := ground_truth_problems(cfg.EVAL.GROUND_TRUTHS):
        log.error("unusable ground truth:\n  %s", "\n  ".join(problems))
        return 2
    # camera names as the tracklet files record them: a layout may name cameras instead of numbering them
    layout = parse_layout(cfg.MTMC.CAMERA_LAYOUT, tracklet_camera_names(files))
    labels = [camera_label(path, i) for i, path in enumerate(files)]
    plan = {
        "command": "mtmc",
        "inputs": [{"file": f, "tracklets": len(c)} for f, c in zip(files, cameras, strict=True)],
        "layout": cfg.MTMC.CAMERA_LAYOUT,
        "fps": layout.fps.tolist(),
        "linkage": cfg.MTMC.LINKAGE,
        "min_sim": cfg.MTMC.MIN_SIM,
    }
    out = Path(cfg.OUTPUT_DIR)
    written = save_plan(out, cfg, plan)
    log.info("wrote %s", ", ".join(map(str, written)))
    if args.dry_run:
        log.info("dry run: configuration and tracklet files are valid; stopping before clustering")
        return 0
    from mot.manifest import new_run_id
    from mtmc.express import clear_mtmc, evaluate_result, matching_options, save_mtmc_set, write_run_report
    from mtmc.matching import match_tracklets

    dirs = [out / label for label in labels]
    clear_mtmc(out)
    result = match_tracklets([t for c in cameras for t in c], layout, matching_options(cfg))
    inputs = [Path(f) for f in files]
    written = save_mtmc_set(out, dirs, result, cfg, inputs, new_run_id(), "mtmc")
    log.info("wrote %d files, %s for all cameras", len(written), written[-1])
    write_run_report(cfg)
    evaluate_result(cfg, labels, result)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli("Multi-camera tracking on saved single-camera tracklets.", "mtmc", run, argv)


if __name__ == "__main__":
    sys.exit(main())
