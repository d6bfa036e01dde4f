"""Live mode: stable global ids, the HTTP server and its faults, a short real session.

The clock has its own fake-clock tests (test_live_clock.py). Nothing here depends on the
machine's speed: every wait is for a condition, with a generous deadline.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

import mot.model_cache
from config.layout import CameraLayout
from config.loader import load_config
from mot.tracklet_file import load_tracklet_file
from mtmc.live.access import exposure_problem
from mtmc.live.aggregator import LiveMTMCAggregator, LiveTrack
from mtmc.live.frame_hub import FrameHub
from mtmc.live.run import LiveRun
from mtmc.live.server import LiveServer, ServerStartError
from mtmc.matching import MatchingOptions
from mtmc.run_live_mtmc import live_model_problems
from mtmc.run_mtmc import main as run_mtmc
from tests.conftest import EXAMPLES

T = TypeVar("T")


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


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
        options=MatchingOptions(center=False, camera_norm=False),
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
    # memory stays bounded: the features of ids no track carries any more are dropped
    now.now += 10.0
    agg.update(1, [live_track(1, 8, 5, 140, v3)])
    agg.cluster()
    assert set(agg._features) == set(agg.local_to_global(1).values()) == {first[1][8]}


def wait_for(check: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def make_server() -> Iterator[Callable[..., LiveServer]]:
    """Start LiveServers on loopback (two cameras, 'right' never publishes); stopped afterwards."""
    started: list[LiveServer] = []

    def make(**options: object) -> LiveServer:
        settings: dict[str, object] = {"port": 0, "max_clients": 2, "check_interval": 0.05} | options
        live = LiveServer(
            FrameHub(["left", "right"]),
            lambda: {"cameras": 2, "tracks": {}},
            lambda: {"total_tracks": 0},
            **settings,  # type: ignore[arg-type]
        )
        live.start()
        started.append(live)
        return live

    yield make
    for live in started:
        live.stop()


@pytest.fixture
def server(make_server: Callable[..., LiveServer]) -> LiveServer:
    return make_server()


def request(
    server: LiveServer, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response, body


def get(server: LiveServer, path: str) -> tuple[int, str, bytes]:
    status, response, body = request(server, path)
    return status, response.getheader("Content-Type", ""), body


def test_endpoints_content_types_and_404(server: LiveServer) -> None:
    status, kind, body = get(server, "/")
    assert status == 200 and kind.startswith("text/html") and b'src="/left.mjpg"' in body and b"right" in body
    assert get(server, "/healthz") == (200, "text/plain; charset=utf-8", b"ok\n")
    status, kind, body = get(server, "/api/tracks")
    assert status == 200 and kind == "application/json" and json.loads(body) == {"cameras": 2, "tracks": {}}
    assert get(server, "/api/stats")[1] == "application/json"
    for path in ("/nope", "/middle.mjpg", "/../../etc/passwd", "/left.mjpg/x", "/api"):
        assert get(server, path)[0] == 404


def test_head_is_answered_without_a_body_and_without_a_version_banner(server: LiveServer) -> None:
    for path, status in (("/", 200), ("/api/stats", 200), ("/healthz", 200), ("/nope", 404)):
        got, response, body = request(server, path, "HEAD")
        _, full, full_body = request(server, path)
        assert (got, body) == (status, b"")
        assert response.getheader("Content-Length") == str(len(full_body)) == full.getheader("Content-Length")
        assert response.getheader("Server") == full.getheader("Server") == "vehicle-mtmc"
    status, response, body = request(server, "/left.mjpg", "HEAD")
    assert status == 200 and body == b"" and response.getheader("Content-Type").startswith("multipart/")
    assert server.streaming == 0  # a HEAD takes no stream slot
    status, response, _ = request(server, "/", "POST")
    assert status == 501 and "Python" not in str(response.getheaders())


def test_healthz_fails_with_the_reason_when_the_run_is_stalled(
    make_server: Callable[..., LiveServer],
) -> None:
    state = [(True, "ok")]
    server = make_server(health=lambda: state[0])
    assert get(server, "/healthz")[::2] == (200, b"ok\n")
    state[0] = (False, "stalled: no camera produced a frame for 6.0 s (LIVE.STALL_SECONDS 5)")
    status, _, body = get(server, "/healthz")
    assert status == 503 and body.startswith(b"stalled: no camera produced a frame")
    assert get(server, "/")[0] == 200  # the page itself still loads


def open_stream(server: LiveServer, camera: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", f"/{camera}.mjpg")
    return conn.getresponse()


def test_mjpeg_stream_and_the_client_cap(server: LiveServer) -> None:
    stop = threading.Event()

    def publish() -> None:
        count = 0
        while not stop.wait(0.02):
            count += 1
            server.hub.publish("left", b"\xff\xd8" + bytes([count % 256]) * 100 + b"\xff\xd9")

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
        wait_for(lambda: server.streaming == 0, "the closed streams to free their slots")
        fourth = open_stream(server, "left")
        assert fourth.status == 200
        fourth.close()
    finally:
        stop.set()


def raw_stream(server: LiveServer, camera: str) -> socket.socket:
    """A stream request on a raw socket, its response status line read."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(f"GET /{camera}.mjpg HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def status_of(sock: socket.socket) -> int:
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        line += chunk
    return int(line.split()[1])


