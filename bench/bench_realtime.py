"""Real time on this CPU: frames/s per camera by detection schedule, precision, size and camera count.

    python bench/bench_realtime.py [--frames 100] [--cameras 1 2 3] [--sizes 1080p 960x540]
        [--precisions f32 int8] [--make-int8 [VIDEO]] [--int8-dir DIR] [--int8-frames 32]
        [--live-seconds 30] [--max-live 6] [--no-live] [--no-hota]

One table, measured in one run on the same inputs: for each frame size (c010's first
``--frames`` frames at 1920x1080, and the same frames resized to 960x540), each detector
precision (``f32``: the default vehicle-detection-0202; ``int8``: its copy made by
``tools/quantize_openvino.py``; when the model search does not find it, ``--make-int8`` makes it
first, calibrated on ``--int8-frames`` frames of VIDEO (default: the c010 clip, the camera
measured, as a user calibrates on their own footage) into ``--int8-dir`` (default: the run's
temporary folder), else its rows are skipped with a note) and each schedule (every frame, and
the default ``MOT.DETECTION_SCHEDULE``), with 1, 2 and 3 cameras at once:

* express: frames/s per camera of the batched executor (``mot.camera.run_cameras_batched``:
  one process, the cameras' frames detected in shared steps, staggered by the schedule), whole
  pipeline (decode, detect, track, ReID of sampled crops, files), models loaded beforehand;
* live: share of the 8 frames/s ticks each camera processed over ``--live-seconds`` (the live
  mode keeps up when it is >= 90 %), and the workers' frames/s;
* HOTA of the 1-camera 1080p run on c010's ground truth (the clip is the input).

Then the number of 1080p cameras the live mode holds at 8 frames/s (>= 90 % of ticks per
camera) with the default configuration, trying 1 .. ``--max-live`` cameras. Times are wall
clock: run it on a quiet machine (``--frames 8 --live-seconds 3 --cameras 1 --max-live 1`` only
checks that it runs).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from config.loader import load_config
from detection.video import iter_frames
from evaluate.formats import BoxRows, from_tracklets, read_mot_challenge
from evaluate.metrics import evaluate_many
from models.registry import ModelNotFoundError, resolve_model
from mot.camera import run_cameras_batched
from mot.model_cache import ModelCache
from mtmc.live.run import LiveRun

log = logging.getLogger("bench.realtime")

REPO = Path(__file__).resolve().parent.parent
C010 = REPO.parent / "shared" / "data" / "aic_s03_c010"
INT8_MODEL = "vehicle-detection-0202-int8.xml"
SIZES = {"1080p": (1920, 1080), "960x540": (960, 540)}
SCHEDULES = {"every frame": ["MOT.DETECTION_SCHEDULE", "every_frame"], "default schedule": []}
LIVE_FPS = 8
KEEPS_UP = 0.9  # share of ticks processed


@dataclass
class Row:
    size: str
    precision: str
    schedule: str
    cameras: int
    express_fps: float
    live_share: float | None
    live_fps: float | None
    hota: float | None


def make_clip(out: Path, frames: int, size: tuple[int, int]) -> Path:
    """c010's first ``frames`` frames at ``size`` (mp4v, 10 fps like the source)."""
    path = out / f"c010_{size[0]}x{size[1]}_{frames}.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    for index, frame in iter_frames(str(C010 / "c010_first100.mp4")):
        if index >= frames:
            break
        writer.write(
            frame if frame.shape[1::-1] == size else cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        )
    writer.release()
    return path


def int8_model(make_from: str | None, folder: Path, frames: int) -> Path | None:
    """The int8 detector: found by the model search, else made from ``make_from`` into ``folder``
    with the project's quantizer; None (a note) when absent and not to be made."""
    try:
        return resolve_model(INT8_MODEL)
    except ModelNotFoundError:
        if make_from is None:
            log.warning(
                "int8 rows skipped: %s not found; add --make-int8 [VIDEO], or make it with python "
                "tools/quantize_openvino.py --video <your footage> (docs/realtime.md)",
                INT8_MODEL,
            )
            return None
    from tools.quantize_openvino import main as quantize  # NNCF, the ``int8`` extra: only when asked

    print(f"making {INT8_MODEL} from {frames} frames of {make_from} (a minute or two)", file=sys.stderr)
    args = ["--video", make_from, "--frames", str(frames), "--out", str(folder), "--no-report"]
    if quantize(args) != 0:
        raise SystemExit(f"--make-int8: tools/quantize_openvino.py failed on {make_from} (its log says why)")
    return folder / INT8_MODEL


def precisions(wanted: Sequence[str], int8: Path | None) -> dict[str, list[str]]:
    """Detector overrides per precision; int8 only with its model file."""
    out: dict[str, list[str]] = {"f32": []} if "f32" in wanted else {}
    if "int8" in wanted and int8 is not None:
        out["int8"] = ["MOT.DETECTOR", str(int8)]
    return out


def express(
    video: Path, overrides: list[str], cameras: int, out: Path, models: ModelCache
) -> tuple[float, list]:
    """Frames/s per camera of ``cameras`` copies of ``video`` in one batched loop; camera 0's tracklets."""
    cfg = load_config(None, ["OUTPUT_DIR", str(out), "MOT.VIDEO", str(video), *overrides], mode="mot")
    models.detector(cfg.MOT, batched=True), models.embedder(cfg.MOT)  # loading is not timed
    jobs = [(cfg, i, f"cam{i}", out / f"{i}_cam{i}") for i in range(cameras)]
    for _, _, _, path in jobs:
        path.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results = run_cameras_batched(jobs, models, progress=False, command="bench")
    seconds = time.perf_counter() - start
    return results[0].stats.frames / seconds, results[0].tracklets


