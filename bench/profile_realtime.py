"""Where the time of a real-time camera goes, per frame: cProfile of the live tick loop or the express loop.

    python bench/profile_realtime.py [--mode live|express] [--cameras 3] [--ticks 60] [--save FILE]

``live``: the live workers of ``--cameras`` copies of c010 (1080p) at 8 ticks/s with the default
configuration, driven tick by tick in this thread (no clock, so nothing is skipped and every run
does the same work), profiled with the process's CPU time: detection, decoding, the schedule's
motion test, tracking, the tracklet builder, ReID of sampled crops, the aggregator, drawing and
JPEG encoding, checkpoints. It also counts how many cameras detected on each tick.

``express``: ``run_cameras_batched`` on ``--cameras`` copies of c010, every thread profiled with
its own CPU time (the threads of the inference runtimes and of FFmpeg are not seen: the
network and decoding rows are the calling threads' share of them).

CPU time, not wall time: the shares stay meaningful on a machine other jobs load (the wall time
of a shared machine is not). Compare shares within one profile, or CPU ms per frame of two runs.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from config.loader import load_config
from mot.camera import run_cameras_batched
from mot.model_cache import ModelCache
from mtmc.live.run import LiveRun

C010 = Path(__file__).resolve().parents[2] / "shared" / "data" / "aic_s03_c010" / "c010_first100.mp4"
Stats = dict[tuple[str, int, str], tuple]


def live_profile(cameras: int, ticks: int, out: Path) -> tuple[cProfile.Profile, list[int]]:
    """The live workers' tick loop under cProfile; the number of cameras detecting per tick."""
    names = [f"cam{i}" for i in range(cameras)]
    (out / "layout.txt").write_text(f"fps {' '.join(['10'] * cameras)}\n")
    lines = "".join(f"    - name: {n}\n      video: {C010}\n" for n in names)
    (out / "live.yaml").write_text(
        f"OUTPUT_DIR: {out / 'live'}\nMTMC:\n  CAMERA_LAYOUT: {out / 'layout.txt'}\nLIVE:\n  TARGET_FPS: 8\n"
        f"  MJPEG_PORT: 0\n  LOOP_VIDEO: true\nEXPRESS:\n  CAMERAS:\n{lines}"
    )
    run = LiveRun(load_config(out / "live.yaml", [], mode="live"), ModelCache())
    run.workers[0].detector.detect_batch([np.zeros((1080, 1920, 3), np.uint8)])  # first-call allocations
    profile, per_tick = cProfile.Profile(time.process_time), []
    try:
        profile.enable()
        for tick in range(ticks):
            before = sum(w.schedule.detected for w in run.workers if w.schedule is not None)
            for worker in run.workers:
                frame = worker.source.frame(tick)
                assert frame is not None
                worker.process(tick, frame.image)
            if tick % 80 == 79:  # LIVE.CHECKPOINT_SECONDS 10 at 8 ticks/s
                for worker in run.workers:
                    worker.checkpoint()
            per_tick.append(sum(w.schedule.detected for w in run.workers if w.schedule is not None) - before)
        profile.disable()
    finally:
        run.shutdown()
    return profile, per_tick


def express_profile(cameras: int, out: Path) -> list[cProfile.Profile]:
    """``run_cameras_batched`` with every thread under cProfile (each its own CPU time)."""
    profiles: list[cProfile.Profile] = []
    plain = threading.Thread.run

    def profiled(thread: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.runcall(plain, thread)

    cfg = load_config(None, ["OUTPUT_DIR", str(out), "MOT.VIDEO", str(C010)], mode="mot")
    models = ModelCache()
    models.detector(cfg.MOT, batched=True), models.embedder(cfg.MOT)  # loading is not profiled
    jobs = [(cfg, i, f"cam{i}", out / f"{i}_cam{i}") for i in range(cameras)]
    main = cProfile.Profile(time.thread_time)
    threading.Thread.run = profiled  # type: ignore[method-assign]
    try:
        main.runcall(run_cameras_batched, jobs, models, progress=False, command="bench")
    finally:
        threading.Thread.run = plain  # type: ignore[method-assign]
    return [main, *profiles]


def merged(profiles: list[cProfile.Profile]) -> pstats.Stats:
    stats = pstats.Stats(profiles[0])
    for profile in profiles[1:]:
        stats.add(profile)
    return stats


def cumulative(stats: Stats, file: str, function: str) -> float:
    return sum(v[3] for (path, _, name), v in stats.items() if path.endswith(file) and name == function)


def own(stats: Stats, builtin: str) -> float:
    return sum(v[2] for (_, _, name), v in stats.items() if builtin in name)


def rows(stats: Stats, live: bool) -> dict[str, float]:
    """CPU seconds of each part of a frame's work."""
    network = own(stats, "openvino._pyopenvino.infer")

    def part(file: str, function: str) -> float:
        return cumulative(stats, file, function)

    out = {
        "detector: the network": network,
        "detector: outside the network (resize, layout, copies, box decoding)": part("ssd.py", "detect_batch")
        - network,
        "decoding": part("capture.py", "frame") if live else own(stats, "'read' of 'cv2.VideoCapture'"),
        "schedule: motion test (motion_image)": part("schedule.py", "motion_image"),
        "tracking (update / coast)": part("schedule.py", "track_step"),
        "tracklet builder (add)": part("builder.py", "add"),
    }
    if live:
        out |= {
            "ReID of sampled crops (detected ticks)": part("worker.py", "_embed"),
            "aggregator update": part("aggregator.py", "update"),
            "drawing + JPEG (while watched)": part("worker.py", "_publish")
            or own(stats, "imencode") + part("video_output.py", "draw_tracks"),  # before _publish
            "checkpoints (journal)": part("worker.py", "checkpoint"),
        }
        total = part("worker.py", "process") + part("capture.py", "frame") + part("worker.py", "checkpoint")
    else:
        out |= {"finish: ReID of samples, attributes": part("pipeline.py", "finish_tracks")}
        total = sum(out.values())
    return out | {"total": total}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["live", "express"], default="live")
    parser.add_argument("--cameras", type=int, default=3)
    parser.add_argument("--ticks", type=int, default=60, help="live: ticks per camera")
    parser.add_argument("--save", type=Path, default=None, help="write the merged pstats here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="profile_realtime_") as tmp:
        if args.mode == "live":
            profile, per_tick = live_profile(args.cameras, args.ticks, Path(tmp))
            profiles, frames = [profile], args.ticks * args.cameras
            print(f"cameras detecting per tick (ticks with 0, 1, 2, ...): {np.bincount(per_tick).tolist()}")
        else:
            profiles, frames = express_profile(args.cameras, Path(tmp)), 100 * args.cameras
    stats = merged(profiles)
    if args.save is not None:
        stats.dump_stats(args.save)
    table = rows(stats.stats, args.mode == "live")  # type: ignore[attr-defined]
    total = table.pop("total")
    print(f"\n{args.mode}, {args.cameras} camera(s) of 1080p, {frames} frames: CPU time per frame\n")
    print("| part | CPU ms per frame | share |\n|---|---:|---:|")
    for name, seconds in table.items():
        print(f"| {name} | {1000 * seconds / frames:.1f} | {100 * seconds / max(total, 1e-9):.1f} % |")
    print(f"| all of it | {1000 * total / frames:.1f} | 100 % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
