"""The tracker alone on KITTI tracking detections, scored with TrackEval's KITTI protocol (class car).

    python tools/eval_tracker_on_kitti.py [--kitti ../shared/data/kitti_train]
        [--set TRACK_THRESH=0.8 --set IOU_PLUS_ONE=true ...] [--per-sequence]

Detections are ``det_pointrcnn_car`` (score = sigmoid(logit), zero-width boxes dropped); the
tracker is ByteTrack with the ``MOT.BYTETRACK`` defaults of config/defaults.py, overridden by
``--set KEY=VALUE``, at 10 fps. Each frame reports the confirmed tracks matched in it, with
their Kalman boxes, as the reference ByteTrack's evaluation does.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from config.defaults import get_cfg_defaults
from config.yaml_safe import parse_yaml
from evaluate.kitti import SUMMARY, KittiSequence, evaluate_kitti, load_kitti, tracked_lines
from mot.camera_setup import tracker_params
from mot.factory import build_tracker

log = logging.getLogger("tools.eval_tracker_on_kitti")

DEFAULT_KITTI = Path(__file__).resolve().parents[2] / "shared" / "data" / "kitti_train"
KITTI_FPS = 10.0
DETECTIONS = "det_pointrcnn_car"
RATIOS = ("HOTA", "DetA", "AssA", "MOTA", "IDF1")


def track_kitti(sequence: KittiSequence, params: Mapping[str, Any], fps: float = KITTI_FPS) -> list[str]:
    """KITTI result rows of one sequence: confirmed tracks per frame, Kalman boxes."""
    return tracked_lines(build_tracker("bytetrack_iou", params, frame_rate=fps), sequence)


def run(kitti: Path, overrides: Mapping[str, Any] | None = None) -> dict[str, dict[str, float]]:
    """Summaries per sequence and ``COMBINED_SEQ`` for ByteTrack with defaults plus ``overrides``."""
    params = tracker_params(get_cfg_defaults().MOT, "bytetrack_iou")
    params.update({k.lower(): v for k, v in (overrides or {}).items()})
    sequences = load_kitti(kitti / "label_02", kitti / DETECTIONS)
    results = {seq.name: track_kitti(seq, params) for seq in sequences}
    return evaluate_kitti(results, kitti / "label_02", {seq.name: seq.n_frames for seq in sequences})


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (values parsed as YAML) -> ``{key: value}`` of ``MOT.BYTETRACK`` keys."""
    known = set(get_cfg_defaults().MOT.BYTETRACK)
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key.upper() not in known:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(known))}")
        out[key.upper()] = parse_yaml(value)
    return out


def kitti_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """Ratios as percentages with two decimals (as KITTI papers report them), counts as integers."""
    lines = ["sequence      " + " ".join(f"{name:>7}" for name in SUMMARY)]
    for seq, res in results.items():
        cells = [f"{100 * res[n]:7.2f}" if n in RATIOS else f"{int(res[n]):7d}" for n in SUMMARY]
        lines.append(f"{seq:<13} " + " ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--kitti", type=Path, default=DEFAULT_KITTI, help="folder with label_02/ and detections"
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="MOT.BYTETRACK key")
    parser.add_argument("--per-sequence", action="store_true", help="one row per sequence")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        overrides = parse_overrides(args.set)
        results = run(args.kitti, overrides)
    except ValueError as err:
        log.error("%s", err)
        return 2
    if not args.per_sequence:
        results = {"COMBINED_SEQ": results["COMBINED_SEQ"]}
    print(kitti_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
