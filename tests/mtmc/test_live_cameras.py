"""Live camera supervision on loopback: stalled, dropped and dead network cameras beside a file camera.

Every wait is for a condition with a generous deadline; nothing depends on the machine's speed.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from config.loader import load_config
from mot.tracklet_file import load_tracklet_file
from mtmc.live.capture import LiveSource, StreamCapture
from mtmc.live.run import LiveRun
from mtmc.run_live_mtmc import run as run_live
from tests.conftest import EXAMPLES, REPO
from tests.detection.test_video_faults import corrupt_copy, raw_mjpeg
from tests.mtmc.test_live import wait_for
from tests.mtmc.test_streams import Broadcast, video_jpegs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def session_config(demo_cameras: Path, tmp_path: Path, url: str, *extra: str):  # type: ignore[no-untyped-def]
    cameras = f"[{{name: cam_a, video: {demo_cameras / 'far.mp4'}}}, {{name: cam_b, video: '{url}'}}]"
    overrides = ["OUTPUT_DIR", str(tmp_path), "LIVE.MJPEG_PORT", "0", "EXPRESS.CAMERAS", cameras]
    overrides += ["LIVE.TARGET_FPS", "4", "LIVE.STALL_SECONDS", "2", "LIVE.CLUSTER_INTERVAL", "2", *extra]
    return load_config(EXAMPLES / "live_demo.yaml", overrides, mode="live")


class Session:
    """A LiveRun running in a thread until ``stop()``, which saves it."""

    def __init__(self, cfg) -> None:  # type: ignore[no-untyped-def]
        self.run = LiveRun(cfg)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run.run, args=(self._stop,), daemon=True)
        self._thread.start()

    def camera(self, name: str) -> dict:
        return next(c for c in self.run.stats_json()["per_camera"] if c["name"] == name)

    def healthz(self) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.run.server.port, timeout=30)
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        body = response.read().decode()
        conn.close()
        return response.status, body

    def stop(self) -> list[Path]:
        self._stop.set()
        self._thread.join(timeout=60)
        return self.run.shutdown()


@pytest.fixture
def broadcast(shared: Path) -> Iterator[Broadcast]:
    stream = Broadcast(video_jpegs(40))
    yield stream
    stream.stop()


def test_a_stalled_and_a_dropped_stream_beside_a_file_camera(
    demo_cameras: Path, tmp_path: Path, broadcast: Broadcast
) -> None:
    session = Session(session_config(demo_cameras, tmp_path, broadcast.url))
    again: Broadcast | None = None
    try:
        wait_for(
            lambda: session.camera("cam_b")["frames"] >= 6 and session.camera("cam_a")["frames"] >= 6,
            "frames",
        )
        assert session.healthz()[0] == 200
        # the stream stalls: the connection stays open, no new picture comes
        broadcast.paused.set()
        _, body = wait_for(lambda: (h := session.healthz())[0] == 503 and h, "/healthz to fail")
        assert body.startswith("not ok: cam_b") and "cam_b: stalled" in body and "cam_a: ok" in body
        wait_for(lambda: session.camera("cam_b")["stalled"], "the worker to mark it stalled (next tick)")
        stalled_at = session.run.clock.current_tick()
        frozen, file_frames = session.camera("cam_b")["frames"], session.camera("cam_a")["frames"]
        wait_for(lambda: session.camera("cam_a")["frames"] >= file_frames + 8, "the file camera to go on")
        assert session.camera("cam_b")["frames"] == frozen  # the last picture is not tracked again
        broadcast.paused.clear()
        resumed_at = session.run.clock.current_tick()
        wait_for(lambda: session.camera("cam_b")["frames"] > frozen, "the stream to rejoin")
        wait_for(lambda: session.healthz()[0] == 200, "/healthz to recover")
        # the stream drops (its server goes away) and comes back on the same port
        port, stalls = broadcast.server.port, session.camera("cam_b")["stalls"]
        broadcast.stop()
        wait_for(lambda: session.camera("cam_b")["stalls"] == stalls + 1, "a new stall")
        assert session.healthz()[0] == 503
        dropped = session.camera("cam_b")["frames"]
        again = Broadcast(video_jpegs(20), port=port)
        wait_for(lambda: session.camera("cam_b")["frames"] > dropped, "the stream to come back")
        wait_for(lambda: session.healthz()[0] == 200, "/healthz to recover after the drop")
    finally:
        session.stop()
        if again is not None:
            again.stop()
    tracklets = load_tracklet_file(tmp_path / "1_cam_b" / "live.npz").tracklets
    assert tracklets, "the stream camera tracked nothing"
    stalled_ticks = set(range(stalled_at, resumed_at))
    assert not [t.track_id for t in tracklets if stalled_ticks & set(t.frames.tolist())]


def test_a_dead_camera_at_start_up_joins_when_it_comes_up(
    demo_cameras: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/cam.mjpg"
    cfg = session_config(demo_cameras, tmp_path, url)
    dry = argparse.Namespace(dry_run=True)
    assert run_live(session_config(demo_cameras, tmp_path / "dry", url), dry) == 0  # before: exit 2
    (tmp_path / "bad.mp4").write_bytes(b"not a video" * 100)
    cameras = f"[{{name: cam_a, video: {tmp_path / 'bad.mp4'}}}, {{name: cam_b, video: '{url}'}}]"
    bad = load_config(EXAMPLES / "live_demo.yaml", ["EXPRESS.CAMERAS", cameras], mode="live")
    assert run_live(bad, dry) == 2  # a file that cannot be decoded is still an error, naming it
    assert "camera 'cam_a'" in caplog.text and "bad.mp4" in caplog.text
    session = Session(cfg)
    stream: Broadcast | None = None
    try:
        wait_for(lambda: session.camera("cam_a")["frames"] >= 4, "the file camera")
        wait_for(lambda: "cam_b: down" in session.healthz()[1], "the dead camera to show as down")
        assert session.camera("cam_b")["frames"] == 0
        stream = Broadcast(video_jpegs(20), port=port)
        wait_for(lambda: session.camera("cam_b")["frames"] >= 4, "the camera to join")
        wait_for(lambda: session.healthz()[0] == 200, "/healthz ok once it joined")
        assert session.camera("cam_b")["source"] == "up"
    finally:
        session.stop()
        if stream is not None:
            stream.stop()


def test_a_hanging_network_camera_does_not_hold_up_a_file_cameras_opens(shared: Path, tmp_path: Path) -> None:
    """OpenCV serialises FFmpeg opens within a process: the stream's open must happen in another one."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(4)
        stream = StreamCapture(f"http://127.0.0.1:{hole.getsockname()[1]}/cam.mjpg", 4.0, open_timeout=300)
        try:
            hole.settimeout(60)
            peer, _ = hole.accept()  # the capture is now inside open(), waiting for an answer never sent
            video = raw_mjpeg(tmp_path, 6)
            source = LiveSource(str(video), 25.0, loop=True)  # 6 frames: reopened every 6 ticks
            frames = [source.frame(tick) for tick in range(30)]
            assert all(f is not None for f in frames) and stream.state == "starting"
            source.close()
            peer.close()
        finally:
            stream.close()


