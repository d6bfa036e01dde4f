"""Express runs over 1, 2, 4 and 8 cameras with each executor, and Ray's overhead per task.

    python bench/bench_scaleout.py [--cameras 1 2 4 8] [--executors sequential batched processes ray]
                                   [--backend onnxruntime|openvino]

``batched`` runs every camera in one process with shared detector batches (a real batch with
``--backend openvino``, whose detector is reshaped to a dynamic batch; the fixed-batch ONNX
model loops). The table gives wall seconds and camera-frames per second (cameras x 252 / s),
and each executor's throughput against the process pool.

Cameras are crop views of the 252-frame intersection clip (a grid of bands, each a full
252-frame video; the detector letterboxes every view to 416 px, so each camera costs about
what the whole clip costs). Each run is the real express command (MOT on every camera, then
MTMC, outputs written, video output off) into a fresh folder, so nothing is reused. Wall time
includes starting the workers (and, for Ray, the local instance).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VIDEO = REPO.parent / "shared" / "data" / "traffic" / "intersection_960x540.mp4"
GRID = [f"c{r}{c}:{c * 0.5},{r * 0.25},0.5,0.24" for r in range(4) for c in range(2)]


FRAMES = 252


def express_seconds(cameras: Path, n: int, executor: str, out: Path, backend: str = "onnxruntime") -> float:
    entries = json.dumps(
        [{"name": f"cam{i}", "video": str(cameras / f"{GRID[i].split(':')[0]}.mp4")} for i in range(n)]
    )
    layout = out.parent / f"layout{n}.txt"
    lines = [f"{i} {j} -1 5" for i in range(n) for j in range(n) if i != j] + ["fps " + " ".join(["30"] * n)]
    layout.write_text("\n".join(lines) + "\n")
    args = [
        sys.executable,
        str(REPO / "mtmc/run_express_mtmc.py"),
        "--config",
        str(REPO / "config/examples/express_demo.yaml"),
    ]
    args += ["OUTPUT_DIR", str(out), "EXPRESS.CAMERAS", entries, "MTMC.CAMERA_LAYOUT", str(layout)]
    args += ["MOT.VIDEO_OUTPUT", "false", "EXPRESS.FINAL_VIDEO_OUTPUT", "false", "EXPRESS.EXECUTOR", executor]
    args += ["MOT.DETECTOR_BACKEND", backend]
    start = time.perf_counter()
    subprocess.run(
        args, check=True, capture_output=True, cwd=REPO, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    )
    return time.perf_counter() - start


def ray_overhead(tasks: int = 20) -> tuple[float, float]:
    """(seconds to start a local instance, seconds per trivial task round trip)."""
    from mtmc.executors import import_ray  # as the executor starts it: no usage statistics, niceness 0

    ray = import_ray()
    start = time.perf_counter()
    ray.init(include_dashboard=False, configure_logging=False, log_to_driver=False)
    started = time.perf_counter() - start

    @ray.remote(num_cpus=1)
    def nothing(i: int) -> int:
        return i

    ray.get([nothing.remote(i) for i in range(2)])  # warm the workers
    start = time.perf_counter()
    for i in range(tasks):
        ray.get(nothing.remote(i))
    per_task = (time.perf_counter() - start) / tasks
    ray.shutdown()
    return started, per_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--executors", nargs="+", default=["sequential", "batched", "processes", "ray"])
    parser.add_argument("--backend", default="onnxruntime", choices=["onnxruntime", "openvino"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from tools.make_crop_views import View, make_views

    with tempfile.TemporaryDirectory() as tmp:
        cameras = Path(tmp) / "cams"
        make_views(str(VIDEO), cameras, [View.parse(v) for v in GRID], -1.0, 5.0, progress=False)
        print(
            f"{os.cpu_count()} cores, detector on {args.backend}; each camera: {FRAMES} frames of 480x130\n"
        )
        header = " | ".join(f"{e} s | {e} cam-frames/s | x processes" for e in args.executors)
        print(f"| cameras | {header} |")
        print("|---:|" + "---:|" * (3 * len(args.executors)))
        for n in args.cameras:
            times = {
                e: express_seconds(cameras, n, e, Path(tmp) / f"{e}{n}", args.backend) for e in args.executors
            }
            rate = {e: n * FRAMES / t for e, t in times.items()}
            base = rate.get("processes", float("nan"))
            cells = " | ".join(
                f"{times[e]:.1f} | {rate[e]:.1f} | {rate[e] / base:.2f}" for e in args.executors
            )
            print(f"| {n} | {cells} |", flush=True)
    if "ray" in args.executors:
        started, per_task = ray_overhead()
        overhead = f"a trivial task round trip: {1000 * per_task:.1f} ms"
        print(f"\nRay: a local instance starts in {started:.1f} s; {overhead}")


if __name__ == "__main__":
    main()
