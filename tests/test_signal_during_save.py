"""A stop signal that arrives while a batch runner saves at its normal finish waits for the save.

The child runs a real runner (``main`` of the tracker or the express runner) on short demo
videos in its own process, with an audit hook that sends the stop signal(s) to the process the
moment the save opens its first result file. The hook is a fault injector only: it decides when
the signal comes, nothing else. Before the fix the signal raised inside the save and left a
result set without its manifest (or without its files).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mot.manifest import read_manifest
from mot.tracklet_file import load_tracklet_file
from tests.conftest import EXAMPLES, REPO
from tests.mtmc.chaos import environment, express_argv, short_cameras

CHILD = """
import os, signal, sys
from pathlib import Path
stem, signals, runner, argv = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
todo = [int(s) for s in signals.split(",")]

def hook(event, args):
    name = Path(args[0]).name if event == "open" and isinstance(args[0], str) else ""
    if todo and name.startswith(f".{stem}.pkl."):
        while todo:  # every signal lands inside the save: the first as it starts, the others right after
            os.kill(os.getpid(), todo.pop(0))

sys.addaudithook(hook)
if runner == "mot":
    from mot.run_tracker import main
else:
    from mtmc.run_express_mtmc import main
sys.exit(main(argv))
"""


def run_child(stem: str, sigs: list[int], runner: str, argv: list[str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", CHILD, stem, ",".join(map(str, sigs)), runner, *argv]
    return subprocess.run(
        command, cwd=REPO, env=environment(), capture_output=True, text=True, timeout=600, check=False
    )


def tracker_argv(video: Path, out: Path) -> list[str]:
    config = str(EXAMPLES / "mot_intersection.yaml")
    return ["--config", config, "OUTPUT_DIR", str(out), "MOT.VIDEO", str(video), "MOT.VIDEO_OUTPUT", "false"]


def assert_complete_set(folder: Path, stem: str) -> None:
    manifest = read_manifest(folder / f"{stem}.manifest.json")
    assert manifest["complete"] is True
    for suffix in ("npz", "csv", "txt", "pkl"):
        assert f"{stem}.{suffix}" in manifest["files"] and (folder / f"{stem}.{suffix}").is_file()
    assert load_tracklet_file(folder / f"{stem}.npz").info["complete"] is True
    assert not list(folder.glob(f".{stem}.*.tmp"))


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_during_the_trackers_final_save_waits_for_complete_files(
    sig: signal.Signals, code: int, demo_cameras: Path, tmp_path: Path
) -> None:
    cameras = short_cameras(demo_cameras, tmp_path / "cams", 20)
    out = tmp_path / "out"
    done = run_child("mot", [sig], "mot", tracker_argv(cameras / "far.mp4", out))
    assert done.returncode == code, done.stderr
    assert f"{sig.name}: finishing camera 'far': its mot.* result set" in done.stderr
    assert_complete_set(out, "mot")
    assert f"stopped by {sig.name}; what was tracked so far is saved, complete, in {out}" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_second_signal_during_the_save_is_ignored_and_a_third_names_what_is_lost(
    demo_cameras: Path, tmp_path: Path
) -> None:
    cameras = short_cameras(demo_cameras, tmp_path / "cams", 20)
    argv = tracker_argv(cameras / "far.mp4", tmp_path / "two")
    two = run_child("mot", [signal.SIGINT, signal.SIGINT], "mot", argv)
    assert two.returncode == 130, two.stderr
    assert "SIGINT: already saving; send it again to force quit, losing camera 'far'" in two.stderr
    assert_complete_set(tmp_path / "two", "mot")
    argv = tracker_argv(cameras / "far.mp4", tmp_path / "three")
    three = run_child("mot", [signal.SIGINT] * 3, "mot", argv)
    assert three.returncode == 130, three.stderr
    assert "SIGINT again: quitting without finishing the save, losing camera 'far'" in three.stderr
    assert "left incomplete" in three.stderr
    assert not (tmp_path / "three" / "mot.manifest.json").exists()


def test_a_signal_during_the_express_multi_camera_save_waits_for_the_whole_set(
    demo_cameras: Path, tmp_path: Path
) -> None:
    cameras = short_cameras(demo_cameras, tmp_path / "cams", 20)
    out = tmp_path / "out"
    argv = express_argv(cameras, out, "EXPRESS.EXECUTOR", "sequential", "MOT.VIDEO_OUTPUT", "false")
    done = run_child("mtmc", [signal.SIGTERM], "express", argv)
    assert done.returncode == 143, done.stderr
    assert "SIGTERM: finishing the multi-camera mtmc.* result set" in done.stderr
    manifest = read_manifest(out / "mtmc.manifest.json")
    assert manifest["complete"] is True
    for camera in ("0_far", "1_near"):
        assert (out / camera / "mtmc.npz").is_file() and (out / camera / "mot.manifest.json").is_file()
    assert (out / "mtmc.npz").is_file()
    assert "what was tracked so far is saved, complete" in done.stderr
