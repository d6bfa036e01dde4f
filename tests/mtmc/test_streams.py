"""Stream sources for real: an MJPEG stream over HTTP (served by our own live server) that drops.

The MOT runner keeps everything read before a stream drops; a live source reconnects when the
stream comes back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from mot.run_tracker import main as run_tracker
from mot.tracklet_file import load_tracklet_file
from mtmc.live.capture import LiveSource
from mtmc.live.frame_hub import FrameHub
from mtmc.live.server import LiveServer
from tests.conftest import EXAMPLES, INTERSECTION


def video_jpegs(count: int) -> list[bytes]:
    cap = cv2.VideoCapture(str(INTERSECTION))
    jpegs = [cv2.imencode(".jpg", cap.read()[1])[1].tobytes() for _ in range(count)]
    cap.release()
    return jpegs


class Broadcast:
    """A live server on ``port`` (0: any) publishing ``jpegs`` in a loop until stopped.

    ``paused`` set: the connection stays open but no new picture comes (the server repeats the
    last one every few seconds as a keep-alive): a stalled camera.
    """

    def __init__(self, jpegs: list[bytes], port: int = 0, period: float = 0.03) -> None:
        self.hub = FrameHub(["cam"])
        self.server = LiveServer(self.hub, dict, dict, port=port)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.port}/cam.mjpg"
        self._stop = threading.Event()
        self.paused = threading.Event()
        self._thread = threading.Thread(target=self._publish, args=(jpegs, period), daemon=True)
        self._thread.start()

    def _publish(self, jpegs: list[bytes], period: float) -> None:
        index = 0
        while not self._stop.is_set():
            if not self.paused.is_set():
                self.hub.publish("cam", jpegs[index % len(jpegs)])
                index += 1
            time.sleep(period)

    def stop(self) -> None:
        self._stop.set()
        self.server.stop()


@pytest.fixture
def broadcast(shared: Path) -> Iterator[Broadcast]:
    stream = Broadcast(video_jpegs(40))
    yield stream
    stream.stop()


def test_the_runner_keeps_what_a_dropped_stream_delivered(
    broadcast: Broadcast, tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    threading.Timer(4.0, broadcast.stop).start()  # the stream drops after about 4 s
    args = ["--config", str(EXAMPLES / "mot_intersection.yaml"), "MOT.VIDEO", broadcast.url]
    assert run_tracker([*args, "MOT.VIDEO_OUTPUT", "false", "OUTPUT_DIR", str(tmp_path)]) == 0
    assert "the stream stopped after" in capfd.readouterr().err
    table = load_tracklet_file(tmp_path / "mot.npz")
    assert table.info["frames_read"] > 10 and table.tracklets and table.info["complete"]


def test_a_live_stream_source_reconnects_when_the_stream_comes_back(broadcast: Broadcast) -> None:
    source = LiveSource(broadcast.url, 8.0)
    try:
        assert source.is_stream

        def wait_frame(after: int) -> int:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                frame = source.frame(0)
                if frame is not None and frame.seq > after:
                    return frame.seq
                time.sleep(0.1)
            return 0

        seq = wait_frame(0)
        assert seq
        port = broadcast.server.port
        broadcast.stop()
        time.sleep(0.5)
        dropped = source.frame(0)
        assert dropped is not None
        again = Broadcast(video_jpegs(5), port=port)
        try:
            assert wait_frame(dropped.seq), "no new frame after the stream came back"
        finally:
            again.stop()
    finally:
        source.close()
