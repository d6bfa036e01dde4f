"""Multi-camera clustering time and memory on synthetic traffic, and the express runner on the demo.

    python bench/bench_mtmc.py [--sizes 1000 5000 10000 20000] [--skip-day] [--skip-express]

Synthetic traffic (seeded): vehicles arrive uniformly over the period and visit 1-4 cameras,
each for 3-20 s with 2-15 s between cameras; features are 512-d, a random unit prototype per
vehicle plus noise (same-vehicle cosine about 0.75, different vehicles about 0). Layouts:

* sizes 1k-20k: 10 cameras, every ordered pair allowed within [0, 60] s, one hour of traffic
  (so 20k tracklets give about 6 million compatible pairs);
* the day: 100k tracklets from 24 hours of 50 cameras along a road, each camera linked to the
  two before and after it within [0, 120] s per hop; routes follow the road.

Every case runs three times, each time in a fresh process: timed with the machine's default
BLAS threads and timed with one (``OMP_NUM_THREADS=1`` and friends), both covering the
compatible-pair search, the similarities and the two clustering stages; then under
``tracemalloc`` for the peak memory those steps allocate on top of the inputs (tracing slows
them down, hence the separate run). The library limits BLAS to one thread for its many small
products, so the two timings should agree; a default-threads time well above the one-thread
time means thread start-up is back.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
LINKAGES = ("average", "single", "complete", "mean_feature")
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def scenario(n: int, cameras: int, duration: float, road: bool, dim: int = 512, seed: int = 0) -> tuple:
    from config.layout import CameraLayout
    from mtmc.compatibility import TrackletTimes

    rng = np.random.default_rng(seed)
    cams, starts, ends, vehicle = [], [], [], []
    v = 0
    while len(cams) < n:
        length = int(rng.integers(1, 4 if road else 5))  # road: at most two hops, as the layout links
        if road:
            first = int(rng.integers(0, cameras))
            step = 1 if rng.random() < 0.5 else -1
            route = [c for c in range(first, first + step * length, step) if 0 <= c < cameras]
        else:
            route = rng.choice(cameras, size=length, replace=False).tolist()
        t = rng.uniform(0, duration)
        for c in route:
            d = rng.uniform(3, 20)
            cams.append(c)
            starts.append(t)
            ends.append(t + d)
            vehicle.append(v)
            t += d + rng.uniform(2, 15)
        v += 1
    prototypes = rng.normal(size=(v, dim)).astype(np.float32)
    prototypes /= np.linalg.norm(prototypes, axis=1, keepdims=True)
    features = prototypes[np.array(vehicle[:n])] + 0.6 * rng.normal(size=(n, dim)).astype(
        np.float32
    ) / np.sqrt(dim)
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    if road:
        hops = np.abs(np.subtract.outer(np.arange(cameras), np.arange(cameras)))
        allowed = (hops > 0) & (hops <= 2)
        layout = CameraLayout(
            np.full(cameras, 10.0), np.zeros(cameras), np.ones(cameras), allowed,
            np.zeros((cameras, cameras)), 120.0 * np.maximum(hops, 1),
        )  # fmt: skip
    else:
        allowed = ~np.eye(cameras, dtype=bool)
        layout = CameraLayout(
            np.full(cameras, 10.0), np.zeros(cameras), np.ones(cameras), allowed,
            np.zeros((cameras, cameras)), np.full((cameras, cameras), 60.0),
        )  # fmt: skip
    times = TrackletTimes(np.array(cams[:n]), np.array(starts[:n]), np.array(ends[:n]))
    return features, times, layout, np.unique(vehicle[:n]).size


def one_case(n: int, linkage: str, cameras: int, duration: float, road: bool, traced: bool) -> dict:
    """Run in a fresh process: clustering time, or (``traced``) the peak memory it allocates."""
    from mtmc.clustering import cluster
    from mtmc.compatibility import Timeline, compatible_pairs

    features, times, layout, vehicles = scenario(n, cameras, duration, road)
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    pairs = compatible_pairs(times, layout, features)
    middle = time.perf_counter()
    labels = cluster(features, pairs, linkage, 0.5, timeline=Timeline.of(times, layout))
    end = time.perf_counter()
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    return {
        "pairs": len(pairs[0]),
        "pair_seconds": middle - start,
        "cluster_seconds": end - middle,
        "memory_mib": peak / 2**20,
        "clusters": int(np.unique(labels).size),
        "vehicles": int(vehicles),
    }


def run_case(n: int, linkage: str, cameras: int, duration: float, road: bool) -> dict:
    """Default threads timed, one thread timed, then traced for memory."""
    results = []
    for traced, env in ((False, {}), (False, ONE_THREAD), (True, {})):
        args = [
            sys.executable,
            __file__,
            "--one",
            str(n),
            linkage,
            str(cameras),
            str(duration),
            str(int(road)),
        ]
        out = subprocess.run(
            [*args, str(int(traced))],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            env={**os.environ, **env},
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    one = results[1]
    return {
        **results[0],
        "one_thread_seconds": one["pair_seconds"] + one["cluster_seconds"],
        "memory_mib": results[2]["memory_mib"],
    }


def express_rows() -> list[str]:
    from config.loader import load_config
    from mot.model_cache import ModelCache
    from mtmc.express import camera_jobs, run_matching, track_camera
    from tools.make_crop_views import DEFAULT_VIEWS, View, make_views

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cams = Path(tmp) / "cams"
        video = REPO.parent / "shared" / "data" / "traffic" / "intersection_960x540.mp4"
        make_views(str(video), cams, [View.parse(v) for v in DEFAULT_VIEWS], -1.0, 5.0, progress=False)
        overrides = ["OUTPUT_DIR", str(Path(tmp) / "out"), "MTMC.CAMERA_LAYOUT", str(cams / "layout.txt")]
        overrides += ["MOT.VIDEO_OUTPUT", "false", "EXPRESS.FINAL_VIDEO_OUTPUT", "false"]
        overrides += [
            "EXPRESS.CAMERAS",
            json.dumps([{"name": v, "video": str(cams / f"{v}.mp4")} for v in ("far", "near")]),
        ]
        cfg = load_config(REPO / "config/examples/express_demo.yaml", overrides, mode="express")
        models = ModelCache()
        jobs = camera_jobs(cfg)
        tracklets = []
        for job in jobs:
            start = time.perf_counter()
            tracklets += track_camera(job, models, progress=False)
            rows.append(
                f"| express: MOT of camera '{job.name}' (252 frames) | {time.perf_counter() - start:.2f} s |"
            )
        start = time.perf_counter()
        run_matching(cfg, jobs, tracklets)
        seconds = time.perf_counter() - start
        rows.append(f"| express: MTMC of {len(tracklets)} tracklets, outputs written | {seconds:.2f} s |")
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        n, linkage, cameras, duration, road, traced = sys.argv[2:8]
        print(
            json.dumps(one_case(int(n), linkage, int(cameras), float(duration), road == "1", traced == "1"))
        )
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000, 20000])
    parser.add_argument("--linkages", nargs="+", default=list(LINKAGES))
    parser.add_argument("--skip-day", action="store_true")
    parser.add_argument("--skip-express", action="store_true")
    args = parser.parse_args()
    columns = ["tracklets", "cameras", "linkage", "compatible pairs", "pairs + similarities s"]
    columns += ["clustering s", "total s", "total s, 1 thread", "peak memory MiB", "clusters (vehicles)"]
    print("| " + " | ".join(columns) + " |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    cases = [(n, linkage, 10, 3600.0, False) for n in args.sizes for linkage in args.linkages]
    if not args.skip_day:
        cases += [(100_000, linkage, 50, 86400.0, True) for linkage in args.linkages]
    for n, linkage, cameras, duration, road in cases:
        r = run_case(n, linkage, cameras, duration, road)
        total = r["pair_seconds"] + r["cluster_seconds"]
        cells = [n, cameras, linkage, r["pairs"], f"{r['pair_seconds']:.2f}", f"{r['cluster_seconds']:.2f}"]
        cells += [f"{total:.2f}", f"{r['one_thread_seconds']:.2f}", f"{r['memory_mib']:.0f}"]
        cells += [f"{r['clusters']} ({r['vehicles']})"]
        print("| " + " | ".join(map(str, cells)) + " |", flush=True)
    if not args.skip_express:
        print("\n| step | wall time |\n|---|---:|")
        for row in express_rows():
            print(row)


if __name__ == "__main__":
    main()
