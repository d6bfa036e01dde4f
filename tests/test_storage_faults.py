"""Storage faults and shared output folders: full or read-only disks, two runs on one folder, leftovers.

The faults are real: a 4 KB tmpfs (ENOSPC) and a read-only bind mount (EROFS) need root and
``mount``; those tests are skipped where mounting is not allowed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.loader import load_config
from config.run_lock import LOCK_NAME
from mot.manifest import remove_set, write_manifest
from mot.result_set import completed_result
from mot.tracklet_file import load_tracklet_file
from tests.conftest import EXAMPLES, REPO
from tests.mtmc.chaos import Run, environment, express_command, short_cameras

MVI = "data/traffic/MVI_20011"


def runner(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), cwd=REPO, env=environment(), capture_output=True, text=True, timeout=timeout
    )


def tracker(shared: Path, out: Path, *extra: str) -> list[str]:
    """The single-camera runner on the 9 MVI frames, then ``extra`` (options or KEY VALUE pairs)."""
    config = str(EXAMPLES / "mot_intersection.yaml")
    overrides = ["MOT.VIDEO", str(shared / MVI), "OUTPUT_DIR", str(out)]
    return [sys.executable, "mot/run_tracker.py", "--config", config, *overrides, *extra]


@contextlib.contextmanager
def mounted(target: Path, *options: str) -> Iterator[None]:
    """``mount <options> target`` for each of ``options`` (TARGET stands for it), unmounted afterwards;
    skips the test where mounting is refused."""
    target.mkdir(parents=True, exist_ok=True)
    for command in options:
        args = [str(target) if word == "TARGET" else word for word in command.split()]
        proc = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
        if proc.returncode:
            subprocess.run(["umount", str(target)], capture_output=True)
            pytest.skip(f"cannot mount here ({proc.stderr.strip()})")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], check=True)


@pytest.fixture
def cameras(demo_cameras: Path, tmp_path: Path) -> Path:
    return short_cameras(demo_cameras, tmp_path / "cams", 20)


def express(cameras: Path, out: Path, *extra: str) -> list[str]:
    return express_command(
        cameras, out, "MOT.VIDEO_OUTPUT", "false", "EXPRESS.EXECUTOR", "sequential", *extra
    )


FULL = ["-t tmpfs -o size=4k tmpfs"]  # a 4 KB tmpfs: the first results file fills it
READ_ONLY = ["--bind TARGET", "-o remount,ro,bind"]


@pytest.mark.parametrize(
    ("options", "executor", "expected"),
    [
        (FULL, "sequential", "/mot.pkl: No space left on device (the disk is full"),
        (FULL, "batched", "/mot.pkl: No space left on device (the disk is full"),
        (READ_ONLY, "sequential", "/mot.manifest.json: Read-only file system (the file system is read-only"),
    ],
    ids=["full", "full-batched", "read-only"],
)
def test_a_camera_folder_that_cannot_be_written(
    options: list[str], executor: str, expected: str, cameras: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with mounted(out / "1_near", *options):
        proc = runner(*express(cameras, out, "EXPRESS.EXECUTOR", executor))
    assert proc.returncode == 1, proc.stderr
    assert f"cannot write {out / '1_near'}{expected}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "trying again" not in proc.stderr and "one by one" not in proc.stderr  # not retried
    table = load_tracklet_file(out / "0_far" / "mot.npz")  # the other camera is saved, complete
    assert table.info["complete"] and table.tracklets and (out / "0_far" / "mot.manifest.json").is_file()


def test_a_second_run_on_one_folder_is_refused_naming_the_first(
    demo_cameras: Path, cameras: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = Run.start(express(demo_cameras, out))  # whole demo videos: busy for minutes
    try:
        assert first.wait_for("tracking 2 cameras"), first.text
        second = runner(*express(cameras, out))
        assert second.returncode == 2, second.stderr
        assert f"OUTPUT_DIR {out} is in use by another run (pid {first.process.pid}" in second.stderr
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=600) == 143, first.text
    finally:
        if first.process.poll() is None:
            first.process.kill()
    again = runner(*express(cameras, out, "--dry-run"))  # released by the first run's exit
    assert again.returncode == 0, again.stderr


def test_a_dead_runs_lock_and_temporary_files_are_cleared_at_start(shared: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "0_far").mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    (out / LOCK_NAME).write_text(f'{{"pid": {gone.pid}, "command": "express"}}\n')
    leftovers = [out / ".mot.npz.0123456789ab.tmp", out / "0_far" / ".mot.mp4.abcdef012345.tmp.mp4"]
    kept = [out / "notes.tmp", out / "0_far" / ".hidden.tmp"]  # the user's: not our names
    for path in leftovers + kept:
        path.write_bytes(b"x")
    proc = runner(*tracker(shared, out, "--dry-run"))
    assert proc.returncode == 0, proc.stderr
    assert f"taking over the lock of an earlier run (pid {gone.pid}, express" in proc.stderr
    assert not any(p.exists() for p in leftovers) and all(p.exists() for p in kept)


def test_a_result_set_removes_only_the_files_its_manifest_lists(tmp_path: Path) -> None:
    out, user = tmp_path / "out", tmp_path / "users_folder"
    (out / "0_far").mkdir(parents=True)
    user.mkdir()
    (out / "1_near").symlink_to(user)
    ours = [out / "0_far" / "mtmc.npz", out / "0_far" / "mtmc.csv"]
    theirs = [user / "mtmc.csv", out / "0_far" / "mtmc.json"]
    for path in ours + theirs:
        path.write_text("rows")
    write_manifest(out, "mtmc", ours, run_id="r", command="express", fingerprint="f", complete=True)
    assert sorted(remove_set(out, "mtmc")) == sorted(ours)
    assert all(p.exists() for p in theirs) and not (out / "mtmc.manifest.json").exists()


def test_a_replaced_model_file_is_not_resumed(shared: Path, tmp_path: Path) -> None:
    model = tmp_path / "models" / "reid.onnx"
    model.parent.mkdir()
    shutil.copy(shared / "models" / "mobilenetv2_imagenet_features.onnx", model)
    out = tmp_path / "out"
    args = tracker(shared, out, "MOT.REID_ONNX", str(model))
    proc = runner(*args)
    assert proc.returncode == 0, proc.stderr
    cfg = load_config(EXAMPLES / "mot_intersection.yaml", args[4:])
    assert completed_result(out, cfg.MOT) is not None
    shutil.copy(shared / "models" / "yolox_nano.onnx", model)  # another network, same path and name
    os.utime(model, ns=(0, 10**18))
    assert completed_result(out, cfg.MOT) is None


def test_live_first_camera_unwritable_the_others_still_saved(demo_cameras: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    live = [sys.executable, "mtmc/run_live_mtmc.py", "--config", str(EXAMPLES / "live_demo.yaml")]
    with mounted(out / "0_cam_a", *READ_ONLY):
        proc = runner(*live, "OUTPUT_DIR", str(out), "LIVE.MJPEG_PORT", "0", "LIVE.DURATION", "5")
    assert proc.returncode == 1, proc.stderr
    assert f"cannot write {out / '0_cam_a'}/live." in proc.stderr and "Traceback" not in proc.stderr
    assert load_tracklet_file(out / "1_cam_b" / "live.npz").info["camera"] == "cam_b"
