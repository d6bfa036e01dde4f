"""Detection schedules scored on every labelled input: detector cost (share of frames detected) and HOTA.

Used by ``bench/bench_accuracy.py --schedules`` and ``bench/bench_realtime.py``. The
detector's output of a frame does not depend on the schedule, so c010's detections are
computed once per process (``C010Detections``) and each schedule only decides which frames'
detections the tracker sees; everything after detection (selection, tracker, coasting,
tracklet building with interpolation) is the pipeline's own code (``mot.pipeline.track_frames``).

* ``c010``: AI City S03 c010, 100 frames at 1080p and 10 fps, the configured detector (default:
  vehicle-detection-0202), scored against ``gt.txt`` at IoU 0.5.
* ``s02``: the degraded-ground-truth harness of ``tools/eval_tracker_on_gt.py`` (4 cameras, 10 fps,
  same seed), detections used only on scheduled frames. There are no images: the ``motion``
  schedule counts the scene as always moving (a busy intersection), i.e. its ``interval`` cadence.
* ``kitti``: KITTI train10 PointRCNN detections, 10 fps, the same way (a camera on a moving car:
  the scene always moves).

Tracker-alone inputs go through ``TrackletBuilder`` (interpolation), so their every-frame row is
the reference of the schedules' rows (it differs slightly from ``tools/eval_tracker_on_kitti``,
which reports confirmed rows frame by frame and never the first box of a track).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.c010_variants import C010_VIDEO, C010Input
from config.defaults import get_cfg_defaults
from config.loader import load_config
from detection.types import Detections
from detection.video import iter_frames, probe_video
from evaluate.formats import (
    BoxRows,
    aic_camera_ids,
    from_tracklets,
    read_aic_ground_truth,
    read_mot_challenge,
)
from evaluate.kitti import evaluate_kitti, kitti_track_lines, load_kitti
from evaluate.metrics import evaluate_many
from mot.builder import TrackletBuilder
from mot.camera_setup import detection_schedule, detection_selector, tracker_params
from mot.factory import build_tracker
from mot.model_cache import ModelCache
from mot.pipeline import LoopStats, track_frames
from mot.schedule import DetectionSchedule, ScheduleSpec, scheduled_step
from mot.tracklet import Tracklet
from tools.eval_tracker_on_gt import degrade
from tools.eval_tracker_on_kitti import DETECTIONS

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
C010 = SHARED / "data" / "aic_s03_c010"
S02_GT = SHARED / "data" / "aic_s02" / "ground_truth_S02.txt"
KITTI = SHARED / "data" / "kitti_train"
HARNESS_FPS = 10.0  # S02 and KITTI
BIG_FRAME = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (4096, 4096, 3))  # the builder clips to it


# Candidate schedules: MOT overrides (config keys -> values). Intervals are seconds (10 fps inputs).
def _interval(seconds: float, shift: float) -> dict[str, Any]:
    return {"DETECTION_SCHEDULE": "interval", "DETECTION_INTERVAL": seconds, "DETECTION_MAX_SHIFT": shift}


def _motion(seconds: float, static: float, shift: float) -> dict[str, Any]:
    keys = {**_interval(seconds, shift), "DETECTION_SCHEDULE": "motion", "MOTION_MAX_INTERVAL": static}
    return {**keys, "MOTION_THRESHOLD": 0.0001}


SCHEDULES: dict[str, dict[str, Any]] = {
    "every_frame": {"DETECTION_SCHEDULE": "every_frame"},
    "interval 0.2 s": _interval(0.2, 0.0),
    "interval 0.2 s, adaptive 0.1": _interval(0.2, 0.1),
    "interval 0.3 s": _interval(0.3, 0.0),
    "interval 0.3 s, adaptive 0.1": _interval(0.3, 0.1),
    "interval 0.3 s, adaptive 0.15": _interval(0.3, 0.15),
    "interval 0.5 s, adaptive 0.1": _interval(0.5, 0.1),
    "motion 0.3/0.6 s, adaptive 0.1": _motion(0.3, 0.6, 0.1),
    "motion 0.3/1.0 s, adaptive 0.1 (default)": _motion(0.3, 1.0, 0.1),
    "motion 0.3/1.0 s, fixed cadence": _motion(0.3, 1.0, 0.0),
    "motion 0.2/0.4 s, adaptive 0.1": _motion(0.2, 0.4, 0.1),
}


@dataclass
class ScheduleRow:
    """One schedule on one input: share of frames detected, and the tracking scores."""

    input: str
    schedule: str
    cost: float
    hota: float
    mota: float
    idf1: float
    idsw: int


def overrides(keys: Mapping[str, Any]) -> list[str]:
    """``MOT.<key> value`` pairs for ``config.loader.load_config``."""
    return [
        item
        for k, v in keys.items()
        for item in (f"MOT.{k}", str(v).lower() if isinstance(v, bool) else str(v))
    ]


# ---------------------------------------------------------------------- c010, cached detections


def frame_key(frame: np.ndarray) -> bytes:
    """A cheap identity of a decoded frame (a sparse sample of its pixels)."""
    return frame[::37, ::53].tobytes()


class C010Detections:
    """The configured detector's output for every frame of one copy of the clip, computed on first use.

    ``store``: an ``.npz`` file keeping them between runs (written after the first; delete it
    when the detector or its settings change).
    """

    def __init__(self, base: Sequence[str] = (), store: Path | None = None, video: Path = C010_VIDEO) -> None:
        self.base, self.store, self.video = list(base), store, video
        self._by_frame: dict[bytes, Detections] = {}

    def config(self, keys: Mapping[str, Any]) -> Any:
        argv = ["OUTPUT_DIR", tempfile.gettempdir(), "MOT.VIDEO", str(self.video), *self.base]
        return load_config(None, [*argv, *overrides(keys)], mode="mot")

    def detect_batch(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """The ``Detector`` call of the pipeline, answered from the cache."""
        return [self._by_frame[frame_key(f)] for f in frames]

    def fill(self) -> None:
        if self._by_frame:
            return
        frames = [frame for _, frame in iter_frames(str(self.video))]
        if self.store is not None and self.store.is_file():
            with np.load(self.store) as z:
                found = [
                    Detections(z[f"xyxy{i}"], z[f"score{i}"], z[f"class{i}"]) for i in range(len(frames))
                ]
        else:
            cfg = self.config({})
            detector = ModelCache(cfg.SYSTEM.DEVICE, cfg.SYSTEM.NUM_THREADS).detector(cfg.MOT)
            found = [detector.detect_batch([frame])[0] for frame in frames]
            if self.store is not None:
                arrays = {
                    f"{k}{i}": v
                    for i, d in enumerate(found)
                    for k, v in (("xyxy", d.xyxy), ("score", d.score), ("class", d.class_id))
                }
                np.savez(self.store, **arrays)
        self._by_frame = {frame_key(f): d for f, d in zip(frames, found, strict=True)}


def run_c010(
    cache: C010Detections, name: str, keys: Mapping[str, Any], clip: C010Input | None = None
) -> ScheduleRow:
    """The pipeline's loop on a copy of c010 (default: the original) with ``keys`` (a schedule),
    detections from ``cache`` (made for that copy); boxes scaled to 1080p and scored on the
    ground truth of the frames from the copy's first one."""
    clip = clip or C010Input("c010", C010_VIDEO)
    cache.fill()
    mot = cache.config(keys).MOT
    info = probe_video(mot.VIDEO)
    schedule = detection_schedule(mot, info.fps)
    tracker = build_tracker(mot.TRACKER, tracker_params(mot), frame_rate=info.fps)
    builder = TrackletBuilder(
        0, mot.MIN_FRAMES, 1, box_sources=schedule.spec.skips, max_gap=schedule.spec.fill_gap
    )
    stats = LoopStats()
    frames = ((i, f) for i, f in iter_frames(mot.VIDEO) if i >= clip.start)
    tracklets = track_frames(
        frames, cache, detection_selector(mot, info), tracker, builder, stats=stats, schedule=schedule
    )
    gt = read_mot_challenge(C010 / "gt.txt")
    gt = gt.select(gt.frame > clip.start)  # video frame k is ground-truth frame k + 1
    pred = from_tracklets(tracklets)
    pred = BoxRows(pred.camera, pred.frame, pred.track_id, pred.xywh * clip.scale)
    res = evaluate_many({"c010": (gt, pred)})["c010"]
    cost = stats.detected_frames / max(stats.frames, 1)
    return ScheduleRow(clip.label, name, cost, res["HOTA"], res["MOTA"], res["IDF1"], int(res["IDSW"]))


