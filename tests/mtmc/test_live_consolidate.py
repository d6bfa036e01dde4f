"""Consolidating live checkpoints with bounded memory: the same files ``save_all`` writes, open-track
snapshots superseded by later ones and by the finished record, kill -9 keeping open tracks.

Tracklets are the real ground-truth tracks of AI City S03 c010 with real ReID features (the
fixture of ``test_live_journal``); the kill -9 case runs the live runner on the demo cameras.
"""

from __future__ import annotations

import pickle
import signal
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import mtmc.live.consolidate as consolidate_module
from mot.storage import save_all
from mot.tracklet import Tracklet
from mot.tracklet_file import load_tracklet_file
from mtmc.live.consolidate import write_result_set
from mtmc.live.journal import INCOMPLETE, OPEN_NAME, Journal, iter_records, read_journal, record_table
from mtmc.live.session import recover
from tests.mtmc.chaos import Run
from tests.mtmc.test_live_faults import CAMERAS, live_command, saved_tracklets
from tests.mtmc.test_live_journal import SESSION, same, tracklets  # noqa: F401 (fixture)

INFO = {"session_id": SESSION, "run_id": SESSION, "live": True, "complete": True}


def with_features(tracks: list[Tracklet]) -> list[Tracklet]:
    """Sampled features as the live worker gives them: the mean feature at the first frame."""
    out = []
    for t in tracks:
        if t.mean_feature is not None:
            t = replace(t, features=t.mean_feature[None], feature_frames=t.frames[:1])
        out.append(replace(t, attributes={"color": "white" if t.track_id % 2 else "", "type": "car"}))
    return out


@pytest.fixture
def small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny batches, runs and merge blocks, so a test-sized journal crosses every boundary."""
    monkeypatch.setattr(consolidate_module, "BATCH", 5)
    monkeypatch.setattr(consolidate_module, "RUN_ROWS", 300)
    monkeypatch.setattr(consolidate_module, "MERGE_BLOCK", 64)
    monkeypatch.setattr(consolidate_module, "CACHED_RECORDS", 2)


def test_streamed_files_equal_the_batch_writers_files(
    tracklets: list[Tracklet],  # noqa: F811
    small_steps: None,
    tmp_path: Path,
) -> None:
    tracks = with_features(tracklets)
    journal = Journal(tmp_path / "live" / "live.journal", SESSION, "c010")
    for start in reversed(range(0, len(tracks), 3)):  # records out of track id order
        journal.append(tracks[start : start + 3])
    journal.close()
    (tmp_path / "live" / ".live-consolidate-killed").mkdir()  # left by a consolidation killed part-way
    written, count, scan = write_result_set(tmp_path / "live", "live", journal.path, INFO)
    assert count == len(tracks) and scan.records == journal.records and not scan.problem
    expected = save_all(tmp_path / "batch", "live", sorted(tracks, key=lambda t: t.track_id), info=INFO)
    for ours, theirs in zip(written, expected, strict=True):
        if ours.suffix in (".csv", ".txt"):
            assert ours.read_bytes() == theirs.read_bytes(), ours.name
    ours_table, theirs_table = load_tracklet_file(written[3]), load_tracklet_file(expected[3])
    assert same(ours_table.tracklets, theirs_table.tracklets)
    for a, b in zip(ours_table.tracklets, theirs_table.tracklets, strict=True):
        assert a.attributes == b.attributes and np.array_equal(a.features, b.features)
        assert (a.mean_feature is None) == (b.mean_feature is None)
    assert ours_table.info["checkpoint_records"] == journal.records and ours_table.info["complete"]
    with written[0].open("rb") as f:
        assert same(pickle.load(f), theirs_table.tracklets)
    assert not list((tmp_path / "live").glob(".live-consolidate-*"))  # temporary files removed


def test_per_frame_attributes_first_seen_in_a_later_batch_are_kept(
    tracklets: list[Tracklet],  # noqa: F811
    small_steps: None,
    tmp_path: Path,
) -> None:
    """Scheduled detection marks each box's source; batches differ in which attributes they carry."""
    tracks = [replace(t, frame_attributes=dict(t.frame_attributes)) for t in with_features(tracklets)]
    for i, t in enumerate(tracks):
        if i >= len(tracks) // 2:  # only later records carry box sources
            t.frame_attributes["box_source"] = (np.arange(len(t)) % 3).astype(np.uint8)
        if i % 4 == 1:
            t.frame_attributes["speed"] = np.linspace(0.0, 40.0, len(t))
    journal = Journal(tmp_path / "live" / "live.journal", SESSION, "c010")
    for start in range(0, len(tracks), 3):
        journal.append(tracks[start : start + 3])
    journal.close()
    written, _, _ = write_result_set(tmp_path / "live", "live", journal.path, INFO)
    expected = save_all(tmp_path / "batch", "live", sorted(tracks, key=lambda t: t.track_id), info=INFO)
    ours, theirs = load_tracklet_file(written[3]).tracklets, load_tracklet_file(expected[3]).tracklets
    assert sum("box_source" in t.frame_attributes for t in ours) == len(tracks) - len(tracks) // 2
    for a, b in zip(ours, theirs, strict=True):
        assert a.frame_attributes.keys() == b.frame_attributes.keys()
        for name, values in a.frame_attributes.items():
            assert np.array_equal(values, b.frame_attributes[name]), (a.track_id, name)
    assert written[1].read_bytes() == expected[1].read_bytes()  # the CSV carries the speeds


