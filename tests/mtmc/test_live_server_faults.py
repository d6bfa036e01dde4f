"""The live server under connection bursts and token misuse: answered, accepted, never logged."""

from __future__ import annotations

import argparse
import logging
import socket
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mtmc.live.access import redact
from mtmc.live.frame_hub import FrameHub
from mtmc.live.server import LiveServer
from tests.conftest import EXAMPLES
from tests.mtmc.test_live import request, status_of

TOKEN = "ключ-доступа-2026"  # non-ASCII


@pytest.fixture
def make_server() -> Iterator[Callable[[str], LiveServer]]:
    """Loopback LiveServers with a token, stopped afterwards."""
    started: list[LiveServer] = []

    def make(token: str) -> LiveServer:
        started.append(LiveServer(FrameHub(["a"]), dict, dict, port=0, token=token))
        started[-1].start()
        return started[-1]

    yield make
    for live in started:
        live.stop()


def test_a_connection_burst_waits_to_be_answered() -> None:
    live = LiveServer(FrameHub(["a"]), dict, dict, port=0, max_clients=2)  # listening, not yet accepting
    try:
        burst = [socket.create_connection(("127.0.0.1", live.port), timeout=5) for _ in range(64)]
        live.start()
        for sock in burst:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        statuses = [status_of(sock) for sock in burst]  # 200, or 503 beyond the handler threads
        assert set(statuses) <= {200, 503} and 200 in statuses
        for sock in burst:
            sock.close()
    finally:
        live.stop()


def test_a_non_ascii_token_works_in_the_header_and_the_url(make_server: Callable[[str], LiveServer]) -> None:
    server = make_server(TOKEN)
    for header in (b"Authorization: Bearer ", b"X-Access-Token: "):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + header + TOKEN.encode() + b"\r\n\r\n")
        assert status_of(sock) == 200
        sock.close()
    assert request(server, "/healthz?" + urllib.parse.urlencode({"token": TOKEN}))[0] == 200
    wrong = "ключ-доступа-2025".encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Access-Token: " + wrong + b"\r\n\r\n")
    assert status_of(sock) == 401
    sock.close()


def test_no_token_right_or_wrong_reaches_the_log(
    make_server: Callable[[str], LiveServer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mtmc.live.server")
    server = make_server("s3cret-s3cret-s3cret")
    for query in ("token=s3cret-s3cret-s3cre", "x=1&token=s3cret-s3cret-s3cret&y=2", "TOKEN=guess"):
        request(server, "/healthz?" + query)
    assert "s3cret" not in caplog.text and "guess" not in caplog.text
    assert caplog.text.count("token=<token>") + caplog.text.count("TOKEN=<token>") == 3
    assert redact("GET /?token=abc&b=1 HTTP/1.1", "") == "GET /?token=<token>&b=1 HTTP/1.1"


def test_a_short_token_for_a_public_bind_is_refused_at_start(
    demo_cameras: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from config.loader import load_config
    from mtmc.run_live_mtmc import run

    overrides = ["OUTPUT_DIR", str(tmp_path), "LIVE.BIND_ADDRESS", "0.0.0.0", "LIVE.ACCESS_TOKEN", "x"]
    cfg = load_config(EXAMPLES / "live_demo.yaml", overrides, mode="live")
    assert run(cfg, argparse.Namespace(dry_run=True)) == 2
    assert "LIVE.ACCESS_TOKEN: too short (1 characters)" in caplog.text and "at least 16" in caplog.text
