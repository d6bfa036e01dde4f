"""A live run on two cameras in a real browser: both streams update on the page; the API gives global ids.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` and ``run_tests.sh`` install them
when running as root) and the ``selenium`` package (dev extra); skipped with the reason otherwise.
Set ``VEHICLE_MTMC_SCREENSHOT=path.png`` to keep the page's screenshot (docs/live.png is made so).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from tests.conftest import EXAMPLES, REPO

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def wait_for(check: Callable[[], T], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


def tracks_with_global_ids(url: str) -> dict[str, Any] | None:
    tracks = json.loads(fetch(f"{url}/api/tracks"))
    found = any(track["global_id"] is not None for camera in tracks["tracks"].values() for track in camera)
    return tracks if found else None


def pixels(png: bytes) -> np.ndarray:
    import cv2

    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


def test_live_page_in_headless_chromium(demo_cameras: Path, tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (CHROMIUM.exists() and DRIVER.exists()):
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed (run_tests.sh installs them as root)"
        )
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    overrides = [
        "OUTPUT_DIR",
        str(tmp_path / "out"),
        "LIVE.MJPEG_PORT",
        str(port),
        "LIVE.CLUSTER_INTERVAL",
        "2",
    ]
    live = subprocess.Popen(
        [
            sys.executable,
            "mtmc/run_live_mtmc.py",
            "--config",
            str(EXAMPLES / "live_demo.yaml"),
            *overrides,
            "LIVE.DURATION",
            "600",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    driver = None
    try:
        wait_for(lambda: fetch(f"{url}/healthz").startswith(b"ok\n"), 120, "the live server")
        options = Options()
        options.binary_location = str(CHROMIUM)
        for arg in (
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
            f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,700",
        ):  # fmt: skip
            options.add_argument(arg)
        os.environ.setdefault("SE_OFFLINE", "true")  # selenium must not look for drivers online
        driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
        driver.get(url + "/")
        loaded = "return [...document.images].map(i => i.complete && i.naturalWidth > 0)"
        wait_for(
            lambda: all(driver.execute_script(loaded)) and len(driver.execute_script(loaded)) == 2,
            120,
            "both streams",
        )
        names = driver.execute_script(
            "return [...document.querySelectorAll('figcaption')].map(f => f.textContent)"
        )
        assert any("cam_a" in n for n in names) and any("cam_b" in n for n in names)
        first = pixels(driver.get_screenshot_as_png())

        def page_changed() -> bool:
            now = pixels(driver.get_screenshot_as_png())
            return bool((np.abs(first.astype(int) - now.astype(int)).max(axis=2) > 30).mean() > 0.01)

        wait_for(page_changed, 120, "the streams to update on the page")
        wait_for(lambda: "active tracks" in driver.find_element("id", "summary").text, 60, "the live stats")
        tracks = wait_for(lambda: tracks_with_global_ids(url), 180, "global ids in /api/tracks")
        assert set(tracks["tracks"]) == {"cam_a", "cam_b"} and tracks["cameras"] == 2
        if target := os.environ.get("VEHICLE_MTMC_SCREENSHOT"):
            Path(target).write_bytes(driver.get_screenshot_as_png())
    finally:
        if driver is not None:
            driver.quit()
        live.send_signal(signal.SIGTERM)
        try:
            stderr = live.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:
            live.kill()
            raise
    assert live.returncode == 143, stderr[-2000:]
    assert "SIGTERM: stopping" in stderr and (tmp_path / "out" / "live_ids.json").is_file()
    ids = json.loads((tmp_path / "out" / "live_ids.json").read_text())
    assert ids["global_ids"].keys() == {"cam_a", "cam_b"} and ids["session_id"]