# ---------------------------------------------------------------------- tracker alone


def _harness_schedule(keys: Mapping[str, Any]) -> DetectionSchedule:
    cfg = get_cfg_defaults()
    cfg.merge_from_list(overrides(keys))
    return detection_schedule(cfg.MOT, HARNESS_FPS)


def track_scheduled(
    frames: Iterator[tuple[int, Detections]],
    schedule: DetectionSchedule,
    camera: int = 0,
    min_frames: int = 1,
) -> tuple[list[Tracklet], float]:
    """ByteTrack (config defaults) over per-frame detections, used on scheduled frames only."""
    tracker = build_tracker("bytetrack_iou", tracker_params(get_cfg_defaults().MOT), frame_rate=HARNESS_FPS)
    builder = TrackletBuilder(
        camera, min_frames, 1, box_sources=schedule.spec.skips, max_gap=schedule.spec.fill_gap
    )
    for index, dets in frames:
        due = schedule.decide(index)
        tracks, used, _ = scheduled_step(tracker, schedule, index, dets if due else None, lambda d=dets: d)
        builder.add(index, BIG_FRAME, tracks, used)
    builder.end(tracker.finish())
    return builder.finish(), schedule.cost


def run_s02(name: str, keys: Mapping[str, Any], seed: int = 0) -> ScheduleRow:
    """The S02 degraded-ground-truth harness (defaults of ``tools/eval_tracker_on_gt.py``)."""
    gt_all = read_aic_ground_truth(S02_GT)
    rng = np.random.default_rng(seed)
    sequences, costs = {}, []
    for camera, cam_id in enumerate(aic_camera_ids(S02_GT)):
        gt = gt_all.for_camera(camera)
        dets = degrade(gt, rng)
        frames = ((frame - 1, dets[frame]) for frame in sorted(dets))
        tracklets, cost = track_scheduled(frames, _harness_schedule(keys), camera, min_frames=3)
        sequences[f"c{cam_id:03d}"] = (gt, from_tracklets(tracklets))
        costs.append(cost)
    res = evaluate_many(sequences)["COMBINED"]
    return ScheduleRow(
        "s02", name, float(np.mean(costs)), res["HOTA"], res["MOTA"], res["IDF1"], int(res["IDSW"])
    )


