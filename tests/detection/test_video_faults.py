"""Damaged videos: a corrupt stretch in the middle is skipped, counted and reported; a file that
does not declare its length reads as unknown. Inputs are real clips from ../shared, damaged here."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from detection.video import FrameReader, frame_number, iter_frames, probe_video
from mot.plan import camera_plan, format_camera
from mot.result_set import partly_read
from mot.run_tracker import main as run_tracker
from mot.tracklet_file import load_tracklet_file
from mtmc.express import CameraJob
from mtmc.run_express_mtmc import not_fully_read_code
from tests.conftest import EXAMPLES, INTERSECTION


def corrupt_copy(tmp_path: Path, where: float = 0.5, length: int = 20_000) -> Path:
    """A copy of the intersection clip with ``length`` bytes overwritten at ``where`` of its size."""
    data = bytearray(INTERSECTION.read_bytes())
    start = int(len(data) * where)
    data[start : start + length] = b"\x5a" * length
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(bytes(data))
    return path


def raw_mjpeg(tmp_path: Path, count: int = 12) -> Path:
    """Concatenated JPEGs: a real video file whose container declares no frame count."""
    cap = cv2.VideoCapture(str(INTERSECTION))
    path = tmp_path / "raw.mjpeg"
    with path.open("wb") as f:
        for _ in range(count):
            f.write(cv2.imencode(".jpg", cap.read()[1])[1].tobytes())
    cap.release()
    return path


@pytest.mark.parametrize(
    ("last", "msec", "fps", "expected"),
    [
        (121, 4066.7, 30.0, 122),  # on time
        (122, 4200.0, 30.0, 126),  # three frames lost before this one
        (104, 2533.3, 30.0, 105),  # a damaged frame with an earlier timestamp never goes back
        (10, 0.0, 30.0, 11),  # no timestamp: the next number
    ],
)
def test_frame_numbers_after_a_corrupt_stretch_follow_timestamps(
    last: int, msec: float, fps: float, expected: int
) -> None:
    assert frame_number(last, msec, fps) == expected


def test_a_corrupt_stretch_is_skipped_and_the_rest_is_read(shared: Path, tmp_path: Path) -> None:
    reader = iter_frames(str(corrupt_copy(tmp_path)))
    assert isinstance(reader, FrameReader)
    indices = [index for index, _ in reader]
    report = reader.report
    assert indices == sorted(set(indices)) and indices[-1] == 251  # read to the real end, numbers unique
    assert len(indices) > 200 and report.frames_read == len(indices)
    assert report.decode_errors > 0 and report.frames_skipped == 252 - len(indices)
    assert not report.fully_read and report.as_dict()["fully_read"] is False


def test_an_intact_video_reads_fully(shared: Path) -> None:
    reader = iter_frames(str(INTERSECTION))
    assert [i for i, _ in reader] == list(range(252))
    assert reader.report.fully_read and reader.report.as_dict()["frames_expected"] == 252


def test_a_file_without_a_frame_count_reads_as_unknown(shared: Path, tmp_path: Path) -> None:
    video = raw_mjpeg(tmp_path)
    assert probe_video(str(video)).frames == -1  # OpenCV says -9223372036854775808
    reader = iter_frames(str(video))
    assert len(list(reader)) == 12 and reader.report.fully_read
    plan = camera_plan(probe_mot(video), "raw", tmp_path)
    assert plan["video_info"]["frames"] is None
    assert "unknown number of frames" in format_camera(plan)


def probe_mot(video: Path):  # type: ignore[no-untyped-def]
    from config.loader import load_config

    return load_config(EXAMPLES / "mot_intersection.yaml", ["MOT.VIDEO", str(video)], mode="mot").MOT


def test_the_runner_tracks_past_a_corrupt_stretch_and_exits_3(
    shared: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    video = corrupt_copy(tmp_path)
    out = tmp_path / "out"
    args = ["--config", str(EXAMPLES / "mot_intersection.yaml"), "MOT.VIDEO", str(video)]
    assert run_tracker([*args, "MOT.VIDEO_OUTPUT", "false", "OUTPUT_DIR", str(out)]) == 3
    assert "the video was not fully read" in capfd.readouterr().err
    table = load_tracklet_file(out / "mot.npz")
    read = table.info["video_read"]
    assert not read["fully_read"] and read["decode_errors"] > 0 and read["frames_read"] > 200
    assert max(int(t.frames.max()) for t in table.tracklets) > 200  # frames after the damage are tracked
    manifest = json.loads((out / "mot.manifest.json").read_text())
    assert manifest["video_read"] == read and table.info["complete"]
    # express: a camera whose result set says so makes the run exit 3 (also when the set is reused)
    jobs = [CameraJob(0, "corrupt", out, probe_mot(video))]
    assert not_fully_read_code(jobs, set()) == 3 and not_fully_read_code(jobs, {0}) == 0
    assert partly_read(out) == read and partly_read(tmp_path) is None