def hota(tracklets: list, frames: int) -> float:
    """HOTA of a 1080p c010 run on the ground truth of its frames."""
    gt = read_mot_challenge(C010 / "gt.txt")
    keep = gt.frame <= frames  # video frame k is ground-truth frame k + 1
    gt = BoxRows(gt.camera[keep], gt.frame[keep], gt.track_id[keep], gt.xywh[keep])
    return float(evaluate_many({"c010": (gt, from_tracklets(tracklets))})["c010"]["HOTA"])


def live(
    video: Path, overrides: list[str], cameras: int, seconds: float, out: Path, models: ModelCache
) -> tuple[float, float]:
    """Mean share of ticks processed per camera, and the workers' mean frames/s, at 8 ticks/s."""
    names = [f"cam{i}" for i in range(cameras)]
    out.mkdir(parents=True, exist_ok=True)
    layout = out / "layout.txt"
    layout.write_text(f"fps {' '.join(['10'] * cameras)}\n")
    config = out / "live.yaml"
    camera_lines = "".join(f"    - name: {n}\n      video: {video}\n" for n in names)
    config.write_text(
        f"OUTPUT_DIR: {out}\nMTMC:\n  CAMERA_LAYOUT: {layout}\nLIVE:\n  TARGET_FPS: {LIVE_FPS}\n"
        f"  MJPEG_PORT: 0\n  LOOP_VIDEO: true\n  DURATION: {seconds}\nEXPRESS:\n  CAMERAS:\n{camera_lines}"
    )
    session = LiveRun(load_config(config, overrides, mode="live"), models)
    runner = threading.Thread(target=session.run, args=(threading.Event(),))
    runner.start()
    runner.join()
    stats = [(w.stats.frames, w.stats.skipped, w.stats.fps) for w in session.workers]
    session.shutdown()
    share = float(np.mean([f / max(f + s, 1) for f, s, _ in stats]))
    return share, float(np.mean([fps for _, _, fps in stats]))


def live_capacity(
    video: Path, overrides: list[str], most: int, seconds: float, out: Path, models: ModelCache
) -> int:
    """The most cameras (1 .. ``most``) whose ticks the live mode processes >= 90 % of."""
    held = 0
    for cameras in range(1, most + 1):
        share, _ = live(video, overrides, cameras, seconds, out / f"capacity{cameras}", models)
        if share < KEEPS_UP:
            break
        held = cameras
    return held


def format_rows(rows: Sequence[Row]) -> str:
    def opt(value: float | None, fmt: str) -> str:
        return "–" if value is None else format(value, fmt)

    lines = [
        "| size | detector | schedule | cameras | express frames/s per camera | live: ticks processed "
        "| live frames/s | HOTA c010 |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        share = "–" if r.live_share is None else f"{100 * r.live_share:.0f} %"
        lines.append(
            f"| {r.size} | {r.precision} | {r.schedule} | {r.cameras} | {r.express_fps:.1f} | {share} | "
            f"{opt(r.live_fps, '.1f')} | {opt(r.hota, '.4f')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100, help="c010 frames per camera (at most 100)")
    parser.add_argument("--cameras", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--precisions", nargs="+", default=["f32", "int8"], choices=["f32", "int8"])
    parser.add_argument(
        "--make-int8",
        nargs="?",
        const=str(C010 / "c010_first100.mp4"),
        default=None,
        metavar="VIDEO",
        help="make the int8 detector when it is not found, calibrated on VIDEO (default: the c010 clip)",
    )
    parser.add_argument("--int8-dir", type=Path, default=None, help="--make-int8 writes here (default: temp)")
    parser.add_argument("--int8-frames", type=int, default=32, help="calibration frames of --make-int8")
    parser.add_argument("--live-seconds", type=float, default=30.0)
    parser.add_argument("--max-live", type=int, default=6, help="cameras tried for the live capacity")
    parser.add_argument("--no-live", action="store_true")
    parser.add_argument("--no-hota", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    models = ModelCache()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_realtime_") as tmp:
        root = Path(tmp)
        int8 = None
        if "int8" in args.precisions:
            int8 = int8_model(args.make_int8, args.int8_dir or root / "models", args.int8_frames)
        for size in args.sizes:
            clip = make_clip(root, min(args.frames, 100), SIZES[size])
            for precision, detector in precisions(args.precisions, int8).items():
                for schedule, keys in SCHEDULES.items():
                    for cameras in args.cameras:
                        out = root / f"{size}_{precision}_{len(rows)}"
                        fps, tracklets = express(clip, [*detector, *keys], cameras, out, models)
                        share, live_fps = (
                            (None, None)
                            if args.no_live
                            else live(
                                clip, [*detector, *keys], cameras, args.live_seconds, out / "live", models
                            )
                        )
                        score = None
                        if size == "1080p" and cameras == 1 and not args.no_hota:
                            score = hota(tracklets, min(args.frames, 100))
                        rows.append(Row(size, precision, schedule, cameras, fps, share, live_fps, score))
                        print(format_rows(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
        print(format_rows(rows))
        if not args.no_live and "1080p" in args.sizes:
            clip = make_clip(root, min(args.frames, 100), SIZES["1080p"])
            held = live_capacity(clip, [], args.max_live, args.live_seconds, root / "capacity", models)
            print(
                f"\nlive mode, default configuration: holds {held} camera(s) of 1080p at {LIVE_FPS} frames/s"
            )
    print("\nwall-clock numbers: meaningful only on a quiet machine.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
