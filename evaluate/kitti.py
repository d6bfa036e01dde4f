"""KITTI tracking: read labels and 2D detections, score tracks with TrackEval's ``Kitti2DBox``.

Files (KITTI tracking devkit layout):

* ``label_02/NNNN.txt``: ``frame id type truncated occluded alpha x1 y1 x2 y2 h w l x y z ry``,
  space separated, frames 0-based; ``DontCare`` rows (id -1) are regions where unmatched
  predictions are not counted.
* detections (e.g. AB3DMOT's ``det_pointrcnn_car/NNNN.txt``): ``frame,type,x1,y1,x2,y2,score,...``
  comma separated, frames 0-based; ``score`` is a logit, mapped to [0, 1] with a sigmoid.

Scoring is TrackEval's own KITTI protocol (not a re-implementation): van ground truth and boxes
truncated or occluded beyond level 2 are distractors, unmatched predictions inside DontCare or
at most 25 px high are dropped. TrackEval reads files, so ``evaluate_kitti`` writes the labels'
seqmap and the predictions into a temporary directory.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detection.types import Detections

log = logging.getLogger(__name__)

KITTI_CAR = 2  # COCO car: detections of a car-only detector get this class
SUMMARY = ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "FP", "FN", "Frag")


@dataclass(frozen=True)
class KittiSequence:
    """One sequence's detections, one ``Detections`` per frame ``0 .. n_frames - 1``."""

    name: str
    n_frames: int
    detections: list[Detections]


def read_kitti_detections(path: str | Path, n_frames: int | None = None) -> list[Detections]:
    """Per-frame detections of a ``frame,type,x1,y1,x2,y2,score,...`` file (score a logit).

    Boxes without width or height are dropped (PointRCNN emits a few). ``n_frames`` pads the
    list with empty frames up to the sequence length.

    Raises:
        ValueError: naming the file and line when a row has fewer than 7 numeric fields.
    """
    path = Path(path)
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append([float(v) for v in line.split(",")[:7]])
        except ValueError as err:
            raise ValueError(f"{path}:{number}: expected numbers frame,type,x1,y1,x2,y2,score") from err
        if len(rows[-1]) < 7:
            raise ValueError(f"{path}:{number}: expected at least 7 fields frame,type,x1,y1,x2,y2,score")
    table = np.asarray(rows, np.float64).reshape(-1, 7)
    frames = table[:, 0].astype(np.int64)
    xyxy = table[:, 2:6]
    keep = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    frames, xyxy, score = frames[keep], xyxy[keep], 1.0 / (1.0 + np.exp(-table[keep, 6]))
    total = max(n_frames or 0, int(frames.max()) + 1 if len(frames) else 0)
    out = []
    for frame in range(total):
        rows_f = np.flatnonzero(frames == frame)
        out.append(Detections(xyxy[rows_f], score[rows_f], np.full(len(rows_f), KITTI_CAR)))
    return out


def kitti_label_frames(path: str | Path) -> int:
    """Number of frames a label file covers (last frame + 1)."""
    frames = [int(line.split(" ", 1)[0]) for line in Path(path).read_text().splitlines() if line.strip()]
    return max(frames) + 1 if frames else 0


def load_kitti(
    label_dir: str | Path, det_dir: str | Path, names: Sequence[str] | None = None
) -> list[KittiSequence]:
    """Sequences with both a label and a detection file (all of them, or ``names``)."""
    label_dir, det_dir = Path(label_dir), Path(det_dir)
    names = sorted(p.stem for p in label_dir.glob("*.txt")) if names is None else list(names)
    if not names:
        raise ValueError(f"{label_dir}: no KITTI label files (NNNN.txt)")
    out = []
    for name in names:
        label, det = label_dir / f"{name}.txt", det_dir / f"{name}.txt"
        for file in (label, det):
            if not file.is_file():
                raise ValueError(f"{file}: KITTI file not found")
        n = kitti_label_frames(label)
        dets = read_kitti_detections(det, n)
        out.append(KittiSequence(name, max(n, len(dets)), dets))
    return out


