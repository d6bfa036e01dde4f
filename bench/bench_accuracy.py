"""Accuracy on every labelled input, per detector x tracker profile, in one table.

    python bench/bench_accuracy.py [--inputs c010 s02 kitti] [--trackers defaults +oru ...]
        [--detectors yolox_nano yolov8n_int8 ...] [--no-ultralytics]
    python bench/bench_accuracy.py --schedules [every_frame "interval 0.3 s" ...] [--inputs ...]
        [--starts 0 3]

``--schedules``: instead, the detection schedules (``MOT.DETECTION_SCHEDULE`` and friends,
``bench/schedule_runs.py``) side by side on every input: detector cost (share of frames
detected) and HOTA, with the change against every-frame detection (the defaults must stay
within 0.005 of it; docs/realtime.md). Its inputs are c010 and copies of it re-encoded as
other cameras deliver video (``bench/c010_variants.py``: ``c010-mp4v``, the copy
``bench/bench_realtime.py`` scores, ``c010-vp8``, ``c010-mjpeg50``, ``c010-540p``), each also
from the first frames given by ``--starts`` (the cadence then falls on other frames), plus the
S02 and KITTI harnesses; each copy's detections are computed once per run.

Inputs:

* ``c010``: the AI City S03 c010 clip (100 frames, 1080p) through the full pipeline
  (``mot.camera.run_camera``: decode, detect, track, tracklets), scored against ``gt.txt`` at
  IoU 0.5 (video frame k = ground-truth frame k + 1); detection recall of the kept tracklet
  boxes is split into moving and parked vehicles with ``gt_flags.txt``.
* ``s02``: the degraded-ground-truth harness of ``tools/eval_tracker_on_gt.py`` on AI City S02
  (4 cameras; tracker alone; defaults of that tool).
* ``kitti``: KITTI train10, PointRCNN detections, tracker alone, TrackEval ``Kitti2DBox`` car.

Where ultralytics is importable (an optional bench environment, never a test dependency),
its ``track()`` with ``bytetrack.yaml`` and ``botsort.yaml`` on ``yolov8n_int8.onnx`` (classes
2, 3, 5, 7) is scored on c010 in the same run. Frames per second are wall-clock for the whole
input (full pipeline on c010, tracker alone elsewhere); measure them on a quiet machine.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from bench import c010_variants, schedule_runs
from config.defaults import get_cfg_defaults
from config.loader import load_config
from detection.boxes import iou_matrix, xywh_to_xyxy
from detection.tiling import Detector
from detection.types import Detections
from evaluate.formats import BoxRows, from_tracklets, read_mot_challenge
from evaluate.kitti import evaluate_kitti, load_kitti
from evaluate.metrics import evaluate_many
from mot.camera import run_camera
from mot.camera_setup import tracker_params
from mot.model_cache import ModelCache
from tools.eval_tracker_on_gt import run as run_s02_harness
from tools.eval_tracker_on_kitti import DETECTIONS, track_kitti

log = logging.getLogger("bench.accuracy")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
C010 = SHARED / "data" / "aic_s03_c010"
S02_GT = SHARED / "data" / "aic_s02" / "ground_truth_S02.txt"
KITTI = SHARED / "data" / "kitti_train"
ULTRA_MODEL = SHARED / "models" / "yolov8n_int8.onnx"
VEHICLES = [2, 3, 5, 7]

# Tracker profiles: MOT.BYTETRACK overrides. Thresholds are left to the detector profile
# (detector-aware defaults); "bytetrack" turns every later option off, so it keeps its meaning
# when the defaults move.
PLAIN = {
    "IOU_PLUS_ONE": False,
    "OBSERVATION_REUPDATE": False,
    "OBSERVATION_RECOVERY": False,
    "KALMAN_STATE": "xyah",
    "APPEARANCE": False,
    "ADAPTIVE_THRESH": False,
    "DELETION_HITS": 0,
    "DIRECTION_WEIGHT": 0.0,
}
TRACKERS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "bytetrack": PLAIN,
    "bytetrack+iou1": {**PLAIN, "IOU_PLUS_ONE": True},
    "bytetrack+oru": {**PLAIN, "OBSERVATION_REUPDATE": True},
    "bytetrack+ocr": {**PLAIN, "OBSERVATION_RECOVERY": True},
    "bytetrack+xywh": {**PLAIN, "KALMAN_STATE": "xywh"},
    "bytetrack+adaptive": {**PLAIN, "ADAPTIVE_THRESH": True},
    "defaults+xywh": {"KALMAN_STATE": "xywh"},
    "defaults+appearance": {"APPEARANCE": True},  # needs embeddings: c010 only
    "defaults-direction": {"DIRECTION_WEIGHT": 0.0},
    "defaults+direction_ungated": {"DIRECTION_KEEP_GATE": False},  # the direction term may un-match
    "defaults+direction_delta3": {"DIRECTION_DELTA": 3, "DIRECTION_MIN_MOVE": 0.5},
    "defaults-deletion": {"DELETION_HITS": 0},
    "defaults+long_buffer": {"LONG_BUFFER": 90},
    "defaults+nsa": {"NSA_KALMAN": True},
    "defaults+lost_biou": {"LOST_IOU_BUFFER": 0.3},
}
# Detector profiles for c010: MOT overrides (flat key/value pairs for config.loader) and the
# module the profile's backend needs (profiles whose backend is not installed are skipped).
DETECTORS: dict[str, tuple[list[str], str]] = {
    "default": ([], "openvino"),  # vehicle-detection-0202 at 576x1024 with its manifest values
    "yolox_nano": (["MOT.DETECTOR", "yolox_nano.onnx"], "onnxruntime"),
    "vehicle-detection-0200": (["MOT.DETECTOR", "vehicle-detection-0200"], "openvino"),
    "yolox_nano_tiled640": (
        ["MOT.DETECTOR", "yolox_nano.onnx", "MOT.DETECTION_TILE_SIZE", "640"],
        "onnxruntime",
    ),
    "yolov8n_int8": (["MOT.DETECTOR", str(ULTRA_MODEL)], "onnxruntime"),
    "default@0.25/0.25": (  # config/examples/profile_offline_best.yaml
        ["MOT.BYTETRACK.TRACK_THRESH", "0.25", "MOT.BYTETRACK.NEW_TRACK_THRESH", "0.25"],
        "openvino",
    ),
}


@dataclass
class Row:
    """One line of the table; ratios are fractions, ``None`` where not applicable."""

    input: str
    detector: str
    tracker: str
    hota: float
    mota: float
    idf1: float
    idsw: int
    recall: float
    recall_moving: float | None
    recall_parked: float | None
    fps: float


# ---------------------------------------------------------------------- c010, full pipeline


def parked_flags(path: Path) -> dict[tuple[int, int], bool]:
    """``(frame, id) -> parked`` from ``gt_flags.txt`` (``frame,id,kind,parked,occluded``)."""
    flags = {}
    for line in path.read_text().splitlines():
        parts = line.strip().split(",")
        if len(parts) >= 4 and parts[0].isdigit():
            flags[(int(parts[0]), int(parts[1]))] = parts[3] == "1"
    return flags


def recall_split(
    gt: BoxRows, pred: BoxRows, parked: Mapping[tuple[int, int], bool]
) -> tuple[float, float, float]:
    """Fraction of ground-truth boxes matched one-to-one at IoU >= 0.5: all, moving, parked."""
    hit = np.zeros(len(gt), bool)
    gt_xyxy, pred_xyxy = xywh_to_xyxy(gt.xywh), xywh_to_xyxy(pred.xywh)
    for frame in np.unique(gt.frame):
        g, p = np.flatnonzero(gt.frame == frame), np.flatnonzero(pred.frame == frame)
        if len(p) == 0:
            continue
        iou = iou_matrix(gt_xyxy[g], pred_xyxy[p])
        rows, cols = linear_sum_assignment(-iou)
        hit[g[rows[iou[rows, cols] >= 0.5]]] = True
    is_parked = np.array(
        [parked.get((int(f), int(i)), False) for f, i in zip(gt.frame, gt.track_id, strict=True)]
    )

    def share(mask: np.ndarray) -> float:
        return float(hit[mask].mean()) if mask.any() else float("nan")

    return share(np.ones(len(gt), bool)), share(~is_parked), share(is_parked)


def c010_row(detector: str, tracker: str, pred: BoxRows, frames: int, seconds: float) -> Row:
    gt = read_mot_challenge(C010 / "gt.txt")
    res = evaluate_many({"c010": (gt, pred)})["c010"]
    recall, moving, parked = recall_split(gt, pred, parked_flags(C010 / "gt_flags.txt"))
    return Row(
        "c010", detector, tracker, res["HOTA"], res["MOTA"], res["IDF1"], int(res["IDSW"]),
        recall, moving, parked, frames / seconds,
    )  # fmt: skip


def run_c010(detector: str, overrides: Sequence[str], tracker: str, tracker_keys: Mapping[str, Any]) -> Row:
    """The full pipeline on the c010 clip with one detector and one tracker profile."""
    keys = [item for k, v in tracker_keys.items() for item in (f"MOT.BYTETRACK.{k}", _yaml(v))]
    with tempfile.TemporaryDirectory(prefix="bench_acc_") as out:
        cfg = load_config(
            None,
            ["OUTPUT_DIR", out, "MOT.VIDEO", str(C010 / "c010_first100.mp4"), *overrides, *keys],
            mode="mot",
        )
        models = _CACHES.setdefault(
            (detector, *overrides), CachedDetections(cfg.SYSTEM.DEVICE, cfg.SYSTEM.NUM_THREADS)
        )
        models.detector(cfg.MOT), models.embedder(cfg.MOT)  # loading is not timed
        start = time.perf_counter()
        result = run_camera(cfg, 0, "c010", Path(out), models, progress=False)
        seconds = time.perf_counter() - start
    return c010_row(detector, tracker, from_tracklets(result.tracklets), result.stats.frames, seconds)


class FrameCache:
    """A detector that answers frames it has seen from memory (keyed by their bytes).

    The c010 clip costs about 0.1 s a frame to detect; tracker profiles then re-use the
    detections, so comparing them costs tracking time only (their frames/s is then not the
    pipeline's: the first profile of each detector is the one to time).
    """

    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.seen: dict[bytes, Detections] = {}

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        keys = [hashlib.blake2b(np.ascontiguousarray(im).data, digest_size=16).digest() for im in images]
        missing = [k for k, key in enumerate(keys) if key not in self.seen]
        if missing:
            found = self.detector.detect_batch([images[k] for k in missing])
            self.seen.update((keys[k], d) for k, d in zip(missing, found, strict=True))
        return [self.seen[key] for key in keys]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.detector, name)


class CachedDetections(ModelCache):
    """The model cache of one detector profile, with its detector behind a ``FrameCache``."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._cached: dict[int, FrameCache] = {}

    def detector(self, mot: Any, batched: bool = False) -> Detector:
        real = super().detector(mot, batched)
        return self._cached.setdefault(id(real), FrameCache(real))


_CACHES: dict[tuple[str, ...], CachedDetections] = {}


def run_c010_ultralytics(tracker_yaml: str) -> Row:
    """ultralytics' own ``track()`` on the same ONNX model (optional dependency)."""
    from ultralytics import YOLO

    model = YOLO(str(ULTRA_MODEL), task="detect")
    rows = []
    start = time.perf_counter()
    frames = 0
    stream = model.track(
        source=str(C010 / "c010_first100.mp4"),
        classes=VEHICLES,
        tracker=tracker_yaml,
        stream=True,
        verbose=False,
    )
    for frame, result in enumerate(stream):
        frames += 1
        boxes = result.boxes
        if boxes is None or boxes.id is None:
            continue
        xyxy, ids = boxes.xyxy.cpu().numpy(), boxes.id.cpu().numpy().astype(np.int64)
        rows += [(frame + 1, i, *b) for i, b in zip(ids, xyxy, strict=True)]
    seconds = time.perf_counter() - start
    data = np.array(rows, np.float64).reshape(-1, 6)
    xywh = np.concatenate([data[:, 2:4], data[:, 4:6] - data[:, 2:4]], axis=1)
    pred = BoxRows(0, data[:, 0].astype(np.int64), data[:, 1].astype(np.int64), xywh)
    return c010_row("yolov8n_int8 (ultralytics)", tracker_yaml.removesuffix(".yaml"), pred, frames, seconds)


# ---------------------------------------------------------------------- tracker alone


def run_s02(tracker: str, keys: Mapping[str, Any]) -> Row:
    start = time.perf_counter()
    res = run_s02_harness(S02_GT, overrides=keys)["COMBINED"]
    seconds = time.perf_counter() - start
    frames = _s02_frames()
    return Row(
        "s02 degraded GT", "ground truth", tracker, res["HOTA"], res["MOTA"], res["IDF1"], int(res["IDSW"]),
        res["Recall"], None, None, frames / seconds,
    )  # fmt: skip


def run_kitti(tracker: str, keys: Mapping[str, Any]) -> Row:
    params = tracker_params(get_cfg_defaults().MOT, "bytetrack_iou")
    params.update({k.lower(): v for k, v in keys.items()})
    sequences = load_kitti(KITTI / "label_02", KITTI / DETECTIONS)
    start = time.perf_counter()
    results = {seq.name: track_kitti(seq, params) for seq in sequences}
    seconds = time.perf_counter() - start
    res = evaluate_kitti(results, KITTI / "label_02", {s.name: s.n_frames for s in sequences})["COMBINED_SEQ"]
    frames = sum(s.n_frames for s in sequences)
    return Row(
        "kitti train10", "PointRCNN", tracker, res["HOTA"], res["MOTA"], res["IDF1"], int(res["IDSW"]),
        res["Recall"], None, None, frames / seconds,
    )  # fmt: skip


# ---------------------------------------------------------------------- table


def _yaml(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _s02_frames() -> int:
    gt = np.loadtxt(S02_GT, usecols=(0, 2), dtype=np.int64).reshape(-1, 2)
    return int(sum(gt[gt[:, 0] == c, 1].max() for c in np.unique(gt[:, 0])))


def format_rows(rows: Sequence[Row]) -> str:
    """A Markdown table; ratios in percent."""

    def pct(v: float | None) -> str:
        return "–" if v is None or np.isnan(v) else f"{100 * v:.1f}"

    head = "| input | detector | tracker | HOTA | MOTA | IDF1 | IDSW | recall | moving | parked | frames/s* |"
    lines = [head, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r.input} | {r.detector} | {r.tracker} | {pct(r.hota)} | {pct(r.mota)} | {pct(r.idf1)} | "
            f"{r.idsw} | {pct(r.recall)} | {pct(r.recall_moving)} | {pct(r.recall_parked)} | {r.fps:.1f} |"
        )
    return "\n".join(lines)


def jobs(
    inputs: Sequence[str], trackers: Sequence[str], detectors: Sequence[str], ultra: bool
) -> list[Callable[[], Row]]:
    out: list[Callable[[], Row]] = []
    for name in trackers:
        keys = TRACKERS[name]
        if "c010" in inputs:
            out += [lambda d=d, n=name, k=keys: run_c010(d, DETECTORS[d][0], n, k) for d in detectors]
        if keys.get("APPEARANCE"):
            continue  # no embeddings in the tracker-alone harnesses
        if "s02" in inputs:
            out.append(lambda n=name, k=keys: run_s02(n, k))
        if "kitti" in inputs:
            out.append(lambda n=name, k=keys: run_kitti(n, k))
    if ultra and "c010" in inputs:
        out += [lambda y=y: run_c010_ultralytics(y) for y in ("bytetrack.yaml", "botsort.yaml")]
    return out


def run_schedules(inputs: Sequence[str], names: Sequence[str], starts: Sequence[int] = (0,)) -> int:
    """The schedule table: every named schedule on every input (c010 copies from each of ``starts``)."""
    runners: list[Callable[[str, Mapping[str, Any]], schedule_runs.ScheduleRow]] = []
    for name in inputs:
        if name not in c010_variants.ENCODINGS:
            runners.append({"s02": schedule_runs.run_s02, "kitti": schedule_runs.run_kitti}[name])
            continue
        for start in starts:
            clip = c010_variants.c010_input(name, start)
            cache = schedule_runs.C010Detections(video=clip.video)
            runners.append(lambda n, k, c=cache, v=clip: schedule_runs.run_c010(c, n, k, v))
    rows = []
    for runner in runners:
        for schedule in names:
            rows.append(runner(schedule, schedule_runs.SCHEDULES[schedule]))
            print(schedule_runs.format_schedule_rows(rows).splitlines()[-1], file=sys.stderr, flush=True)
    print(schedule_runs.format_schedule_rows(rows))
    print()
    print(schedule_runs.format_schedule_totals(rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--inputs", nargs="+", default=None, choices=[*c010_variants.ENCODINGS, "s02", "kitti"]
    )
    parser.add_argument("--trackers", nargs="+", default=list(TRACKERS), choices=list(TRACKERS))
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    parser.add_argument(
        "--no-ultralytics", action="store_true", help="skip ultralytics rows even if installed"
    )
    parser.add_argument(
        "--schedules",
        nargs="*",
        default=None,
        choices=list(schedule_runs.SCHEDULES),
        help="score detection schedules instead (all when none is named)",
    )
    parser.add_argument(
        "--starts",
        nargs="+",
        type=int,
        default=[0],
        help="--schedules: score the c010 copies from each of these first frames (later: other cadence)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.schedules is not None:
        inputs = args.inputs or [*c010_variants.ENCODINGS, "s02", "kitti"]
        return run_schedules(inputs, args.schedules or list(schedule_runs.SCHEDULES), args.starts)
    args.inputs = args.inputs or ["c010", "s02", "kitti"]
    if any(i.startswith("c010-") for i in args.inputs):
        parser.error("--inputs: the c010 copies are scored with --schedules only")
    ultra = not args.no_ultralytics and importlib.util.find_spec("ultralytics") is not None
    detectors = [d for d in args.detectors if importlib.util.find_spec(DETECTORS[d][1]) is not None]
    for name in sorted(set(args.detectors) - set(detectors)):
        log.warning("%s: %s is not installed, profile skipped", name, DETECTORS[name][1])
    if not ultra:
        log.warning("ultralytics not importable (or disabled): no ultralytics rows")
    rows = []
    for job in jobs(args.inputs, args.trackers, detectors, ultra):
        rows.append(job())
        print(format_rows(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)  # progress
    rows.sort(key=lambda r: (r.input, r.detector, r.tracker))
    print(format_rows(rows))
    print(
        "\n* frames/s: wall clock of the whole input on a shared, loaded machine; re-measure on a quiet one."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
