"""Chaos bench: kill express runs with SIGKILL at many seeded random points; every resume must match.

PYTHONPATH=. python bench/bench_chaos.py [--points 40] [--seed 1] [--frames 60] [--executor processes]

The test suite runs 5 points (tests/mtmc/test_chaos.py); this runs as many as asked and
prints one line per point: where it was killed, what the readers refused afterwards, and
whether the next run completed with results identical to a clean run's.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import DEMO_CAMERAS, INTERSECTION
from tests.mtmc.chaos import (
    consistent_or_refused,
    express_command,
    kill_at,
    kill_points,
    run_to_end,
    short_cameras,
    snapshot,
    wait_gone,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--frames", type=int, default=60, help="frames of each demo camera to use")
    parser.add_argument("--executor", default="processes", choices=("processes", "sequential"))
    args = parser.parse_args()
    if not (DEMO_CAMERAS / "layout.txt").is_file():
        from tools.make_crop_views import DEFAULT_VIEWS, View, make_views

        make_views(str(INTERSECTION), DEMO_CAMERAS, [View.parse(v) for v in DEFAULT_VIEWS], -1.0, 5.0)
    work = Path(tempfile.mkdtemp(prefix="chaos_"))
    try:
        cameras = short_cameras(DEMO_CAMERAS, work / "cameras", args.frames)
        extra = ("EXPRESS.EXECUTOR", args.executor, "MOT.VIDEO_OUTPUT", "true")
        start = time.monotonic()
        clean = run_to_end(express_command(cameras, work / "clean", *extra))
        if clean.returncode != 0:
            print(clean.stderr)
            return 1
        seconds = time.monotonic() - start
        expected = snapshot(work / "clean")
        out, failures = work / "out", 0
        print(f"clean run: {seconds:.1f} s; {args.points} kill points, seed {args.seed}")
        for i, point in enumerate(kill_points(args.seed, args.points, seconds)):
            if point.fresh:
                shutil.rmtree(out, ignore_errors=True)
            command = express_command(cameras, out, *extra)
            killed = kill_at(command, out, point)
            killed.finish()
            orphans = wait_gone(killed.worker_pids())
            refused = consistent_or_refused(out)
            done = run_to_end(command)
            same = done.returncode == 0 and snapshot(out) == expected
            failures += bool(orphans) or not same
            print(
                f"{i:3d} after {point.event or 'start'} +{point.delay:.2f}s fresh={point.fresh}: "
                f"killed rc={killed.process.returncode}, orphans {orphans or 'none'}, "
                f"refused {len(refused)} files, resume rc={done.returncode}, identical={same}"
            )
        print(f"{failures} of {args.points} points failed")
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
