"""Chaos: an express run killed with SIGKILL at seeded random points; the next run equals a clean run.

After each kill every result file is either refused by the readers (its set has no or a
stale manifest) or part of a verified set, and no pool worker outlives the killed driver.
``bench/bench_chaos.py`` runs many more points.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import cv2
import pytest

from mot.manifest import check_result_file, read_manifest
from tests.mtmc.chaos import (
    consistent_or_refused,
    express_command,
    kill_at,
    kill_points,
    run_to_end,
    short_cameras,
    snapshot,
    wait_gone,
)

SEED = 12
POINTS = 5
FRAMES = 20


@pytest.fixture(scope="module")
def cameras(demo_cameras: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return short_cameras(demo_cameras, tmp_path_factory.mktemp("short"), FRAMES)


@pytest.fixture(scope="module")
def clean(cameras: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, float]:
    out = tmp_path_factory.mktemp("clean")
    start = time.monotonic()
    done = run_to_end(express_command(cameras, out))
    assert done.returncode == 0, done.stderr
    return snapshot(out), time.monotonic() - start


def test_a_killed_express_run_resumes_to_the_clean_result(
    cameras: Path, clean: tuple[dict, float], tmp_path: Path
) -> None:
    expected, seconds = clean
    assert any(len(ids) for _, ids, _, _ in (expected["0_far"], expected["1_near"]))  # type: ignore[misc]
    out = tmp_path / "out"
    for i, point in enumerate(kill_points(SEED, POINTS, seconds)):
        if point.fresh:
            shutil.rmtree(out, ignore_errors=True)
        command = express_command(cameras, out, "MOT.VIDEO_OUTPUT", "true")
        killed = kill_at(command, out, point)
        killed.finish()  # returns: no orphaned worker holds the driver's stderr
        assert wait_gone(killed.worker_pids()) == [], f"point {i} {point}: workers outlived the driver"
        consistent_or_refused(out)  # raises on anything but a clean refusal
        done = run_to_end(command)
        assert done.returncode == 0, f"point {i} {point}:\n{done.stderr}"
        assert "Traceback" not in done.stderr
        assert snapshot(out) == expected, f"point {i} {point}: results differ from the clean run's"
        for camera in ("0_far", "1_near"):
            check_result_file(out / camera / "mtmc.txt")  # a verified, complete set
            manifest = read_manifest(out / camera / "mot.manifest.json")
            assert manifest["complete"] and "mot.mp4" in manifest["files"]  # written on resume too
            video = cv2.VideoCapture(str(out / camera / "mot.mp4"))
            assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
