"""Score predictions against ground truth (EVAL.GROUND_TRUTHS / EVAL.PREDICTIONS).

python evaluate/run_eval.py --config FILE [--dry-run] [KEY VALUE ...]
"""

from __future__ import annotations

import argparse
import logging
import sys

from yacs.config import CfgNode

from config.cli import run_cli
from mot.storage import TrackletFileError, load_mot_txt

log = logging.getLogger("evaluate.run_eval")


def run(cfg: CfgNode, args: argparse.Namespace) -> int:
    for gt, pred in zip(cfg.EVAL.GROUND_TRUTHS, cfg.EVAL.PREDICTIONS, strict=True):
        try:
            n_gt, n_pred = len(load_mot_txt(gt).tracklets), len(load_mot_txt(pred).tracklets)
        except TrackletFileError as err:
            log.error("%s", err)
            return 2
        log.info("%s (%d ids) vs %s (%d ids)", gt, n_gt, pred, n_pred)
    if args.dry_run:
        log.info("dry run: ground truth and predictions are readable; stopping before scoring")
        return 0
    log.error("this version validates only: the metrics (issue #4) are not built yet; run with --dry-run")
    return 1


def main(argv: list[str] | None = None) -> int:
    return run_cli("Evaluate tracking results against MOTChallenge ground truth.", "eval", run, argv)


if __name__ == "__main__":
    sys.exit(main())