def kitti_track_lines(frame: int, track_id: np.ndarray, xyxy: np.ndarray, score: np.ndarray) -> list[str]:
    """KITTI tracking result rows (class Car) for one frame."""
    return [
        f"{frame} {int(i)} Car -1 -1 -10 {b[0]:.2f} {b[1]:.2f} {b[2]:.2f} {b[3]:.2f} "
        f"-1 -1 -1 -1000 -1000 -1000 -10 {s:.4f}"
        for i, b, s in zip(track_id, xyxy, score, strict=True)
    ]


def tracked_lines(tracker: Any, sequence: KittiSequence) -> list[str]:
    """KITTI result rows of ``sequence`` run through ``tracker`` (a ``mot.base.Tracker``): its
    confirmed tracks per frame with their Kalman boxes, as the reference ByteTrack reports them."""
    lines: list[str] = []
    for frame, dets in enumerate(sequence.detections):
        tracks = tracker.update(dets)
        tracks = tracks[tracks.confirmed]
        lines += kitti_track_lines(frame, tracks.track_id, tracks.xyxy, tracks.score)
    return lines


def evaluate_kitti(
    results: Mapping[str, Sequence[str]],
    label_dir: str | Path,
    n_frames: Mapping[str, int],
) -> dict[str, dict[str, float]]:
    """TrackEval ``Kitti2DBox`` (class car) on result rows; a summary per sequence and ``COMBINED_SEQ``.

    Ratios (HOTA, DetA, AssA, MOTA, IDF1) are fractions like ``evaluate.metrics``' summaries.
    """
    import trackeval  # heavy import, only for scoring

    label_dir = Path(label_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="kitti_eval_") as tmp:
        root = Path(tmp)
        gt = root / "gt"
        (gt / "label_02").mkdir(parents=True)
        seqmap = [f"{name} empty 000000 {n_frames[name]:06d}" for name in results]
        (gt / "evaluate_tracking.seqmap.training").write_text("\n".join(seqmap) + "\n")
        data = root / "trackers" / "ours" / "data"
        data.mkdir(parents=True)
        for name, lines in results.items():
            (gt / "label_02" / f"{name}.txt").symlink_to(label_dir / f"{name}.txt")
            (data / f"{name}.txt").write_text("".join(f"{line}\n" for line in lines))
        evaluator = trackeval.Evaluator(
            {
                "USE_PARALLEL": False,
                "PRINT_RESULTS": False,
                "PRINT_CONFIG": False,
                "TIME_PROGRESS": False,
                "DISPLAY_LESS_PROGRESS": True,
                "OUTPUT_SUMMARY": False,
                "OUTPUT_DETAILED": False,
                "PLOT_CURVES": False,
                "PRINT_ONLY_COMBINED": True,
            }
        )
        dataset = trackeval.datasets.Kitti2DBox(
            {
                "GT_FOLDER": str(gt),
                "TRACKERS_FOLDER": str(root / "trackers"),
                "OUTPUT_FOLDER": str(root / "out"),
                "CLASSES_TO_EVAL": ["car"],
                "SPLIT_TO_EVAL": "training",
                "PRINT_CONFIG": False,
            }
        )
        metrics = [
            trackeval.metrics.HOTA({"PRINT_CONFIG": False}),
            trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
            trackeval.metrics.Identity({"PRINT_CONFIG": False}),
        ]
        with contextlib.redirect_stdout(io.StringIO()):  # TrackEval prints progress unconditionally
            raw, _ = evaluator.evaluate([dataset], metrics)
    per_seq = raw["Kitti2DBox"]["ours"]
    return {seq: _summary(res["car"]) for seq, res in per_seq.items()}


def _summary(res: Mapping[str, Mapping[str, object]]) -> dict[str, float]:
    hota, clear, ident = res["HOTA"], res["CLEAR"], res["Identity"]
    return {
        "HOTA": float(np.mean(hota["HOTA"])),
        "DetA": float(np.mean(hota["DetA"])),
        "AssA": float(np.mean(hota["AssA"])),
        "MOTA": float(clear["MOTA"]),
        "IDF1": float(ident["IDF1"]),
        "Recall": float(clear["CLR_Re"]),
        "IDSW": float(clear["IDSW"]),
        "FP": float(clear["CLR_FP"]),
        "FN": float(clear["CLR_FN"]),
        "Frag": float(clear["Frag"]),
    }
