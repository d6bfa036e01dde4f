"""Tracklet files: exact round trips, safe loading, atomic writes."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from config.paths import atomic_write
from mot.exports import (
    PickleNotAllowedError,
    load_csv,
    load_mot_txt,
    load_pickle,
    save_csv,
    save_mot_txt,
    save_pickle,
)
from mot.storage import load_tracklets, save_all
from mot.tracklet import Tracklet
from mot.tracklet_file import TrackletFileError, load_tracklet_file, save_tracklets
from mtmc.multicam_tracklet import MulticamTracklet
from mtmc.storage import load_multicam, save_multicam


def make_tracklets(seed: int = 0, camera: int = 0, n: int = 6, dim: int = 16) -> list[Tracklet]:
    """Varied tracklets: with and without features, attributes, per-frame speed, zones."""
    rng = np.random.default_rng(seed)
    tracklets = []
    for i in range(n):
        length = int(rng.integers(1, 40))
        frames = np.sort(rng.choice(500, size=length, replace=False)).astype(np.int64)
        xy = rng.uniform(0, 900, size=(length, 2))
        wh = rng.uniform(5, 200, size=(length, 2))
        k = int(rng.integers(0, 4)) if i % 3 else 0
        feats = rng.normal(size=(k, dim)).astype(np.float32)
        mean = feats.mean(0) / np.linalg.norm(feats.mean(0)) if k else None
        attributes = (
            {"color": "white", "type": "car", "plate": "AB123C", "plate_conf": 0.875} if i % 2 else {}
        )
        frame_attributes = {"speed": rng.uniform(0, 90, size=length)} if i % 2 else {}
        if i == 1:
            frame_attributes["zone"] = rng.integers(0, 4, size=length)
        tracklets.append(
            Tracklet(
                track_id=i + 1 + 100 * camera,
                camera=camera,
                frames=frames,
                bboxes=np.hstack([xy, wh]).astype(np.float32),
                scores=rng.uniform(0.1, 1, size=length).astype(np.float32),
                class_id=int(rng.choice([2, 3, 5, 7])),
                features=feats,
                feature_frames=np.sort(rng.choice(frames, size=k, replace=False))
                if k
                else np.zeros(0, np.int64),
                mean_feature=mean,
                color_histogram=rng.dirichlet(np.ones(8)).astype(np.float32) if i % 3 == 1 else None,
                attributes=attributes,
                frame_attributes=frame_attributes,
                zone_path=[1, 3] if i == 1 else [],
            )
        )
    return tracklets


ALL_FIELDS = (
    "track_id",
    "camera",
    "class_id",
    "frames",
    "bboxes",
    "scores",
    "features",
    "feature_frames",
    "mean_feature",
    "color_histogram",
    "attributes",
    "zone_path",
    "frame_attributes",
)


def assert_same(a: Tracklet, b: Tracklet, fields: tuple[str, ...] = ALL_FIELDS) -> None:
    """Field-by-field equality, dtypes and shapes included."""
    for name in fields:
        x, y = getattr(a, name), getattr(b, name)
        if name == "frame_attributes":
            assert x.keys() == y.keys()
            pairs = [(x[k], y[k]) for k in x]
        elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            pairs = [(x, y)]
        else:
            assert x == y, name
            continue
        for u, v in pairs:
            assert u is not None and v is not None, name
            assert (u.dtype, u.shape) == (v.dtype, v.shape), name
            np.testing.assert_array_equal(u, v, err_msg=name)


def test_canonical_round_trip_is_exact(tmp_path: Path) -> None:
    tracklets = make_tracklets()
    # the sample covers tracklets with and without features, means and per-frame attributes
    assert {len(t.features) > 0 for t in tracklets} == {True, False}
    assert {t.mean_feature is None for t in tracklets} == {True, False}
    assert {bool(t.frame_attributes) for t in tracklets} == {True, False}
    path = tmp_path / "mot.npz"
    save_tracklets(path, tracklets)
    table = load_tracklet_file(path)
    assert table.global_ids is None
    assert len(table.tracklets) == len(tracklets)
    for a, b in zip(tracklets, table.tracklets, strict=True):
        assert_same(a, b)


def test_canonical_round_trip_of_empty_and_featureless_sets(tmp_path: Path) -> None:
    save_tracklets(tmp_path / "empty.npz", [])
    assert load_tracklet_file(tmp_path / "empty.npz").tracklets == []
    bare = [Tracklet(7, 2, [3, 4, 9], np.ones((3, 4)), [0.5, 0.6, 0.7])]
    save_tracklets(tmp_path / "bare.npz", bare)
    assert_same(bare[0], load_tracklet_file(tmp_path / "bare.npz").tracklets[0])


def test_canonical_file_refuses_mixed_dimensions_and_objects(tmp_path: Path) -> None:
    a = Tracklet(1, 0, [0], [[0, 0, 1, 1]], [1.0], features=np.ones((1, 8)), feature_frames=[0])
    b = Tracklet(2, 0, [0], [[0, 0, 1, 1]], [1.0], features=np.ones((1, 4)), feature_frames=[0])
    with pytest.raises(ValueError, match="different dimensions"):
        save_tracklets(tmp_path / "x.npz", [a, b])
    odd = Tracklet(1, 0, [0], [[0, 0, 1, 1]], [1.0], attributes={"when": object()})
    with pytest.raises(TypeError, match="object values cannot be stored"):
        save_tracklets(tmp_path / "y.npz", [odd])
    assert not (tmp_path / "y.npz").exists()


def test_multicam_round_trip(tmp_path: Path) -> None:
    cams = [make_tracklets(seed=s, camera=s, n=3) for s in range(3)]
    mtracks = [
        MulticamTracklet(10, [cams[0][0], cams[1][0]], {"plate": "XY99", "color": "red"}),
        MulticamTracklet(11, [cams[0][1], cams[1][1], cams[2][0]], {}),
        MulticamTracklet(12, [cams[2][1]], {"type": "bus"}),
    ]
    save_multicam(tmp_path / "mtmc.npz", mtracks)
    loaded = load_multicam(tmp_path / "mtmc.npz")
    assert [m.global_id for m in loaded] == [10, 11, 12]
    for a, b in zip(mtracks, loaded, strict=True):
        assert a.attributes == b.attributes
        for x, y in zip(a.tracklets, b.tracklets, strict=True):
            assert_same(x, y)
    with pytest.raises(TrackletFileError, match="without global ids"):
        save_tracklets(tmp_path / "mot.npz", cams[0])
        load_multicam(tmp_path / "mot.npz")


def test_pickle_round_trip_needs_explicit_opt_in(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tracklets = make_tracklets()
    path = tmp_path / "mot.pkl"
    save_pickle(path, tracklets)
    with pytest.raises(PickleNotAllowedError, match="executes code"):
        load_pickle(path)
    with pytest.raises(PickleNotAllowedError):
        load_tracklets(path)
    loaded = load_tracklets(path, allow_pickle=True).tracklets
    assert "only do this for files you trust" in caplog.text
    for a, b in zip(tracklets, loaded, strict=True):
        assert_same(a, b)


def test_csv_round_trip_of_what_csv_holds(tmp_path: Path) -> None:
    tracklets = make_tracklets()
    save_csv(tmp_path / "mot.csv", tracklets)
    header = (tmp_path / "mot.csv").read_text().splitlines()[0]
    assert header == "frame,id,x,y,w,h,color,type,speed,plate"
    loaded = load_csv(tmp_path / "mot.csv").tracklets
    by_id = {t.track_id: t for t in loaded}
    for t in tracklets:
        back = by_id[t.track_id]
        assert_same(t, back, ("track_id", "camera", "frames", "bboxes"))
        assert {k: v for k, v in t.attributes.items() if k in ("color", "type", "plate")} == back.attributes
        if "speed" in t.frame_attributes:
            np.testing.assert_array_equal(t.frame_attributes["speed"], back.frame_attributes["speed"])
        else:
            assert "speed" not in back.frame_attributes


def test_csv_with_global_ids_and_awkward_plates(tmp_path: Path) -> None:
    t = Tracklet(4, 1, [0, 1], [[1.5, 2.25, 10, 20]] * 2, [1, 1], attributes={"plate": "NA", "color": "null"})
    save_csv(tmp_path / "mtmc.csv", [t], global_ids=[77])
    rows = (tmp_path / "mtmc.csv").read_text().splitlines()
    assert rows[0] == "frame,id,x,y,w,h,color,type,speed,plate,camera,global_id"
    assert rows[1] == "1,4,1.5,2.25,10.0,20.0,null,,,NA,1,77"
    table = load_csv(tmp_path / "mtmc.csv")
    assert table.global_ids == [77]
    assert table.tracklets[0].attributes == {"plate": "NA", "color": "null"}
    assert table.tracklets[0].camera == 1


def test_mot_txt_round_trip_and_one_based_frames(tmp_path: Path) -> None:
    tracklets = make_tracklets()
    save_mot_txt(tmp_path / "mot.txt", tracklets)
    first = (tmp_path / "mot.txt").read_text().splitlines()[0].split(",")
    assert len(first) == 10 and first[7:] == ["-1", "-1", "-1"]
    assert int(first[0]) == min(int(t.frames.min()) for t in tracklets) + 1
    loaded = {t.track_id: t for t in load_mot_txt(tmp_path / "mot.txt").tracklets}
    for t in tracklets:
        assert_same(t, loaded[t.track_id], ("track_id", "frames", "bboxes", "scores"))


def test_mot_txt_reads_whitespace_separated_ground_truth(tmp_path: Path) -> None:
    (tmp_path / "gt.txt").write_text("1 5 10 20 30 40 1 -1 -1 -1\n2 5 11 21 30 40 1 -1 -1 -1\n")
    (t,) = load_mot_txt(tmp_path / "gt.txt", camera=3).tracklets
    assert (t.track_id, t.camera, t.frames.tolist()) == (5, 3, [0, 1])


def test_readers_name_the_file_on_bad_input(tmp_path: Path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(TrackletFileError, match=r"junk\.npz: not an \.npz archive") as err:
        load_tracklets(tmp_path / "junk.npz")
    assert "allow_pickle" not in str(err.value)  # numpy's advice to load it unsafely is not repeated
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(TrackletFileError, match=r"other\.npz: not a tracklet file"):
        load_tracklets(tmp_path / "other.npz")
    (tmp_path / "dup.txt").write_text("1,5,0,0,1,1,1\n1,5,0,0,1,1,1\n")
    with pytest.raises(TrackletFileError, match=r"dup\.txt: .*strictly increasing"):
        load_tracklets(tmp_path / "dup.txt")
    with pytest.raises(TrackletFileError, match=r"unknown tracklet file type '\.json'"):
        load_tracklets(tmp_path / "x.json")
    with pytest.raises(TrackletFileError, match="tracklet file not found"):
        load_tracklets(tmp_path / "missing.npz")


def test_newer_format_version_is_refused(tmp_path: Path) -> None:
    import json

    save_tracklets(tmp_path / "a.npz", make_tracklets(n=1))
    with np.load(tmp_path / "a.npz") as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["version"] = 99
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "b.npz", **arrays)
    with pytest.raises(TrackletFileError, match="version 99 is newer"):
        load_tracklet_file(tmp_path / "b.npz")


def test_save_all_writes_every_format(tmp_path: Path) -> None:
    paths = save_all(tmp_path / "out", "mot", make_tracklets())
    assert sorted(p.name for p in paths) == ["mot.csv", "mot.npz", "mot.pkl", "mot.txt"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert not list((tmp_path / "out").glob(".*tmp"))


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "result.txt"
    path.write_text("complete old result")
    with pytest.raises(RuntimeError), atomic_write(path, "w") as f:
        f.write("half of a new res")
        raise RuntimeError("crash mid-write")
    assert path.read_text() == "complete old result"
    assert list(tmp_path.iterdir()) == [path]


def test_killed_writer_leaves_no_complete_looking_file(tmp_path: Path) -> None:
    """SIGKILL in the middle of a large canonical write: the target name never appears."""
    target = tmp_path / "mot.npz"
    script = textwrap.dedent(f"""
        import sys, numpy as np
        from config.paths import atomic_write
        with atomic_write({str(target)!r}) as f:
            f.write(b"x" * 1_000_000)
            f.flush()
            print("writing", flush=True)
            sys.stdin.readline()   # blocks until killed
            f.write(b"y")
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    partial = list(tmp_path.glob(".mot.npz.*.tmp"))
    assert len(partial) == 1 and partial[0].stat().st_size == 1_000_000
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists()
    with pytest.raises(TrackletFileError):
        load_tracklets(partial[0].with_name("mot.npz"))


def test_tracklet_validates_its_arrays() -> None:
    with pytest.raises(ValueError, match=r"Tracklet 3 \(camera 1\).bboxes: expected 2 rows"):
        Tracklet(3, 1, [0, 1], [[0, 0, 1, 1]], [1, 1])
    with pytest.raises(ValueError, match="strictly increasing"):
        Tracklet(3, 1, [1, 1], [[0, 0, 1, 1]] * 2, [1, 1])
    with pytest.raises(ValueError, match=r"frame_attributes\['speed'\]: expected shape \(2,\)"):
        Tracklet(3, 1, [0, 1], [[0, 0, 1, 1]] * 2, [1, 1], frame_attributes={"speed": [1.0]})
    with pytest.raises(ValueError, match="features: expected shape"):
        Tracklet(3, 1, [0, 1], [[0, 0, 1, 1]] * 2, [1, 1], features=np.zeros((2, 4)), feature_frames=[0])
