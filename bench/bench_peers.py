"""Same model, same video: our MOT runner against ultralytics' ``track()``, and the trackers alone.

    YOLO_OFFLINE=1 /work/ultra-venv/bin/python bench/bench_peers.py [--videos c010 intersection] [--rounds 1]

Part 1 (whole pipeline): every contender runs as its own subprocess on the same video with the
same ONNX model (``../shared/models/yolov8n_int8.onnx``, which ultralytics loads with
``YOLO(path, task="detect")``), classes car/motorcycle/bus/truck (2, 3, 5, 7), detection score
0.1 (ultralytics' own default for tracking). Reported per contender: wall time of the whole
process (imports, model load, loop, writing results), frames/s of the process and of the
frame loop alone, peak resident memory of the process, and on the labelled c010 clip HOTA,
IDF1 and MOTA (TrackEval through ``evaluate.metrics``, IoU 0.5; video frame k = gt frame k+1).
Contenders: ``mot/run_tracker.py`` (pipelined loop, the default; ``MOT.PIPELINE_LOOKAHEAD 0``,
the sequential loop; ``MOT.REID_BACKEND none``, tracking without the appearance features kept
for matching across cameras, which is what ``track()`` does) and ultralytics ``track()`` with
``bytetrack.yaml`` and ``botsort.yaml`` when ultralytics is importable (bench/setup_ultra_venv.sh
makes such an environment).

Part 2 (trackers alone): the detections of our detector on the c010 clip are saved once, then
each tracker runs on them in its own subprocess: ours (ByteTrack), ultralytics' BYTETracker,
BoxMOT's ByteTrack and supervision's ByteTrack, each when importable. Reported: ms per frame
of the update calls and HOTA/IDF1.

Ratios are against ultralytics ByteTrack (x > 1: faster). Timings only mean something on a
quiet machine; run it several times (``--rounds``) and read the medians.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VEHICLE_MTMC_SHARED", REPO.parent / "shared"))
MODEL = SHARED / "models" / "yolov8n_int8.onnx"
VIDEOS = {
    "c010": (
        SHARED / "data" / "aic_s03_c010" / "c010_first100.mp4",
        SHARED / "data" / "aic_s03_c010" / "gt.txt",
    ),
    "intersection": (SHARED / "data" / "traffic" / "intersection_960x540.mp4", None),
}
CLASSES = [2, 3, 5, 7]
CONF = 0.1
FPS_LINE = re.compile(r"(\d+) frames at ([\d.]+) fps")


# --------------------------------------------------------------------------- workers (subprocesses)


def worker_ultralytics(video: Path, tracker: str, out: Path) -> dict[str, Any]:
    from ultralytics import YOLO

    model = YOLO(str(MODEL), task="detect")
    rows, frames = [], 0
    start = None
    for k, result in enumerate(
        model.track(
            source=str(video), stream=True, tracker=tracker, classes=CLASSES, conf=CONF, verbose=False
        )
    ):
        if start is None:
            start = time.perf_counter()  # the first frame carries the warm-up
        frames += 1
        boxes = result.boxes
        if boxes is None or boxes.id is None:
            continue
        for (x1, y1, x2, y2), tid in zip(boxes.xyxy.numpy(), boxes.id.numpy(), strict=True):
            rows.append(f"{k + 1},{int(tid)},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},1,-1,-1,-1")
    loop = time.perf_counter() - (start or time.perf_counter())
    out.write_text("\n".join(rows) + "\n")
    return {"frames": frames, "loop_fps": (frames - 1) / loop if loop > 0 else 0.0}


def save_detections(video: Path, path: Path) -> int:
    """Our detector's boxes of every frame (classes kept, score >= CONF) as one npz."""
    from detection.factory import build_detector
    from detection.filters import filter_detections
    from detection.video import iter_frames

    detector = build_detector(str(MODEL), backend="onnxruntime", conf_threshold=CONF)
    arrays: dict[str, np.ndarray] = {}
    count = 0
    for index, frame in iter_frames(str(video)):
        dets = filter_detections(detector.detect(frame), CONF, CLASSES, None)
        arrays[f"f{index}"] = np.concatenate([dets.xyxy, dets.score[:, None], dets.class_id[:, None]], 1)
        count += 1
    arrays["size"] = np.array(frame.shape[:2])
    np.savez(path, **arrays)
    return count


