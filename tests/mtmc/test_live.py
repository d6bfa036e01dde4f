"""Live mode: clock skew, pacing and stalls, stable global ids, the HTTP server, a short real session."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from config.layout import CameraLayout
from config.loader import load_config
from mtmc.live.aggregator import LiveMTMCAggregator, LiveTrack
from mtmc.live.clock import VirtualClock
from mtmc.live.server import FrameHub, LiveServer
from mtmc.matching import MatchingOptions
from mtmc.run_mtmc import main as run_mtmc
from tests.conftest import EXAMPLES


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run_worker(
    clock: VirtualClock, name: str, ticks: list[int], until: int, gate: threading.Event | None = None
) -> None:
    """Ask for ticks until ``until``; with ``gate``, hold tick 3 until it is set."""
    last = -1
    while last < until:
        tick = clock.wait_for_tick(name, last, timeout=5.0)
        if tick is None:
            return
        if gate is not None and tick == 3:
            gate.wait(timeout=5.0)
        ticks.append(tick)
        last = tick


def test_a_fast_worker_stays_within_the_skew_of_a_slow_one() -> None:
    clock = VirtualClock(fps=None, max_skew=1, stall_seconds=60)
    clock.register("fast")
    clock.register("slow")
    gate = threading.Event()
    fast: list[int] = []
    slow: list[int] = []
    threads = [
        threading.Thread(target=run_worker, args=(clock, "fast", fast, 20)),
        threading.Thread(target=run_worker, args=(clock, "slow", slow, 20, gate)),
    ]
    for t in threads:
        t.start()
    time.sleep(0.5)  # the slow worker finished tick 2 and is stuck in tick 3
    assert slow == [0, 1, 2]
    assert max(fast) == 4  # at most one tick ahead of the slow worker's current tick (3)
    gate.set()
    for t in threads:
        t.join(timeout=5)
    assert fast == list(range(21)) and slow == list(range(21))


def test_a_stalled_worker_stops_holding_the_others_back() -> None:
    now = FakeTime()
    clock = VirtualClock(fps=None, max_skew=1, stall_seconds=5.0, clock=now, poll=0.01)
    clock.register("alive")
    clock.register("stuck")  # never asks for a tick
    assert clock.wait_for_tick("alive", -1, timeout=0) == 0
    assert clock.wait_for_tick("alive", 0, timeout=0) == 1
    assert clock.wait_for_tick("alive", 1, timeout=0) is None  # would be two ahead of 'stuck'
    assert clock.stalled() == []
    now.now += 6.0  # 'stuck' has not asked for 6 s, longer than stall_seconds
    assert clock.wait_for_tick("alive", 1, timeout=0) == 2
    assert clock.stalled() == ["stuck"] and clock.active() == ["alive"]


def test_pacing_to_real_time_and_skipping_when_behind() -> None:
    now = FakeTime()
    clock = VirtualClock(fps=8.0, max_skew=1, stall_seconds=60, clock=now)
    clock.register("cam")
    assert clock.wait_for_tick("cam", -1, timeout=0) == 0
    assert clock.wait_for_tick("cam", 0, timeout=0) is None  # tick 1 starts 0.125 s in
    now.now += 0.125
    assert clock.wait_for_tick("cam", 0, timeout=0) == 1
    now.now += 1.0  # the camera took a whole second over tick 1
    assert clock.wait_for_tick("cam", 1, timeout=0) == 9  # ticks 2-8 are skipped


def test_stop_wakes_waiting_workers_at_once() -> None:
    clock = VirtualClock(fps=None, max_skew=0, stall_seconds=60)
    clock.register("a")
    clock.register("b")
    result: list[int | None] = []
    waiter = threading.Thread(target=lambda: result.append(clock.wait_for_tick("a", 5)))
    waiter.start()
    time.sleep(0.2)
    start = time.monotonic()
    clock.stop()
    waiter.join(timeout=2)
    assert result == [None] and time.monotonic() - start < 0.5


def live_track(camera: int, track_id: int, first: int, last: int, feature: np.ndarray) -> LiveTrack:
    f = np.asarray(feature, np.float32)
    return LiveTrack(camera, track_id, first, last, last - first + 1, (10, 10, 40, 30), f / np.linalg.norm(f))


def test_global_ids_survive_new_rounds_expiry_and_new_tracks() -> None:
    now = FakeTime()
    layout = CameraLayout(
        np.full(2, 8.0),
        np.zeros(2),
        np.ones(2),
        ~np.eye(2, dtype=bool),
        np.full((2, 2), -5.0),
        np.full((2, 2), 30.0),
    )
    agg = LiveMTMCAggregator(
        layout,
        8.0,
        min_frames=3,
        max_inactive=3.0,
        min_sim=0.5,
        options=MatchingOptions(center=False),
        clock=now,
    )
    v1, v2, v3 = np.eye(8)[:3]
    agg.update(0, [live_track(0, 1, 0, 10, v1), live_track(0, 2, 0, 10, v2)])
    agg.update(1, [live_track(1, 7, 5, 15, v1 + 0.1 * v3), live_track(1, 8, 5, 15, v3)])
    assert agg.local_to_global(0) == {}  # no round yet
    agg.cluster()
    first = (agg.local_to_global(0), agg.local_to_global(1))
    assert first[0][1] == first[1][7] and len({first[0][1], first[0][2], first[1][8]}) == 3
    now.now += 1.0
    agg.update(0, [live_track(0, 1, 0, 18, v1), live_track(0, 2, 0, 18, v2)])
    agg.update(1, [live_track(1, 7, 5, 23, v1), live_track(1, 8, 5, 23, v3)])
    agg.cluster()
    assert (agg.local_to_global(0), agg.local_to_global(1)) == first  # a new round keeps every id
    # track 1 leaves camera 0 and expires; camera 0 sees the vehicle again as track 9
    now.now += 4.0
    agg.update(1, [live_track(1, 7, 5, 60, v1), live_track(1, 8, 5, 60, v3)])
    agg.update(0, [live_track(0, 9, 50, 58, v1)])
    assert 1 not in agg.local_to_global(0)
    agg.cluster()
    assert agg.local_to_global(0)[9] == first[0][1]  # it joins its vehicle and takes its id
    assert agg.local_to_global(1) == first[1]


@pytest.fixture
def server() -> LiveServer:
    hub = FrameHub(["left", "right"])
    live = LiveServer(
        hub, lambda: {"cameras": 2, "tracks": {}}, lambda: {"total_tracks": 0}, port=0, max_clients=2
    )
    live.start()
    yield live
    live.stop()


def get(server: LiveServer, path: str) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response.getheader("Content-Type", ""), body


def test_endpoints_content_types_and_404(server: LiveServer) -> None:
    status, kind, body = get(server, "/")
    assert status == 200 and kind.startswith("text/html") and b'src="/left.mjpg"' in body and b"right" in body
    assert get(server, "/healthz")[:2] == (200, "text/plain; charset=utf-8")
    status, kind, body = get(server, "/api/tracks")
    assert status == 200 and kind == "application/json" and json.loads(body) == {"cameras": 2, "tracks": {}}
    assert get(server, "/api/stats")[1] == "application/json"
    for path in ("/nope", "/middle.mjpg", "/../../etc/passwd", "/left.mjpg/x", "/api"):
        assert get(server, path)[0] == 404


def open_stream(server: LiveServer, camera: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", f"/{camera}.mjpg")
    return conn.getresponse()


def test_mjpeg_stream_and_the_client_cap(server: LiveServer) -> None:
    stop = threading.Event()

    def publish() -> None:
        count = 0
        while not stop.is_set():
            count += 1
            server.hub.publish("left", b"\xff\xd8" + bytes([count % 256]) * 100 + b"\xff\xd9")
            time.sleep(0.02)

    threading.Thread(target=publish, daemon=True).start()
    try:
        first = open_stream(server, "left")
        assert first.status == 200
        assert first.getheader("Content-Type") == "multipart/x-mixed-replace; boundary=frame"
        parts = [first.fp.readline() for _ in range(8)]
        assert parts[0] == b"--frame\r\n" and parts[1] == b"Content-Type: image/jpeg\r\n"
        second = open_stream(server, "left")
        assert second.status == 200
        third = open_stream(server, "right")
        assert third.status == 503 and b"too many stream clients" in third.read()
        first.close()
        second.close()
        time.sleep(0.3)  # the server notices the closed streams on its next write
        fourth = open_stream(server, "left")
        assert fourth.status == 200
        fourth.close()
    finally:
        stop.set()


def test_a_short_live_session_stops_fast_and_saves_what_it_gathered(
    demo_cameras: Path, tmp_path: Path
) -> None:
    from mtmc.run_live_mtmc import LiveRun

    overrides = [
        "OUTPUT_DIR",
        str(tmp_path),
        "LIVE.MJPEG_PORT",
        "0",
        "LIVE.CLUSTER_INTERVAL",
        "2",
        "LIVE.TARGET_FPS",
        "8",
    ]
    session = LiveRun(load_config(EXAMPLES / "live_demo.yaml", overrides, mode="live"))
    stop = threading.Event()
    runner = threading.Thread(target=session.run, args=(stop,))
    runner.start()
    time.sleep(6)
    stats = session.stats_json()
    tracks = session.tracks_json()
    stop.set()
    runner.join(timeout=2)
    start = time.monotonic()
    written = session.shutdown()
    assert time.monotonic() - start < 2.0
    assert stats["cluster_rounds"] >= 2 and all(c["frames"] > 10 for c in stats["per_camera"])
    assert any(t["global_id"] is not None for cam in tracks["tracks"].values() for t in cam)
    assert {p.name for p in written} >= {"live.npz", "live.csv", "live_layout.txt", "live_ids.json"}
    # the session can be re-clustered offline
    config = tmp_path / "again.yaml"
    files = [str(tmp_path / f"{i}_{name}" / "live.npz") for i, name in enumerate(("cam_a", "cam_b"))]
    layout = tmp_path / "live_layout.txt"
    config.write_text(
        f"OUTPUT_DIR: {tmp_path / 'x'}\nMTMC:\n  CAMERA_LAYOUT: {layout}\n  TRACKLETS: {json.dumps(files)}\n"
    )
    assert run_mtmc(["--config", str(config)]) == 0
