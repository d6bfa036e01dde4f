"""Fuzzing the tracklet readers: .npz (canonical), CSV and MOTChallenge text.

Arbitrary bytes, damaged copies of a real file and near-valid tables must give a
``TrackletTable`` or a ``TrackletFileError`` naming the file, never another exception.
Seeded and bounded: the same examples every run, a few seconds in all.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mot.exports import save_csv, save_mot_txt
from mot.storage import load_tracklets
from mot.tracklet import Tracklet
from mot.tracklet_file import TrackletFileError, TrackletTable, save_tracklets

FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def sample_tracklets() -> list[Tracklet]:
    rng = np.random.default_rng(0)
    return [
        Tracklet(
            track_id=i + 1,
            camera=0,
            frames=np.arange(i, i + 4),
            bboxes=rng.uniform(0, 100, (4, 4)).astype(np.float32),
            scores=np.full(4, 0.9, np.float32),
            features=rng.normal(size=(2, 8)).astype(np.float32),
            feature_frames=np.array([i, i + 2]),
            mean_feature=rng.normal(size=8).astype(np.float32),
            attributes={"color": "red"},
            frame_attributes={"speed": np.linspace(10, 20, 4)},
        )
        for i in range(3)
    ]


@pytest.fixture(scope="module")
def scratch() -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


@pytest.fixture(scope="module")
def valid_npz(scratch: Path) -> bytes:
    save_tracklets(scratch / "valid.npz", sample_tracklets(), info={"complete": True})
    return (scratch / "valid.npz").read_bytes()


def load_or_clean_error(path: Path) -> TrackletTable | None:
    try:
        table = load_tracklets(path)
    except TrackletFileError as err:
        assert str(path) in str(err)
        assert "allow_pickle" not in str(err)
        return None
    assert all(isinstance(t, Tracklet) for t in table.tracklets)
    return table


@FUZZ
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".npz", ".csv", ".txt"]))
def test_arbitrary_bytes(scratch: Path, data: bytes, suffix: str) -> None:
    path = scratch / f"bytes{suffix}"
    path.write_bytes(data)
    load_or_clean_error(path)


@FUZZ
@given(data=st.data())
def test_damaged_copies_of_a_real_file(scratch: Path, valid_npz: bytes, data: st.DataObject) -> None:
    blob = bytearray(valid_npz)
    cut = data.draw(st.integers(0, len(blob)))
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(blob) - 1), st.integers(0, 255)), max_size=8))
    for at, value in edits:
        blob[at] = value
    path = scratch / "damaged.npz"
    path.write_bytes(bytes(blob[: cut or len(blob)]))
    load_or_clean_error(path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
arrays = hnp.arrays(
    dtype=st.sampled_from([np.int64, np.float32, np.bool_, np.uint8, np.dtype("<U3")]),
    shape=hnp.array_shapes(min_dims=0, max_dims=2, max_side=5),
)


@FUZZ
@given(data=st.data())
def test_members_replaced_or_missing(scratch: Path, valid_npz: bytes, data: st.DataObject) -> None:
    with np.load(io.BytesIO(valid_npz)) as z:
        members = {k: z[k] for k in z.files}
    meta = json.loads(members["meta"].tobytes())
    for name in data.draw(st.lists(st.sampled_from(sorted(members)), max_size=3, unique=True)):
        if data.draw(st.booleans()):
            del members[name]
        else:
            members[name] = data.draw(arrays)
    if data.draw(st.booleans()):
        field = data.draw(
            st.sampled_from(["tracklets", "groups", "global_ids", "frame_attributes", "version"])
        )
        meta[field] = data.draw(json_values)
        members["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    path = scratch / "members.npz"
    np.savez(path, **members)
    load_or_clean_error(path)


cells = st.one_of(
    st.integers(-3, 50).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "x", "nan", "1e400", "-1", "1.5", " 3 ", '"', "NA", "null", "9" * 25]),
)


def table_text(rows: list[list[str]], sep: str) -> str:
    return "\n".join(sep.join(row) for row in rows) + "\n"


@FUZZ
@given(
    rows=st.lists(st.lists(cells, min_size=5, max_size=11), max_size=6),
    sep=st.sampled_from([",", " ", "\t"]),
)
def test_near_valid_mot_text(scratch: Path, rows: list[list[str]], sep: str) -> None:
    path = scratch / "near.txt"
    path.write_text(table_text(rows, sep))
    load_or_clean_error(path)


@FUZZ
@given(rows=st.lists(st.lists(cells, min_size=8, max_size=12), max_size=6), keep_header=st.booleans())
def test_near_valid_csv(scratch: Path, rows: list[list[str]], keep_header: bool) -> None:
    header = "frame,id,x,y,w,h,color,type,speed,plate" + (",camera,global_id" if keep_header else "")
    path = scratch / "near.csv"
    path.write_text(header + "\n" + table_text(rows, ","))
    load_or_clean_error(path)


def test_the_writers_output_reads_back(scratch: Path) -> None:
    """The fuzzed readers still read what the writers write (the fuzz must not only see garbage)."""
    tracklets = sample_tracklets()
    save_csv(scratch / "ok.csv", tracklets)
    save_mot_txt(scratch / "ok.txt", tracklets)
    save_tracklets(scratch / "ok.npz", tracklets)
    for name in ("ok.csv", "ok.txt", "ok.npz"):
        table = load_or_clean_error(scratch / name)
        assert table is not None and [len(t) for t in table.tracklets] == [4, 4, 4]