class _Boxes:
    """What ultralytics' BYTETracker reads from a ``Boxes`` object, over plain arrays."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows
        self.xyxy, self.conf, self.cls = rows[:, :4], rows[:, 4], rows[:, 5]
        wh = self.xyxy[:, 2:] - self.xyxy[:, :2]
        self.xywh = np.concatenate([self.xyxy[:, :2] + wh / 2, wh], 1)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: Any) -> _Boxes:
        return _Boxes(self.rows[index])


def tracker_update(name: str, frame_hw: tuple[int, int]) -> Any:
    """A function (N, 6) rows -> list of (track id, x1, y1, x2, y2) for one tracker."""
    if name == "ours":
        from config.defaults import get_cfg_defaults
        from detection.types import Detections
        from mot.camera_setup import tracker_params
        from mot.factory import build_tracker

        mot = get_cfg_defaults().MOT
        tracker = build_tracker("bytetrack_iou", tracker_params(mot, "bytetrack_iou"), frame_rate=10)

        def ours(rows: np.ndarray) -> list:
            tracks = tracker.update(Detections(rows[:, :4], rows[:, 4], rows[:, 5].astype(np.int64)))
            shown = tracks[tracks.confirmed]
            return [(int(i), *b) for i, b in zip(shown.track_id.tolist(), shown.xyxy.tolist(), strict=True)]

        return ours
    if name == "ultralytics":
        from types import SimpleNamespace

        from ultralytics.trackers.byte_tracker import BYTETracker

        args = SimpleNamespace(
            track_high_thresh=0.25,
            track_low_thresh=0.1,
            new_track_thresh=0.25,
            track_buffer=30,
            match_thresh=0.8,
            fuse_score=True,
        )
        byte = BYTETracker(args)
        return lambda rows: [(int(r[4]), *r[:4]) for r in byte.update(_Boxes(rows))]
    if name == "boxmot":
        from boxmot import ByteTrack

        bm = ByteTrack(frame_rate=10)
        blank = np.zeros((*frame_hw, 3), np.uint8)
        return lambda rows: [(int(r[4]), *r[:4]) for r in bm.update(rows.astype(np.float32), blank)]
    if name == "supervision":
        import supervision as sv

        sv_tracker = sv.ByteTrack(frame_rate=10)

        def supervision(rows: np.ndarray) -> list:
            dets = sv.Detections(
                xyxy=rows[:, :4].astype(np.float32), confidence=rows[:, 4], class_id=rows[:, 5].astype(int)
            )
            out = sv_tracker.update_with_detections(dets)
            return [(int(t), *b) for t, b in zip(out.tracker_id, out.xyxy.tolist(), strict=True)]

        return supervision
    raise ValueError(name)


def worker_tracker(name: str, detections: Path, out: Path) -> dict[str, Any]:
    data = np.load(detections)
    frames = sorted(int(k[1:]) for k in data.files if k.startswith("f"))
    update = tracker_update(name, tuple(int(v) for v in data["size"]))
    inputs = [data[f"f{k}"].astype(np.float64) for k in frames]
    rows, seconds = [], 0.0
    for k, dets in zip(frames, inputs, strict=True):
        t0 = time.perf_counter()
        tracks = update(dets)
        seconds += time.perf_counter() - t0
        rows += [
            f"{k + 1},{t},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},1,-1,-1,-1"
            for t, x1, y1, x2, y2 in tracks
        ]
    out.write_text("\n".join(rows) + "\n")
    return {"frames": len(frames), "ms_per_frame": 1000 * seconds / max(1, len(frames))}


# --------------------------------------------------------------------------- parent


def run_child_rusage(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, output) of one subprocess; ``os.wait4`` gives its own rusage."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        log.seek(0)
        text = log.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{text[-3000:]}")
    return wall, usage.ru_maxrss / 1024, text


def score(gt: Path | None, pred: Path) -> dict[str, float]:
    if gt is None:
        return {}
    from evaluate.formats import read_boxes
    from evaluate.metrics import evaluate

    summary = evaluate(read_boxes(gt), read_boxes(pred), 0.5)
    return {k: summary[k] for k in ("HOTA", "IDF1", "MOTA")}


def our_config(video: Path, out: Path, extra: list[str]) -> list[str]:
    return [
        "OUTPUT_DIR",
        str(out),
        "MOT.VIDEO",
        str(video),
        "MOT.DETECTOR",
        str(MODEL),
        "MOT.DETECTOR_BACKEND",
        "onnxruntime",
        "MOT.DETECTION_CONF_THRESH",
        str(CONF),
        "MOT.TRACKED_CLASSES",
        str(CLASSES),
        "MOT.TRACKER",
        "bytetrack_iou",
        *extra,
    ]


def pipeline_rows(video_key: str, rounds: int, tmp: Path) -> list[dict[str, Any]]:
    video, gt = VIDEOS[video_key]
    env = dict(os.environ, PYTHONPATH=str(REPO), YOLO_OFFLINE="1")
    config = tmp / "empty.yaml"
    config.write_text("{}\n")
    contenders: list[tuple[str, Any]] = [
        ("ours, pipelined (default)", []),
        ("ours, sequential loop", ["MOT.PIPELINE_LOOKAHEAD", "0"]),
        ("ours, tracking only (REID_BACKEND none)", ["MOT.REID_BACKEND", "none"]),
    ]
    if importlib.util.find_spec("ultralytics"):
        contenders += [
            ("ultralytics track() bytetrack", "bytetrack.yaml"),
            ("ultralytics track() botsort", "botsort.yaml"),
        ]
    rows = []
    for label, how in contenders:
        runs = []
        for r in range(rounds):
            out = tmp / f"{video_key}_{len(rows)}_{r}"
            if isinstance(how, list):
                cmd = [sys.executable, str(REPO / "mot" / "run_tracker.py"), "--config", str(config)]
                wall, peak, text = run_child_rusage([*cmd, *our_config(video, out, how)], env)
                match = FPS_LINE.search(text)
                frames, loop_fps = (int(match.group(1)), float(match.group(2))) if match else (0, 0.0)
                pred = out / "mot.txt"
            else:
                out.mkdir(parents=True)
                pred = out / "track.txt"
                cmd = [sys.executable, __file__, "--worker", "ultralytics", how, str(video), str(pred)]
                wall, peak, text = run_child_rusage(cmd, env)
                info = json.loads(text.strip().splitlines()[-1])
                frames, loop_fps = info["frames"], info["loop_fps"]
            runs.append({"wall": wall, "peak": peak, "frames": frames, "loop_fps": loop_fps, "pred": pred})
        best = {k: statistics.median(r[k] for r in runs) for k in ("wall", "peak", "loop_fps")}
        frames = runs[0]["frames"]
        rows.append(
            {
                "label": label,
                "frames": frames,
                "process_fps": frames / best["wall"],
                **best,
                **score(gt, runs[0]["pred"]),
            }
        )
    return rows


def tracker_rows(tmp: Path) -> list[dict[str, Any]]:
    video, gt = VIDEOS["c010"]
    env = dict(os.environ, PYTHONPATH=str(REPO), YOLO_OFFLINE="1")
    detections = tmp / "c010_detections.npz"
    run_child_rusage(
        [sys.executable, __file__, "--worker", "detections", "-", str(video), str(detections)], env
    )
    names = ["ours"] + [
        n
        for n, module in (
            ("ultralytics", "ultralytics"),
            ("boxmot", "boxmot"),
            ("supervision", "supervision"),
        )
        if importlib.util.find_spec(module)
    ]
    rows = []
    for name in names:
        pred = tmp / f"trackers_{name}.txt"
        try:
            _, _, text = run_child_rusage(
                [sys.executable, __file__, "--worker", "tracker", name, str(detections), str(pred)], env
            )
        except RuntimeError as err:
            rows.append({"label": name, "error": str(err).splitlines()[-1][:100]})
            continue
        info = json.loads(text.strip().splitlines()[-1])
        rows.append({"label": name, **info, **score(gt, pred)})
    return rows


def print_pipeline(video_key: str, rows: list[dict[str, Any]]) -> None:
    base = next((r for r in rows if "bytetrack" in r["label"]), rows[0])
    print(f"\n### {video_key}: {rows[0]['frames']} frames, {MODEL.name}, classes {CLASSES}, conf {CONF}\n")
    print("| contender | process s | process fps | x | loop fps | x | peak MiB | HOTA | IDF1 | MOTA |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        metrics = " | ".join(f"{r[k]:.3f}" if k in r else "-" for k in ("HOTA", "IDF1", "MOTA"))
        process_x = r["process_fps"] / base["process_fps"]
        loop_x = r["loop_fps"] / max(base["loop_fps"], 1e-9)
        print(
            f"| {r['label']} | {r['wall']:.2f} | {r['process_fps']:.1f} | {process_x:.2f} "
            f"| {r['loop_fps']:.1f} | {loop_x:.2f} | {r['peak']:.0f} | {metrics} |"
        )


def print_trackers(rows: list[dict[str, Any]]) -> None:
    base = next((r for r in rows if r["label"] == "ultralytics" and "ms_per_frame" in r), rows[0])
    print("\n### trackers alone, c010 detections of our detector (same boxes for every tracker)\n")
    print("| tracker | ms / frame | x | HOTA | IDF1 | MOTA |\n|---|---:|---:|---:|---:|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['label']} | failed: {r['error']} | | | | |")
            continue
        metrics = " | ".join(f"{r[k]:.3f}" if k in r else "-" for k in ("HOTA", "IDF1", "MOTA"))
        ratio = base["ms_per_frame"] / r["ms_per_frame"] if r["ms_per_frame"] > 0 else float("nan")
        print(f"| {r['label']} | {r['ms_per_frame']:.3f} | {ratio:.2f} | {metrics} |")


def _project_importable() -> bool:
    try:
        return importlib.util.find_spec("mot.pipeline") is not None
    except ImportError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", nargs="+", default=["c010", "intersection"], choices=sorted(VIDEOS))
    parser.add_argument("--rounds", type=int, default=1, help="runs per contender (median reported)")
    parser.add_argument("--skip-trackers", action="store_true")
    parser.add_argument(
        "--worker", nargs=4, metavar=("KIND", "ARG", "INPUT", "OUTPUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        kind, arg, source, output = args.worker
        if kind == "ultralytics":
            info = worker_ultralytics(Path(source), arg, Path(output))
        elif kind == "detections":
            info = {"frames": save_detections(Path(source), Path(output))}
        else:
            info = worker_tracker(arg, Path(source), Path(output))
        print(json.dumps(info))
        return
    if not _project_importable() and not os.environ.get("BENCH_PEERS_REEXEC"):
        # another venv (the ultralytics one) without the project installed: run again with it on the path
        env = dict(os.environ, PYTHONPATH=str(REPO), BENCH_PEERS_REEXEC="1")
        os.execve(sys.executable, [sys.executable, __file__, *sys.argv[1:]], env)
    if not importlib.util.find_spec("ultralytics"):
        print(
            "ultralytics is not importable here: only our rows are measured (see bench/setup_ultra_venv.sh)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.videos:
            print_pipeline(key, pipeline_rows(key, args.rounds, Path(tmp)))
        if not args.skip_trackers:
            print_trackers(tracker_rows(Path(tmp)))


if __name__ == "__main__":
    main()