def test_a_snapshot_is_superseded_by_the_next_one_and_by_the_finished_record(
    tracklets: list[Tracklet],  # noqa: F811
    tmp_path: Path,
) -> None:
    long = sorted(tracklets, key=len)[-3:]  # open tracks: their first halves, then more
    journal = Journal(tmp_path / "live.journal", SESSION, "c010")
    journal.write_open([first_boxes(t, 5) for t in long])
    journal.write_open(
        [first_boxes(t, len(t) // 2) for t in long]
    )  # replaces the first snapshot: the file holds one record
    assert len(list(iter_records(journal.open_path))) == 1
    journal.append([long[0]])  # the first track finished after the last snapshot
    journal.close()
    written, count, _ = write_result_set(tmp_path, "live", journal.path, INFO)
    table = {t.track_id: t for t in load_tracklet_file(written[3]).tracklets}
    assert count == 3 and sorted(table) == sorted(t.track_id for t in long)
    finished = table[long[0].track_id]
    assert len(finished) == len(long[0]) and INCOMPLETE not in finished.attributes
    for t in long[1:]:  # still open: the latest snapshot, marked incomplete
        assert len(table[t.track_id]) == len(t) // 2 and table[t.track_id].attributes[INCOMPLETE] is True
    journal.write_open([])  # no open track left: no snapshot file
    assert not journal.open_path.exists()


def test_a_kill_9_keeps_the_open_tracks_of_the_last_checkpoint(demo_cameras: Path, tmp_path: Path) -> None:
    """Before, tracks still open at a kill -9 (a parked vehicle's) were lost entirely."""
    run = Run.start(live_command(tmp_path))
    saved_tracklets(run)  # checkpoints are being written (every second)
    snapshot = tmp_path / CAMERAS[0] / OPEN_NAME
    assert wait_for_file(snapshot, run, 60.0), run.text  # some vehicle is on screen within a minute
    run.process.send_signal(signal.SIGKILL)
    run.finish()
    (_, payload), *_ = list(iter_records(snapshot))
    open_ids = {t.track_id: len(t) for t in record_table(payload, str(snapshot)).tracklets}
    assert open_ids
    recover(tmp_path)
    table = {t.track_id: t for t in load_tracklet_file(tmp_path / CAMERAS[0] / "live.npz").tracklets}
    for track_id, boxes in open_ids.items():  # each open track: its snapshot, or its finished record
        assert track_id in table and len(table[track_id]) >= boxes
    assert any(t.attributes.get(INCOMPLETE) for t in table.values())
    assert not snapshot.exists()


def first_boxes(t: Tracklet, n: int) -> Tracklet:
    return replace(t, frames=t.frames[:n], bboxes=t.bboxes[:n], scores=t.scores[:n])


def wait_for_file(path: Path, run: Run, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end and run.process.poll() is None:
        if path.is_file():
            return True
        time.sleep(0.2)
    return False


def test_a_failed_append_does_not_leave_a_torn_record_before_the_next(
    tracklets: list[Tracklet],  # noqa: F811
    tmp_path: Path,
) -> None:
    """A file-size limit makes the write fail part-way (EFBIG), as a full disk does (ENOSPC)."""
    import resource

    journal = Journal(tmp_path / "live.journal", SESSION, "c010")
    journal.append(tracklets[:2])
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (journal.path.stat().st_size + 100, hard))
    try:
        with pytest.raises(OSError):
            journal.append(tracklets[2:6])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    journal.append(tracklets[6:8])  # the next checkpoint, once there is room again
    journal.close()
    found = read_journal(journal.path)
    assert not found.problem and same(found.tracklets, tracklets[:2] + tracklets[6:8])
