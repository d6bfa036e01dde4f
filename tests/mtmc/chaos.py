"""Kill an express run with SIGKILL at seeded random points; the next run must give a clean run's results.

Shared by ``tests/mtmc/test_chaos.py`` (a few points) and ``bench/bench_chaos.py`` (many).
Runs are subprocesses of the real runner on short real videos, so what is killed is the
real driver with its real pool workers.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from mot.manifest import ResultSetError, check_result_file
from mot.tracklet_file import load_tracklet_file
from tests.conftest import EXAMPLES, REPO

RUNNER = REPO / "mtmc" / "run_express_mtmc.py"
DEADLINE = 600.0  # seconds: generous, for a machine kept busy by other work
# Files whose appearance marks a phase of the run: a kill soon after lands inside that phase.
EVENTS = (None, "0_far/mot.npz", "1_near/mot.pkl", "1_near/mot.manifest.json", "0_far/mtmc.pkl", "mtmc.npz")


def short_cameras(demo_cameras: Path, folder: Path, frames: int) -> Path:
    """The first ``frames`` frames of the demo crop views, with their layout."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("far", "near"):
        cap = cv2.VideoCapture(str(demo_cameras / f"{name}.mp4"))
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        writer = cv2.VideoWriter(str(folder / f"{name}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30, size)
        for _ in range(frames):
            ok, frame = cap.read()
            if not ok:
                break
            writer.write(frame)
        writer.release()
        cap.release()
    shutil.copy(demo_cameras / "layout.txt", folder / "layout.txt")
    return folder


def express_command(cameras: Path, out: Path, *extra: str) -> list[str]:
    """The express runner as a child process on the two demo cameras in ``cameras``."""
    return [sys.executable, str(RUNNER), *express_argv(cameras, out, *extra)]


def express_argv(cameras: Path, out: Path, *extra: str) -> list[str]:
    """The express runner's arguments for the two demo cameras in ``cameras`` (final video off)."""
    entries = json.dumps([{"name": n, "video": str(cameras / f"{n}.mp4")} for n in ("far", "near")])
    return [
        "--config",
        str(EXAMPLES / "express_demo.yaml"),
        "OUTPUT_DIR",
        str(out),
        "EXPRESS.CAMERAS",
        entries,
        "MTMC.CAMERA_LAYOUT",
        str(cameras / "layout.txt"),
        "EXPRESS.FINAL_VIDEO_OUTPUT",
        "false",
        *extra,
    ]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


@dataclass
class Run:
    """A runner subprocess whose stderr is collected line by line as it comes."""

    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    eof: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls, command: list[str]) -> Run:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        run = cls(process)
        threading.Thread(target=run._read, daemon=True).start()
        return run

    def _read(self) -> None:
        for line in self.process.stderr:  # type: ignore[union-attr]
            self.lines.append(line)
        self.eof.set()

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, needle: str, count: int = 1, timeout: float = DEADLINE) -> bool:
        """Until ``needle`` appeared ``count`` times in stderr (False if the run ended first)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.text.count(needle) >= count:
                return True
            if self.process.poll() is not None:
                time.sleep(0.2)  # let the reader thread drain the pipe
                return self.text.count(needle) >= count
            time.sleep(0.01)
        raise TimeoutError(f"{needle!r} not seen {count} times in {timeout:.0f} s:\n{self.text}")

    def worker_pids(self) -> list[int]:
        return [
            int(line.split("worker ")[1].split()[0]) for line in self.lines if " started for driver " in line
        ]

    def finish(self, timeout: float = DEADLINE) -> int:
        """The exit code, once stderr is closed: no orphaned worker may hold it open."""
        self.process.wait(timeout)
        if not self.eof.wait(timeout):
            raise TimeoutError(f"the driver exited but its stderr stayed open for {timeout:.0f} s")
        return self.process.returncode


def run_to_end(command: list[str], timeout: float = DEADLINE) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        cwd=REPO,
        env=environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def process_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie awaiting its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


def wait_gone(pids: list[int], timeout: float = DEADLINE) -> list[int]:
    """The pids still running after ``timeout`` (empty when every one exited)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not all(map(process_gone, pids)):
        time.sleep(0.05)
    return [p for p in pids if not process_gone(p)]


@dataclass(frozen=True)
class KillPoint:
    """Kill ``delay`` seconds after ``event`` (a file of the run appearing; None: the start)."""

    event: str | None
    delay: float
    fresh: bool  # start from an empty output folder (else from the previous point's leftovers)


def kill_points(seed: int, count: int, clean_seconds: float) -> list[KillPoint]:
    rng = random.Random(seed)
    points = []
    for _ in range(count):
        event = rng.choice(EVENTS)
        spread = clean_seconds if event is None else 0.3
        points.append(KillPoint(event, rng.uniform(0.0, spread), rng.random() < 0.5))
    return points


def kill_at(command: list[str], out: Path, point: KillPoint) -> Run:
    """Start the run, SIGKILL its driver at ``point``; returns the run after it ended."""
    started = time.time_ns()
    run = Run.start(command)
    if point.event is not None:
        target = out / point.event
        end = time.monotonic() + DEADLINE
        while not _written_since(target, started) and run.process.poll() is None and time.monotonic() < end:
            time.sleep(0.002)
    time.sleep(point.delay)
    if run.process.poll() is None:
        run.process.send_signal(signal.SIGKILL)
    return run


def _written_since(path: Path, since_ns: int) -> bool:
    """``path`` exists and was written by this run (an earlier run's copy does not count)."""
    try:
        return path.stat().st_mtime_ns >= since_ns
    except FileNotFoundError:
        return False


def snapshot(out: Path) -> dict[str, object]:
    """Everything a user reads from a finished run: tracklets, global ids, multi-camera file."""
    found: dict[str, object] = {}
    for camera in ("0_far", "1_near"):
        mot = load_tracklet_file(out / camera / "mot.npz")
        mtmc = load_tracklet_file(out / camera / "mtmc.npz")
        found[camera] = (
            [
                (t.track_id, t.frames.tolist(), t.bboxes.tobytes(), _bytes(t.mean_feature))
                for t in mot.tracklets
            ],
            [t.track_id for t in mtmc.tracklets],
            mtmc.global_ids,
            (out / camera / "mtmc.txt").read_text(),
        )
    total = load_tracklet_file(out / "mtmc.npz")
    found["all"] = ([t.track_id for t in total.tracklets], total.global_ids)
    return found


def _bytes(feature: np.ndarray | None) -> bytes | None:
    return None if feature is None else feature.tobytes()


def consistent_or_refused(out: Path) -> list[str]:
    """Check every result a reader could pick up after a kill; returns what was refused.

    Each file is either refused (``ResultSetError``) or belongs to a verified manifest.
    """
    refused = []
    for path in sorted(out.rglob("*.txt")):
        if path.name in ("mot.txt", "mtmc.txt"):
            try:
                check_result_file(path)
            except ResultSetError:
                refused.append(str(path.relative_to(out)))
    return refused
