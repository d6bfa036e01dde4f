"""Live mode under load: 20 MJPEG clients for 30 s while two cameras run (loopback only).

    python bench/bench_live.py [--clients 20] [--seconds 30]

Starts the live demo (two crop-view cameras, LIVE.TARGET_FPS 8) in its own process, measures
the workers' frame rate for ``--seconds`` without clients, then with ``--clients`` concurrent
stream clients (half on each camera) that read and count JPEG parts, then again without. The
live process's resident memory is read from /proc before and after the clients.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stats(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/api/stats", timeout=5) as r:
        return json.loads(r.read())


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def frames_per_second(url: str, seconds: float) -> float:
    """Mean worker fps: processed frames over the window, per camera."""
    before = {c["name"]: c["frames"] for c in stats(url)["per_camera"]}
    time.sleep(seconds)
    after = {c["name"]: c["frames"] for c in stats(url)["per_camera"]}
    return statistics.mean((after[n] - before[n]) / seconds for n in before)


def client(url: str, camera: str, seconds: float, counts: list[int]) -> None:
    """Read a stream for ``seconds`` and count the JPEG parts received."""
    deadline = time.monotonic() + seconds
    frames = 0
    with urllib.request.urlopen(f"{url}/{camera}.mjpg", timeout=10) as stream:
        while time.monotonic() < deadline:
            line = stream.readline()
            if line.startswith(b"Content-Length:"):
                length = int(line.split(b":")[1])
                stream.readline()
                stream.read(length)
                frames += 1
    counts.append(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    overrides = [
        "LIVE.MJPEG_PORT",
        str(port),
        "LIVE.MAX_STREAM_CLIENTS",
        str(args.clients + 4),
        "OUTPUT_DIR",
        "/tmp/bench_live",
    ]
    live = subprocess.Popen(
        [sys.executable, "mtmc/run_live_mtmc.py", "--config", "config/examples/live_demo.yaml", *overrides],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(120):
            try:
                stats(url)
                break
            except OSError:
                time.sleep(0.5)
        time.sleep(3)  # let the workers settle
        idle_fps = frames_per_second(url, args.seconds / 2)
        memory_before = rss_mib(live.pid)
        counts: list[int] = []
        threads = [
            threading.Thread(target=client, args=(url, ("cam_a", "cam_b")[i % 2], args.seconds, counts))
            for i in range(args.clients)
        ]
        for t in threads:
            t.start()
        time.sleep(1)
        loaded_fps = frames_per_second(url, args.seconds - 2)
        for t in threads:
            t.join(timeout=args.seconds + 10)
        memory_after = rss_mib(live.pid)
        after_fps = frames_per_second(url, args.seconds / 2)
    finally:
        live.send_signal(signal.SIGTERM)
        live.wait(timeout=20)
    delivered = [c / args.seconds for c in counts]
    print(f"two cameras at LIVE.TARGET_FPS 8, {args.clients} stream clients for {args.seconds:.0f} s\n")
    print("| measure | value |\n|---|---:|")
    print(f"| worker fps, no clients | {idle_fps:.2f} |")
    print(f"| worker fps, {args.clients} clients | {loaded_fps:.2f} |")
    print(f"| worker fps, after the clients left | {after_fps:.2f} |")
    spread = f"{min(delivered):.2f} / {statistics.median(delivered):.2f} / {max(delivered):.2f}"
    print(f"| delivered fps per client: min / median / max | {spread} |")
    print(f"| clients that got frames | {sum(c > 0 for c in counts)} of {args.clients} |")
    print(
        f"| live process memory before / after the clients | {memory_before:.0f} / {memory_after:.0f} MiB |"
    )


if __name__ == "__main__":
    main()