def vanish(sock: socket.socket, abrupt: bool) -> None:
    """Close like a browser tab (FIN) or like a crashed client (RST)."""
    if abrupt:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_disconnect_storm_on_a_silent_camera_frees_every_slot(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(max_clients=4)  # 'right' never publishes a frame
    for round_ in range(6):  # 6 bursts of 8: half get a slot, half 503; all vanish
        socks = [raw_stream(server, "right") for _ in range(8)]
        statuses = sorted(status_of(s) for s in socks)
        assert statuses == [200] * 4 + [503] * 4, (round_, statuses)
        for i, sock in enumerate(socks):
            vanish(sock, abrupt=i % 2 == 1)
        wait_for(lambda: server.streaming == 0, f"the slots to return to 0 after burst {round_}")
    socks = [raw_stream(server, "right") for _ in range(4)]
    assert [status_of(s) for s in socks] == [200] * 4
    for sock in socks:
        vanish(sock, abrupt=False)
    wait_for(lambda: server.streaming == 0, "the slots to return to 0")


def test_a_silent_camera_repeats_its_last_frame(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(keepalive=0.1)
    server.hub.publish("right", b"\xff\xd8only\xff\xd9")
    stream = open_stream(server, "right")
    lines = [stream.fp.readline() for _ in range(10)]
    assert lines.count(b"--frame\r\n") == 2 and lines.count(b"\xff\xd8only\xff\xd9\r\n") == 2
    stream.close()


def test_a_half_sent_request_is_closed_after_the_request_timeout(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(request_timeout=0.3)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the blank line never comes
    assert sock.recv(4096) == b""  # the server closed it (a socket timeout here fails the test)
    sock.close()
    assert get(server, "/healthz")[0] == 200


def test_handler_threads_are_bounded(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(request_timeout=60)
    limit = server.httpd.max_threads
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(limit)]
    wait_for(lambda: server.httpd.threads == limit, "the handler threads")
    extra = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    assert extra.recv(4096).startswith(b"HTTP/1.1 503 Service Unavailable")
    extra.close()
    for sock in idle:
        sock.close()
    wait_for(lambda: server.httpd.threads == 0, "the idle connections to end")
    assert get(server, "/healthz")[0] == 200


def test_clients_that_leave_early_leave_no_traceback(
    server: LiveServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="mtmc.live.server")
    server.hub.publish("left", b"\xff\xd8" + b"x" * 500_000 + b"\xff\xd9")
    for path in ("/", "/api/tracks", "/left.mjpg", "/left.mjpg"):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        vanish(sock, abrupt=True)
    wait_for(lambda: server.streaming == 0 and server.httpd.threads == 0, "every handler to end")
    assert get(server, "/healthz")[0] == 200
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    assert "Traceback" not in capfd.readouterr().err


def test_the_access_token_is_required_by_every_route(
    make_server: Callable[..., LiveServer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mtmc.live.server")
    server = make_server(token="s3cret")
    for path in ("/", "/healthz", "/api/tracks", "/api/stats", "/left.mjpg", "/nope"):
        for method in ("GET", "HEAD"):
            status, response, _ = request(server, path, method)
            assert status == 401 and response.getheader("WWW-Authenticate", "").startswith("Bearer")
        assert b"?token=" in request(server, path)[2]
        assert request(server, path + "?token=wrong")[0] == 401
        assert request(server, path, headers={"Authorization": "Bearer nope"})[0] == 401
    assert request(server, "/healthz", headers={"Authorization": "Bearer s3cret"})[0] == 200
    assert request(server, "/api/stats", headers={"X-Access-Token": "s3cret"})[0] == 200
    status, _, page = request(server, "/?token=s3cret")
    assert status == 200 and b'src="/left.mjpg?token=s3cret"' in page and b"location.search" in page
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(b"GET /left.mjpg?token=s3cret HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(sock) == 200
    vanish(sock, abrupt=False)
    assert "token=<token>" in caplog.text and "s3cret" not in caplog.text  # the log does not keep it


@pytest.mark.parametrize(
    ("address", "token", "refused"),
    [
        ("127.0.0.1", "", False),
        ("::1", "", False),
        ("localhost", "", False),
        ("0.0.0.0", "", True),
        ("", "", True),
        ("192.168.1.20", "", True),
        ("0.0.0.0", "0123456789abcdef", False),
        ("0.0.0.0", "s3cret", True),  # too short for a public bind
        ("0.0.0.0", "x", True),
        ("127.0.0.1", "x", False),  # loopback: any token
    ],
)
def test_exposure_without_a_long_enough_token_is_refused(address: str, token: str, refused: bool) -> None:
    problem = exposure_problem(address, token)
    assert (problem is not None) is refused
    if problem and token:
        assert problem.startswith("LIVE.ACCESS_TOKEN") and "at least 16" in problem
    elif problem:
        assert problem.startswith("LIVE.BIND_ADDRESS") and "LIVE.ACCESS_TOKEN" in problem


def test_a_port_in_use_is_a_clean_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(
            ServerStartError, match=f"LIVE.MJPEG_PORT: port {port} on 127.0.0.1 is already in use"
        ):
            LiveServer(FrameHub(["a"]), dict, dict, port=port)


def test_an_address_of_another_machine_is_a_clean_error() -> None:
    with pytest.raises(
        ServerStartError, match=r"LIVE.BIND_ADDRESS: 192\.0\.2\.1 is not an address of this machine"
    ):
        LiveServer(FrameHub(["a"]), dict, dict, address="192.0.2.1", port=0)


def test_the_runner_refuses_exposure_and_a_busy_port_with_exit_2(
    demo_cameras: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from mtmc.run_live_mtmc import main as run_live

    base = ["--config", str(EXAMPLES / "live_demo.yaml"), "OUTPUT_DIR", str(tmp_path)]
    assert run_live([*base, "LIVE.BIND_ADDRESS", "0.0.0.0"]) == 2
    err = capfd.readouterr().err
    assert "LIVE.ACCESS_TOKEN" in err and "0.0.0.0 can be reached from other machines" in err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert run_live([*base, "LIVE.MJPEG_PORT", str(port)]) == 2
    err += capfd.readouterr().err
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert "Traceback" not in err


def camera_stats(session: LiveRun) -> dict | None:
    stats = session.stats_json()
    tracks = session.tracks_json()
    ready = (
        stats["cluster_rounds"] >= 2
        and all(c["frames"] >= 12 for c in stats["per_camera"])
        and any(t["global_id"] is not None for cam in tracks["tracks"].values() for t in cam)
    )
    return stats if ready else None


def test_a_short_live_session_stops_fast_and_saves_what_it_gathered(
    demo_cameras: Path, tmp_path: Path
) -> None:
    overrides = [
        "OUTPUT_DIR",
        str(tmp_path),
        "LIVE.MJPEG_PORT",
        "0",
        "LIVE.CLUSTER_INTERVAL",
        "2",
        "LIVE.TARGET_FPS",
        "8",
        "LIVE.CHECKPOINT_SECONDS",
        "1",
    ]
    session = LiveRun(load_config(EXAMPLES / "live_demo.yaml", overrides, mode="live"))
    stop = threading.Event()
    runner = threading.Thread(target=session.run, args=(stop,))
    runner.start()
    try:
        stats = wait_for(lambda: camera_stats(session), "frames, two clustering rounds and global ids", 300)
        status, _, body = get(session.server, "/healthz")
        assert status == 200 and body.startswith(b"ok\ncam_a: ok") and b"\ncam_b: ok" in body
    finally:
        stop.set()
        runner.join(timeout=60)
    session.clock.stop()
    for worker in session.workers:
        worker.join(timeout=60)
        worker.checkpoint()  # finished tracklets go to disk and leave memory, their appearance too
        assert worker.builder.finished_tracks == 0 and len(worker._appearance) <= worker.builder.live_tracks
    saved = sum(w.stats.saved for w in session.workers)
    written = session.shutdown()
    assert all(not w.is_alive() for w in session.workers)
    assert stats["tick"] >= 12 and all(c["running"] and not c["error"] for c in stats["per_camera"])
    assert all(0 < c["fps"] <= 8 * 1.25 for c in stats["per_camera"])  # achieved, at most the tick rate
    npz = [p for p in written if p.suffix == ".npz"]
    assert saved > 0 and sum(len(load_tracklet_file(p).tracklets) for p in npz) >= saved
    assert {p.name for p in written} >= {"live.npz", "live.csv", "live_layout.txt", "live_ids.json"}
    # the session can be re-clustered offline
    config = tmp_path / "again.yaml"
    files = [str(tmp_path / f"{i}_{name}" / "live.npz") for i, name in enumerate(("cam_a", "cam_b"))]
    layout = tmp_path / "live_layout.txt"
    config.write_text(
        f"OUTPUT_DIR: {tmp_path / 'x'}\nMTMC:\n  CAMERA_LAYOUT: {layout}\n  TRACKLETS: {json.dumps(files)}\n"
    )
    assert run_mtmc(["--config", str(config)]) == 0


def test_the_workers_take_the_models_the_start_up_checks_loaded(
    demo_cameras: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_config(
        EXAMPLES / "live_demo.yaml", ["OUTPUT_DIR", str(tmp_path), "LIVE.MJPEG_PORT", "0"], mode="live"
    )
    loads: list[str] = []
    real = mot.model_cache.open_runner

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        loads.append(str(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(mot.model_cache, "open_runner", counted)
    models = mot.model_cache.model_cache(cfg)
    assert live_model_problems(cfg, models) == []
    checked = list(loads)
    session = LiveRun(cfg, models)
    session.shutdown()
    assert len(checked) >= 2  # the detector and the ReID model
    assert loads == checked  # the workers loaded nothing again


def test_a_server_that_never_started_stops_at_once() -> None:
    done = threading.Event()
    live = LiveServer(FrameHub(["a"]), dict, dict, port=0)
    threading.Thread(target=lambda: (live.stop(), done.set()), daemon=True).start()
    assert done.wait(timeout=30)
