"""Soak test of live mode: a looping two-camera session for N minutes, memory and checkpoints watched.

    PYTHONPATH=. python bench/bench_soak.py --minutes 30 [--warmup 5] [--checkpoint 10] [--kill] [--seed 1]

Starts the live demo (the two crop-view cameras of ``tools/make_crop_views.py`` looping,
``config/examples/live_demo.yaml``) in its own process and samples, every ``--every`` seconds,
its resident memory (/proc) and ``/api/stats`` and ``/healthz``. Reports:

* the RSS slope (MB per minute, least squares) after ``--warmup`` minutes;
* finished tracklets vs tracklets on disk (the journals), the largest lag seen;
* stalls (``/healthz`` failing, cameras not running) and stream reconnections (log lines);
* with ``--kill``: a kill -9 at a seeded random moment, then the journals are read: every
  tracklet finished more than LIVE.CHECKPOINT_SECONDS (plus one sample) before the kill must
  be on disk, and the open tracks' snapshots (``live.open``) are counted; then the session is
  recovered (``mtmc.live.session.recover``) and its tracklets kept from snapshots counted;
* the checkpoint files' sizes at the end (the snapshot file is replaced, never appended to).

Without ``--kill`` the session is stopped with SIGINT and its final save is checked.
Output folder: ``--out`` (default output/bench_soak, emptied first).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.bench_live import free_port, rss_mib
from mtmc.live.journal import INCOMPLETE, JOURNAL_NAME, OPEN_NAME, read_journal
from mtmc.live.session import recover

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Sample:
    at: float  # seconds since the start
    rss: float  # MiB
    finished: int
    saved: int
    healthy: bool
    running: int


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


def sample(url: str, pid: int, start: float) -> Sample | None:
    try:
        body = get(f"{url}/api/stats")[1]
        cameras = json.loads(body)["per_camera"]
        healthy = get(f"{url}/healthz")[0] == 200
    except (OSError, ValueError, KeyError):
        return None
    return Sample(
        time.monotonic() - start,
        rss_mib(pid),
        sum(c["finished_tracklets"] for c in cameras),
        sum(c["saved_tracklets"] for c in cameras),
        healthy,
        sum(bool(c["running"]) for c in cameras),
    )


def slope_mb_per_min(samples: list[Sample], warmup: float) -> float:
    late = [s for s in samples if s.at >= warmup]
    if len(late) < 3:
        return float("nan")
    t = np.array([s.at / 60 for s in late])
    return float(np.polyfit(t, np.array([s.rss for s in late]), 1)[0])


def on_disk(out: Path) -> int:
    return sum(len(read_journal(p).tracklets) for p in out.glob(f"*/{JOURNAL_NAME}"))


def open_on_disk(out: Path) -> int:
    """Tracks whose snapshot is in a ``live.open`` file (open at the last checkpoint)."""
    return sum(len(read_journal(p).tracklets) for p in out.glob(f"*/{OPEN_NAME}"))


def checkpoint_sizes(out: Path) -> str:
    files = sorted([*out.glob(f"*/{JOURNAL_NAME}"), *out.glob(f"*/{OPEN_NAME}")])
    return ", ".join(f"{p.parent.name}/{p.name} {p.stat().st_size / 1024:.0f} KiB" for p in files) or "none"


def start_live(out: Path, port: int, checkpoint: float, log: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "mtmc/run_live_mtmc.py",
        "--config",
        "config/examples/live_demo.yaml",
        "OUTPUT_DIR",
        str(out),
        "LIVE.MJPEG_PORT",
        str(port),
        "LIVE.CHECKPOINT_SECONDS",
        str(checkpoint),
    ]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0, help="minutes before the RSS slope counts")
    parser.add_argument("--checkpoint", type=float, default=10.0, help="LIVE.CHECKPOINT_SECONDS")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between samples")
    parser.add_argument("--kill", action="store_true", help="kill -9 at a random moment, then check")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "output" / "bench_soak")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    duration = args.minutes * 60
    kill_at = random.Random(args.seed).uniform(0.3 * duration, duration) if args.kill else None
    port, log = free_port(), args.out.parent / "bench_soak.log"
    live = start_live(args.out, port, args.checkpoint, log)
    url, start, samples = f"http://127.0.0.1:{port}", time.monotonic(), []
    try:
        while time.monotonic() - start < (kill_at or duration) and live.poll() is None:
            if (s := sample(url, live.pid, start)) is not None:
                samples.append(s)
            time.sleep(args.every)
    finally:
        if live.poll() is None:
            live.send_signal(signal.SIGKILL if args.kill else signal.SIGINT)
        live.wait(120)
    report(args, samples, log, live.returncode)
    if not args.kill:
        print(f"checkpoint files left after the save: {checkpoint_sizes(args.out)}")
    return check_kill(args, samples) if args.kill else check_saved(args.out, samples)


def report(args: argparse.Namespace, samples: list[Sample], log: Path, code: int) -> None:
    text = log.read_text(errors="replace")
    lag = max((s.finished - s.saved for s in samples), default=0)
    print(f"samples: {len(samples)} over {samples[-1].at / 60 if samples else 0:.1f} min; exit code {code}")
    if samples:
        rss = [s.rss for s in samples]
        print(f"RSS: first {rss[0]:.0f} MiB, last {rss[-1]:.0f} MiB, max {max(rss):.0f} MiB")
    print(f"RSS slope after {args.warmup:g} min: {slope_mb_per_min(samples, args.warmup * 60):.3f} MB/min")
    if samples:
        print(f"tracklets finished {samples[-1].finished}, on disk {samples[-1].saved}, largest lag {lag}")
    print(
        f"/healthz failures: {sum(not s.healthy for s in samples)}; samples with a camera not running: "
        f"{sum(s.running < 2 for s in samples)}"
    )
    print(f"stream reconnections: {text.count('reconnecting')}; stalls logged: {text.count('stall')}")
    print(f"tracebacks in the log: {text.count('Traceback')} (log: {log})")


def check_kill(args: argparse.Namespace, samples: list[Sample]) -> int:
    """Every tracklet finished CHECKPOINT_SECONDS (+ one sample) before the kill is on disk."""
    disk, snapshots = on_disk(args.out), open_on_disk(args.out)
    print(f"checkpoint files at the kill: {checkpoint_sizes(args.out)}")
    killed_at = samples[-1].at + args.every if samples else 0.0
    due = [s for s in samples if s.at <= killed_at - args.checkpoint - 2 * args.every]
    must = due[-1].finished if due else 0
    last = samples[-1].finished if samples else 0
    print(
        f"kill -9 at {killed_at:.0f} s: {disk} tracklets in the journals; {must} finished more than "
        f"{args.checkpoint:g} s before the kill, {last} at the last sample"
    )
    print(f"open tracks at the last checkpoint (snapshots on disk): {snapshots}")
    recovered = [p for p in recover(args.out) if p.suffix == ".npz"]
    print(f"recovered: {', '.join(map(str, recovered)) or 'nothing'}")
    from mot.tracklet_file import load_tracklet_file

    tables = [load_tracklet_file(p).tracklets for p in recovered]
    kept = sum(t.attributes.get(INCOMPLETE) is True for table in tables for t in table)
    print(f"recovered tracklets: {sum(map(len, tables))}, of which {kept} open tracks from their snapshots")
    ok = disk >= must
    print(
        "OK: at most one checkpoint interval lost" if ok else "FAIL: tracklets older than the interval lost"
    )
    return 0 if ok else 1


def check_saved(out: Path, samples: list[Sample]) -> int:
    from mot.tracklet_file import load_tracklet_file

    saved = sum(len(load_tracklet_file(p).tracklets) for p in out.glob("*/live.npz"))
    finished = samples[-1].finished if samples else 0
    print(f"final save: {saved} tracklets in live.npz files (finished at the last sample: {finished})")
    return 0 if saved >= finished else 1


if __name__ == "__main__":
    sys.exit(main())
