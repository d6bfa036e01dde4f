"""Batch runners under signals: SIGTERM and SIGHUP are handled like SIGINT, pool workers never outlive
their driver, the Ray executor saves what its tasks tracked.

Every run is a real runner subprocess on real video; waits are for log lines and process
exits with generous deadlines, never fixed sleeps.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from mot.manifest import read_manifest
from mot.tracklet_file import load_tracklet_file
from tests.conftest import EXAMPLES, INTERSECTION, REPO
from tests.mtmc.chaos import Run, wait_gone
from tests.mtmc.chaos import express_command as chaos_express_command

TRACKING = "': tracking "  # run_camera's log line (camera 'name': tracking ...) once its loop runs


def tracker_command(out: Path) -> list[str]:
    return [
        sys.executable,
        str(REPO / "mot" / "run_tracker.py"),
        "--config",
        str(EXAMPLES / "mot_intersection.yaml"),
        "OUTPUT_DIR",
        str(out),
        "MOT.VIDEO",
        str(INTERSECTION),
        "MOT.VIDEO_OUTPUT",
        "false",
    ]


def express_command(demo_cameras: Path, out: Path) -> list[str]:
    """The demo express run on two pool workers (the chaos test's command, see ``tests.mtmc.chaos``)."""
    pool = ("EXPRESS.EXECUTOR", "processes", "EXPRESS.WORKERS", "2", "MOT.VIDEO_OUTPUT", "false")
    return chaos_express_command(demo_cameras, out, *pool)


def assert_saved_incomplete(folder: Path, frames: int) -> None:
    table = load_tracklet_file(folder / "mot.npz")
    assert table.info["complete"] is False and table.info["frames_read"] < frames
    assert table.info["run_id"] and table.info["fingerprint"]
    manifest = read_manifest(folder / "mot.manifest.json")
    assert manifest["complete"] is False and "mot.npz" in manifest["files"]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_the_tracker_saves_what_it_tracked_on_sigterm_and_sigint(
    sig: signal.Signals, code: int, shared: Path, tmp_path: Path
) -> None:
    run = Run.start(tracker_command(tmp_path))
    assert run.wait_for(TRACKING), run.text
    run.process.send_signal(sig)
    assert run.finish() == code, run.text
    assert "saving what was tracked" in run.text and "Traceback" not in run.text
    assert f"stopped by {sig.name}; what was tracked so far is saved" in run.text
    assert_saved_incomplete(tmp_path, 252)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_a_signal_to_the_express_driver_alone_stops_its_workers_promptly(
    sig: signal.Signals, code: int, demo_cameras: Path, tmp_path: Path
) -> None:
    run = Run.start(express_command(demo_cameras, tmp_path))
    assert run.wait_for(TRACKING, count=2), run.text  # both workers are inside their videos
    workers = run.worker_pids()
    assert len(workers) == 2
    run.process.send_signal(sig)  # to the driver only, not to its process group
    assert run.finish() == code, run.text
    assert wait_gone(workers) == []
    # the workers stopped inside their videos: what they saved is marked incomplete
    for camera in ("0_far", "1_near"):
        if (tmp_path / camera / "mot.npz").exists():
            assert_saved_incomplete(tmp_path / camera, 252)
    assert not (tmp_path / "mtmc.manifest.json").exists()


def test_workers_die_with_a_killed_driver_and_release_its_stderr(demo_cameras: Path, tmp_path: Path) -> None:
    run = Run.start(express_command(demo_cameras, tmp_path))
    assert run.wait_for(TRACKING, count=2), run.text
    workers = run.worker_pids()
    run.process.send_signal(signal.SIGKILL)
    assert run.finish() == -signal.SIGKILL  # stderr reached EOF: no orphan holds it
    assert wait_gone(workers) == []
    for camera in ("0_far", "1_near"):  # an orphan saves what it tracked before exiting
        if (tmp_path / camera / "mot.npz").exists():
            assert load_tracklet_file(tmp_path / camera / "mot.npz").info["complete"] is False


def test_sigterm_stops_the_ray_executor_and_its_tasks_save(demo_cameras: Path, tmp_path: Path) -> None:
    """Ray used to abort the driver on SIGTERM (exit 134), nothing saved; the tasks' logs never reached it."""
    pytest.importorskip("ray")
    ray = ("EXPRESS.EXECUTOR", "ray", "EXPRESS.RAY_NUM_CPUS", "1", "MOT.VIDEO_OUTPUT", "false")
    run = Run.start(chaos_express_command(demo_cameras, tmp_path, *ray))
    assert run.wait_for(TRACKING, count=2), run.text  # the tasks' log lines reach the driver's stderr
    run.process.send_signal(signal.SIGTERM)
    assert run.finish() == 143, run.text
    assert "stopping 2 Ray tasks" in run.text and "Traceback" not in run.text
    for camera in ("0_far", "1_near"):
        assert_saved_incomplete(tmp_path / camera, 252)
    assert "what was tracked so far is saved" in run.text and "0_far/mot.npz" in run.text