def test_a_live_file_without_a_frame_count_loops(shared: Path, tmp_path: Path) -> None:
    source = LiveSource(str(raw_mjpeg(tmp_path, 12)), 25.0, loop=True)
    try:
        assert source.info.frames == -1
        first = [source.frame(tick) for tick in range(12)]
        wrapped = [source.frame(tick) for tick in range(12, 30)]
        assert all(f is not None for f in first + wrapped)
        assert np.array_equal(wrapped[3].image, first[3].image)  # tick 15 is frame 3 again
        assert len({f.seq for f in first + wrapped}) == 30  # each a new read, so tracked
    finally:
        source.close()


def test_a_live_file_reads_past_a_corrupt_stretch(shared: Path, tmp_path: Path) -> None:
    video = corrupt_copy(tmp_path)
    fps = cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FPS)
    source = LiveSource(str(video), fps, loop=False)
    try:
        frames = [source.frame(tick) for tick in range(252)]
        assert sum(f is not None for f in frames) > 200 and frames[230] is not None
        assert source.decode_errors > 0
    finally:
        source.close()


def test_a_slow_file_repeats_its_frame_without_a_new_sequence_number(shared: Path, tmp_path: Path) -> None:
    source = LiveSource(str(raw_mjpeg(tmp_path, 6)), 50.0, loop=True)  # 25 fps file at 50 ticks/s
    try:
        seqs = [source.frame(tick).seq for tick in range(8)]  # type: ignore[union-attr]
        assert seqs == [1, 1, 2, 2, 3, 3, 4, 4]
    finally:
        source.close()


def test_a_killed_live_process_leaves_no_capture_process(tmp_path: Path) -> None:
    """kill -9 of the parent closes the pipe the capture process listens on: it exits, even inside open()."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(4)
        code = (
            "import sys, time; from mtmc.live.capture import StreamCapture; "
            f"c = StreamCapture('http://127.0.0.1:{hole.getsockname()[1]}/cam.mjpg', 4.0, 300); "
            "print(c.pid, flush=True); time.sleep(600)"
        )
        parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=REPO)
        child = int(parent.stdout.readline())  # type: ignore[union-attr]
        hole.settimeout(60)
        peer, _ = hole.accept()  # the capture process is inside open()
        parent.kill()
        parent.wait(timeout=30)
        wait_for(lambda: not Path(f"/proc/{child}").exists() or zombie(child), "the capture process to exit")
        peer.close()


def zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True
