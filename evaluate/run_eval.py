"""Score predictions against ground truth (EVAL.GROUND_TRUTHS / EVAL.PREDICTIONS).

python evaluate/run_eval.py --config FILE [--dry-run] [KEY VALUE ...]

Ground truth: MOTChallenge text or UA-DETRAC XML, one file per sequence; predictions:
MOTChallenge text. Prints the table and, with OUTPUT_DIR set, writes eval.csv and eval.json.
Predictions written by this program must belong to a complete result set (``mot.manifest``).
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

log = logging.getLogger("evaluate.run_eval")


def sequence_name(gt_path: str, index: int, taken: dict) -> str:
    """The ground truth's file stem (its folder for ``gt.txt``), made unique with the index."""
    path = Path(gt_path)
    name = path.parent.name if path.stem in ("gt", "ground_truth") else path.stem
    return name if name not in taken else f"{index}_{name}"


def run(cfg: CfgNode, args: argparse.Namespace) -> int:
    from evaluate.formats import AnnotationError, read_ground_truth, read_mot_challenge
    from mot.manifest import ResultSetError, check_result_file

    sequences = {}
    try:
        for i, (gt, pred) in enumerate(zip(cfg.EVAL.GROUND_TRUTHS, cfg.EVAL.PREDICTIONS, strict=True)):
            check_result_file(pred)
            name = sequence_name(gt, i, sequences)
            sequences[name] = (read_ground_truth(gt), read_mot_challenge(pred, drop_zero_flag=False))
            log.info(
                "%s: %d ground-truth boxes, %d predicted boxes (%s)",
                name,
                len(sequences[name][0]),
                len(sequences[name][1]),
                pred,
            )
            if not len(sequences[name][1]):
                log.warning("%s: no predicted boxes in %s; every score will be 0", name, pred)
    except (AnnotationError, ResultSetError) as err:
        log.error("%s", err)
        return 2
    if args.dry_run:
        log.info("dry run: ground truth and predictions are readable; stopping before scoring")
        return 0
    if cfg.EVAL.IGNORE_FP:
        log.warning(
            "EVAL.IGNORE_FP: predictions matching no ground truth are dropped; this flatters the scores"
        )
    from evaluate.metrics import evaluate_many
    from evaluate.report import format_table, save_report

    results = evaluate_many(sequences, cfg.EVAL.MIN_IOU, cfg.EVAL.IGNORE_FP)
    log.info("min IoU %.2f\n%s", cfg.EVAL.MIN_IOU, format_table(results))
    if cfg.OUTPUT_DIR:
        written = save_report(results, Path(cfg.OUTPUT_DIR))
        log.info("wrote %s", ", ".join(map(str, written)))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli("Evaluate tracking results against ground truth.", "eval", run, argv)


if __name__ == "__main__":
    sys.exit(main())
