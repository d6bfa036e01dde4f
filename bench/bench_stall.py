"""One network camera stalls or hangs; do the other cameras keep their frame rate?

    PYTHONPATH=. python bench/bench_stall.py [--mode pause|hole] [--stall 60] [--window 20] [--fps 8]

Starts ``mtmc/run_live_mtmc.py`` with three cameras: the two demo crop views (files) and a
loopback MJPEG stream of the intersection clip served from this script. After a warm-up it
measures each camera's tracked frames per second for ``--window`` seconds, then breaks the
stream for ``--stall`` seconds and measures again over that time:

* ``pause``: the stream's connection stays open but no new picture comes (the server repeats
  the last one as a keep-alive): a stalled camera;
* ``hole``: the stream's server goes away and its port accepts connections that are never
  answered, so every reconnection hangs in open() until its timeout: a dead camera.

Required: every file camera keeps >= 90 % of its frame rate, the broken camera tracks no frame
after LIVE.STALL_SECONDS, and /healthz names it. A check script with printed numbers, not a
timed test: they depend on the machine's load (printed with them). Exit code 1 when a
requirement is not met.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2

from bench.bench_live_pause import fetch, frames, free_port, rates
from mtmc.live.frame_hub import FrameHub
from mtmc.live.server import LiveServer

REPO = Path(__file__).resolve().parent.parent
STALL_SECONDS = 3.0
REQUIRED = 0.9


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} cores"


class Stream:
    """A loopback MJPEG camera: the intersection clip at 15 fps; ``pause`` stalls it, ``hole`` kills it."""

    def __init__(self, video: Path, port: int) -> None:
        cap = cv2.VideoCapture(str(video))
        self.jpegs = [cv2.imencode(".jpg", cap.read()[1])[1].tobytes() for _ in range(60)]
        cap.release()
        self.port, self.paused, self.stopped = port, threading.Event(), threading.Event()
        self.hub = FrameHub(["cam"])
        self.server = LiveServer(self.hub, dict, dict, port=port)
        self.server.start()
        self._hole: socket.socket | None = None
        self._held: list[socket.socket] = []
        threading.Thread(target=self._publish, daemon=True).start()

    def _publish(self) -> None:
        index = 0
        while not self.stopped.wait(1 / 15):
            if not self.paused.is_set():
                self.hub.publish("cam", self.jpegs[index % len(self.jpegs)])
                index += 1

    def hole(self) -> None:
        """Replace the server by a port that accepts and never answers."""
        self.server.stop()
        self._hole = socket.socket()
        self._hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._hole.bind(("127.0.0.1", self.port))
        self._hole.listen(16)
        threading.Thread(target=self._hold, daemon=True).start()

    def _hold(self) -> None:
        assert self._hole is not None
        while not self.stopped.is_set():
            try:
                self._held.append(self._hole.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.stopped.set()
        for sock in [*self._held, *([self._hole] if self._hole else [])]:
            sock.close()
        if self._hole is None:
            self.server.stop()


def write_config(folder: Path, cameras: Path, stream_url: str, port: int, fps: float) -> Path:
    layout = folder / "layout.txt"
    pairs = [f"{a} {b} -1 5" for a in range(3) for b in range(3) if a != b]
    layout.write_text("\n".join([*pairs, "fps 30 30 30", "offset 0 0 0"]) + "\n")
    config = folder / "stall.yaml"
    config.write_text(
        f"""OUTPUT_DIR: {folder / "out"}
MOT: {{DETECTOR: yolox_nano.onnx, REID_ONNX: mobilenetv2_imagenet_features.onnx}}
MTMC: {{CAMERA_LAYOUT: {layout}}}
LIVE: {{TARGET_FPS: {fps}, MJPEG_PORT: {port}, STALL_SECONDS: {STALL_SECONDS}}}
EXPRESS:
  CAMERAS:
    - {{name: file_far, video: {cameras / "far.mp4"}}}
    - {{name: file_near, video: {cameras / "near.mp4"}}}
    - {{name: stream, video: "{stream_url}"}}
"""
    )
    return config


def wait_ready(url: str, live: subprocess.Popen) -> bool:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and live.poll() is None:
        try:
            if all(n >= 8 for n in frames(url).values()):
                return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def report(
    before: dict[str, float], during: dict[str, float], health: tuple[int, bytes], args: argparse.Namespace
) -> bool:
    print(
        f"live run at LIVE.TARGET_FPS {args.fps:g}, stream broken by '{args.mode}' "
        f"for {args.stall:g} s ({load()})"
    )
    print("| camera | frames/s before | frames/s while the stream is broken | kept |\n|---|---:|---:|---:|")
    ok = True
    for name in before:
        kept = during[name] / before[name] if before[name] else 0.0
        print(f"| {name} | {before[name]:.2f} | {during[name]:.2f} | {kept:.0%} |")
        if name.startswith("file"):
            ok &= kept >= REQUIRED
    status, body = health
    named = status == 503 and b"stream" in body.split(b"\n", 1)[0]
    print(f"  /healthz while broken: {status} {body.decode().splitlines()[0] if body else ''}")
    print(
        f"  {'PASS' if ok and named else 'FAIL'} "
        f"(file cameras keep >= {REQUIRED:.0%}; /healthz 503 naming the stream)"
    )
    return ok and named


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("pause", "hole"), default="pause")
    parser.add_argument("--stall", type=float, default=60.0, help="seconds the stream stays broken")
    parser.add_argument("--window", type=float, default=20.0, help="seconds of the frame-rate window before")
    parser.add_argument("--fps", type=float, default=8.0, help="LIVE.TARGET_FPS")
    args = parser.parse_args()
    from tests.conftest import DEMO_CAMERAS, INTERSECTION
    from tools.make_crop_views import DEFAULT_VIEWS, View, make_views

    if not (DEMO_CAMERAS / "layout.txt").is_file():
        make_views(str(INTERSECTION), DEMO_CAMERAS, [View.parse(v) for v in DEFAULT_VIEWS], -1.0, 5.0)
    stream = Stream(INTERSECTION, free_port())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench_stall_") as tmp:
        config = write_config(
            Path(tmp), DEMO_CAMERAS, f"http://127.0.0.1:{stream.port}/cam.mjpg", port, args.fps
        )
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))),
        }
        live = subprocess.Popen(
            [sys.executable, "mtmc/run_live_mtmc.py", "--config", str(config)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if not wait_ready(url, live):
                print("the live run produced no frames within 300 s")
                return 1
            before = rates(url, args.window)
            stream.paused.set() if args.mode == "pause" else stream.hole()
            during = rates(url, args.stall)
            health = fetch(f"{url}/healthz")
        finally:
            live.terminate()
            live.wait(timeout=60)
            stream.close()
    return 0 if report(before, during, health, args) else 1


if __name__ == "__main__":
    sys.exit(main())