def run_kitti(name: str, keys: Mapping[str, Any]) -> ScheduleRow:
    """KITTI train10 with PointRCNN detections, TrackEval ``Kitti2DBox`` car."""
    sequences = load_kitti(KITTI / "label_02", KITTI / DETECTIONS)
    results, costs = {}, []
    for seq in sequences:
        tracklets, cost = track_scheduled(enumerate(seq.detections), _harness_schedule(keys))
        results[seq.name] = kitti_lines(tracklets)
        costs.append(cost)
    res = evaluate_kitti(results, KITTI / "label_02", {s.name: s.n_frames for s in sequences})["COMBINED_SEQ"]
    return ScheduleRow(
        "kitti", name, float(np.mean(costs)), res["HOTA"], res["MOTA"], res["IDF1"], int(res["IDSW"])
    )


def kitti_lines(tracklets: Sequence[Tracklet]) -> list[str]:
    """KITTI result rows of tracklets, frame by frame."""
    lines = []
    for t in tracklets:
        xyxy = np.concatenate([t.bboxes[:, :2], t.bboxes[:, :2] + t.bboxes[:, 2:]], axis=1)
        for frame, box, score in zip(t.frames, xyxy, t.scores, strict=True):
            lines += kitti_track_lines(int(frame), np.array([t.track_id]), box[None], np.array([score]))
    return lines


def format_schedule_rows(rows: Sequence[ScheduleRow]) -> str:
    """A Markdown table; HOTA change against the input's every-frame row."""
    base = {r.input: r.hota for r in rows if r.schedule == "every_frame"}
    lines = [
        "| input | schedule | detector cost | HOTA | ΔHOTA vs every frame | MOTA | IDF1 | IDSW |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        delta = f"{r.hota - base[r.input]:+.4f}" if r.input in base else "–"
        lines.append(
            f"| {r.input} | {r.schedule} | {r.cost:.2f} | {r.hota:.4f} | {delta} | {r.mota:.4f} | "
            f"{r.idf1:.4f} | {r.idsw} |"
        )
    return "\n".join(lines)


def format_schedule_totals(rows: Sequence[ScheduleRow], bound: float = 0.005) -> str:
    """Per schedule, over the inputs that have an every-frame row: mean and worst HOTA change,
    inputs losing more than ``bound``, mean cost (defaults are chosen on these totals, not a cell)."""
    base = {r.input: r.hota for r in rows if r.schedule == "every_frame"}
    lines = [
        f"| schedule | inputs | mean ΔHOTA | worst ΔHOTA | inputs below −{bound} | mean detector cost |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in dict.fromkeys(r.schedule for r in rows if r.schedule != "every_frame"):
        mine = [r for r in rows if r.schedule == name and r.input in base]
        if not mine:
            continue
        delta = np.array([r.hota - base[r.input] for r in mine])
        cost = float(np.mean([r.cost for r in mine]))
        lines.append(
            f"| {name} | {len(mine)} | {delta.mean():+.4f} | {delta.min():+.4f} | "
            f"{int((delta < -bound).sum())} | {cost:.2f} |"
        )
    return "\n".join(lines)


def spec_of(keys: Mapping[str, Any], fps: float) -> ScheduleSpec:
    """The schedule spec ``keys`` give at ``fps`` (for reports)."""
    cfg = get_cfg_defaults()
    cfg.merge_from_list(overrides(keys))
    return detection_schedule(cfg.MOT, fps).spec
