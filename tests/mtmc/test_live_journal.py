"""The live checkpoint journal and session folders: torn tails, damage, consolidation, no reuse.

Tracklets are the real ground-truth tracks of AI City S03 c010 (``gt.txt``), with the
appearance features of real crops embedded by the demo's ReID model.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mot.exports import load_mot_txt
from mot.manifest import check_result_file
from mot.tracklet import Tracklet
from mot.tracklet_file import load_tracklet_file
from mtmc.live.journal import HEADER, Journal, read_journal
from mtmc.live.session import (
    SESSION_FILE,
    SessionCamera,
    consolidate,
    recover,
    session_folder,
    write_session,
)
from mtmc.live.worker import achieved_fps
from tools.recover_live import main as recover_main

SESSION = "20261207T000000Z-abcdef"


@pytest.fixture(scope="module")
def tracklets(shared: Path) -> list[Tracklet]:
    """Real tracks, each with the ReID feature of its first box's crop as its mean feature."""
    from reid.factory import build_embedder

    folder = shared / "data" / "aic_s03_c010"
    tracks = load_mot_txt(folder / "gt.txt").tracklets
    video = cv2.VideoCapture(str(folder / "c010_first100.mp4"))
    ok, frame = video.read()
    assert ok
    embedder = build_embedder()
    first = [t for t in tracks if t.frames[0] == 0]
    boxes = np.array([t.bboxes[0] for t in first], np.float32)
    boxes[:, 2:] += boxes[:, :2]
    crops = [frame[int(y0) : int(y1), int(x0) : int(x1)] for x0, y0, x1, y1 in boxes]
    for track, feature in zip(first, embedder.embed_crops(crops), strict=True):
        track.mean_feature = feature
    return tracks


def write_records(path: Path, tracklets: list[Tracklet], per_record: int = 4) -> list[int]:
    """The journal's size after each record."""
    journal = Journal(path, SESSION, "c010")
    sizes = []
    for start in range(0, len(tracklets), per_record):
        journal.append(tracklets[start : start + per_record])
        sizes.append(path.stat().st_size)
    journal.close()
    return sizes


def same(a: list[Tracklet], b: list[Tracklet]) -> bool:
    return [(t.track_id, t.frames.tolist(), t.bboxes.tobytes()) for t in a] == [
        (t.track_id, t.frames.tolist(), t.bboxes.tobytes()) for t in b
    ]


def test_every_record_round_trips_with_its_session_id(tracklets: list[Tracklet], tmp_path: Path) -> None:
    write_records(tmp_path / "live.journal", tracklets)
    found = read_journal(tmp_path / "live.journal")
    assert found.session_id == SESSION and found.records == 3 and not found.problem
    assert same(found.tracklets, tracklets)
    with_feature = [t for t in found.tracklets if t.mean_feature is not None]
    assert with_feature and all(np.isfinite(t.mean_feature).all() for t in with_feature)


@pytest.mark.parametrize("cut", [1, HEADER.size - 1, HEADER.size, HEADER.size + 7, -1])
def test_a_torn_last_record_is_skipped_and_reported(
    tracklets: list[Tracklet], tmp_path: Path, cut: int
) -> None:
    """A kill -9 inside ``append``: the file ends anywhere inside its last record."""
    path = tmp_path / "live.journal"
    sizes = write_records(path, tracklets)
    end = sizes[-1] - 1 if cut == -1 else sizes[-2] + cut
    path.write_bytes(path.read_bytes()[:end])
    found = read_journal(path)
    assert found.records == 2 and same(found.tracklets, tracklets[:8])
    assert found.skipped_bytes == end - sizes[-2] and "cut short" in found.problem


def test_a_damaged_record_ends_the_readable_part(tracklets: list[Tracklet], tmp_path: Path) -> None:
    path = tmp_path / "live.journal"
    sizes = write_records(path, tracklets)
    data = bytearray(path.read_bytes())
    data[sizes[0] + HEADER.size + 100] ^= 0xFF  # one flipped byte inside the second record
    path.write_bytes(bytes(data))
    found = read_journal(path)
    assert found.records == 1 and same(found.tracklets, tracklets[:4]) and "checksum" in found.problem


def test_consolidation_writes_the_batch_result_set(tracklets: list[Tracklet], tmp_path: Path) -> None:
    camera = SessionCamera("c010", "0_c010", "c010.mp4", 8.0)
    write_records(tmp_path / "0_c010" / "live.journal", tracklets[::-1])
    written = consolidate(tmp_path, SESSION, camera, complete=True)
    assert {p.name for p in written} == {"live.npz", "live.csv", "live.txt", "live.pkl"}
    manifest = check_result_file(tmp_path / "0_c010" / "live.npz")  # a verified result set
    assert manifest is not None and manifest["run_id"] == SESSION and manifest["complete"]
    table = load_tracklet_file(tmp_path / "0_c010" / "live.npz")
    assert table.info["session_id"] == SESSION and same(table.tracklets, tracklets)


def test_recovery_consolidates_a_dead_session_and_a_restart_never_reuses_its_folder(
    tracklets: list[Tracklet], tmp_path: Path
) -> None:
    camera = SessionCamera("c010", "0_c010", "c010.mp4", 8.0)
    write_session(tmp_path, SESSION, [camera], "running")
    record = json.loads((tmp_path / SESSION_FILE).read_text())
    record["pid"] = 2**22 + 1  # above the kernel's pid limit: no such process
    (tmp_path / SESSION_FILE).write_text(json.dumps(record))
    write_records(tmp_path / "0_c010" / "live.journal", tracklets)
    assert session_folder(tmp_path, "next") == tmp_path / "session_next"  # the old session stays
    assert recover_main([str(tmp_path)]) == 0  # tools/recover_live.py; the next live start does the same
    table = load_tracklet_file(tmp_path / "0_c010" / "live.npz")
    assert table.info["complete"] is False and same(table.tracklets, tracklets)
    assert json.loads((tmp_path / SESSION_FILE).read_text())["state"] == "saved"
    assert not (tmp_path / "0_c010" / "live.journal").exists()
    assert recover(tmp_path) == []  # done once


def test_a_session_folder_is_the_output_dir_only_when_it_holds_no_session(tmp_path: Path) -> None:
    assert session_folder(tmp_path, "a") == tmp_path
    (tmp_path / "0_cam").mkdir()
    (tmp_path / "0_cam" / "live.npz").write_bytes(b"")  # results of a session older than session files
    assert session_folder(tmp_path, "b") == tmp_path / "session_b"


def test_achieved_fps_counts_frames_per_second_of_wall_time() -> None:
    assert achieved_fps([]) == 0.0 and achieved_fps([3.0]) == 0.0
    # four frames each processed in 10 ms, one every 0.5 s: 2 fps achieved, not 100
    assert achieved_fps([10.0, 10.5, 11.0, 11.5]) == pytest.approx(2.0)
