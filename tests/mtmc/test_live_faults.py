"""Live sessions under signals and kill -9 (the live runner as a child process on the demo cameras).

* the blocker of issue 19: SIGINT, then SIGINT 0.2 s later, while the session saves: every
  camera's result set must be written and complete;
* SIGHUP (a closed terminal) stops and saves like SIGTERM, exit 129;
* kill -9: the checkpointed tracklets are in the journals, and the next start consolidates
  them (marked incomplete) before starting a new session in a new folder;
* a camera whose final save fails leaves the others saved and its journal for recovery.

Waits are for conditions (log lines, the JSON API), with generous deadlines.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from config.loader import load_config
from mot.manifest import check_result_file, read_manifest
from mot.tracklet_file import load_tracklet_file
from mtmc.live.run import LiveRun
from mtmc.live.session import SESSION_FILE, recover
from tests.conftest import EXAMPLES, REPO
from tests.mtmc.chaos import DEADLINE, Run, run_to_end

CAMERAS = ("0_cam_a", "1_cam_b")


def live_command(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(REPO / "mtmc" / "run_live_mtmc.py"),
        "--config",
        str(EXAMPLES / "live_demo.yaml"),
        "OUTPUT_DIR",
        str(out),
        "LIVE.MJPEG_PORT",
        "0",
        "LIVE.CHECKPOINT_SECONDS",
        "1",
        *extra,
    ]


def saved_tracklets(run: Run) -> int:
    """Once the session checkpointed tracklets of both cameras: how many (from /api/stats)."""
    assert run.wait_for("live view on http://"), run.text
    url = re.search(r"live view on (http://[0-9.:]+)/", run.text).group(1)  # type: ignore[union-attr]
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end and run.process.poll() is None:
        with urllib.request.urlopen(f"{url}/api/stats", timeout=30) as response:
            cameras = json.loads(response.read())["per_camera"]
        if all(c["saved_tracklets"] > 0 for c in cameras):
            return sum(c["saved_tracklets"] for c in cameras)
        time.sleep(0.5)
    pytest.fail(f"no checkpointed tracklets on both cameras:\n{run.text}")


def assert_saved(folder: Path, at_least: int, complete: bool) -> None:
    total = 0
    for camera in CAMERAS:
        manifest = check_result_file(folder / camera / "live.npz")  # a verified result set
        assert manifest is not None and manifest["complete"] is complete
        assert set(read_manifest(folder / camera / "live.manifest.json")["files"]) == {
            f"live.{x}" for x in ("npz", "csv", "txt", "pkl")
        }
        table = load_tracklet_file(folder / camera / "live.npz")
        assert table.info["session_id"] == manifest["run_id"]
        total += len(table.tracklets)
        assert not (folder / camera / "live.journal").exists()
    assert total >= at_least
    assert json.loads((folder / SESSION_FILE).read_text())["state"] == "saved"


@pytest.mark.parametrize(
    ("first", "second", "code"), [(signal.SIGINT, signal.SIGINT, 130), (signal.SIGHUP, signal.SIGTERM, 129)]
)
def test_a_second_signal_does_not_stop_the_live_save(
    first: int, second: int, code: int, demo_cameras: Path, tmp_path: Path
) -> None:
    run = Run.start(live_command(tmp_path))
    saved = saved_tracklets(run)
    run.process.send_signal(first)
    time.sleep(0.2)
    run.process.send_signal(second)
    assert run.finish() == code, run.text
    assert "already saving; send it again to force quit, losing" in run.text
    assert "Traceback" not in run.text
    assert_saved(tmp_path, saved, complete=True)


def test_a_killed_session_is_recovered_from_its_checkpoints_by_the_next_start(
    demo_cameras: Path, tmp_path: Path
) -> None:
    run = Run.start(live_command(tmp_path))
    saved = saved_tracklets(run)
    run.process.send_signal(signal.SIGKILL)
    run.finish()
    assert not (tmp_path / CAMERAS[0] / "live.npz").exists()  # nothing consolidated yet
    again = run_to_end(live_command(tmp_path, "LIVE.DURATION", "1"))
    assert again.returncode == 0, again.stderr
    assert "recovered live session" in again.stderr and "Traceback" not in again.stderr
    assert_saved(tmp_path, saved, complete=False)  # the killed session, from its journals
    (new,) = tmp_path.glob("session_*")  # the new session did not replace it
    assert json.loads((new / SESSION_FILE).read_text())["state"] == "saved"


def test_a_camera_that_cannot_be_saved_does_not_stop_the_others(demo_cameras: Path, tmp_path: Path) -> None:
    """A folder where ``live.pkl`` should go makes camera 0's save fail (EISDIR), as a full disk would."""
    overrides = ["OUTPUT_DIR", str(tmp_path), "LIVE.MJPEG_PORT", "0", "LIVE.DURATION", "4"]
    session = LiveRun(load_config(EXAMPLES / "live_demo.yaml", overrides, mode="live"))
    session.run(threading.Event())
    (tmp_path / CAMERAS[0] / "live.pkl").mkdir()
    written = session.shutdown()
    assert session.saved is False
    assert tmp_path / CAMERAS[1] / "live.npz" in written and tmp_path / CAMERAS[0] / "live.npz" not in written
    assert (tmp_path / CAMERAS[0] / "live.journal").is_file()  # kept for the next start
    assert json.loads((tmp_path / SESSION_FILE).read_text())["state"] == "running"
    (tmp_path / CAMERAS[0] / "live.pkl").rmdir()
    assert tmp_path / CAMERAS[0] / "live.npz" in recover(tmp_path)
    assert load_tracklet_file(tmp_path / CAMERAS[0] / "live.npz").info["complete"] is False
