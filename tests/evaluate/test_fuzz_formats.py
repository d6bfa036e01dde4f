"""Fuzzing the ground-truth readers: MOTChallenge text, AI City multi-camera text, UA-DETRAC XML.

Arbitrary bytes and near-valid files must give ``BoxRows`` or an ``AnnotationError`` naming
the file, never another exception. Seeded and bounded.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluate.formats import (
    AnnotationError,
    BoxRows,
    read_aic_ground_truth,
    read_detrac_xml,
    read_ground_truth,
    read_mot_challenge,
)

FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
READERS = {
    "mot": read_mot_challenge,
    "aic": read_aic_ground_truth,
    "gt": read_ground_truth,
    "xml": read_detrac_xml,
}


@pytest.fixture(scope="module")
def scratch() -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def read_or_clean_error(reader: str, path: Path) -> BoxRows | None:
    try:
        rows = READERS[reader](path)
    except AnnotationError as err:
        assert str(path) in str(err)
        return None
    assert np.isfinite(rows.xywh).all()
    assert len(rows.frame) == len(rows.track_id) == len(rows.xywh) == len(rows.camera)
    return rows


@FUZZ
@given(data=st.binary(max_size=400), reader=st.sampled_from(sorted(READERS)))
def test_arbitrary_bytes(scratch: Path, data: bytes, reader: str) -> None:
    path = scratch / ("bytes.xml" if reader == "xml" else "bytes.txt")
    path.write_bytes(data)
    read_or_clean_error(reader, path)


cells = st.one_of(
    st.integers(-3, 50).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "x", "car", "nan", "1e400", "-1", "1.5", " 3 ", "0x1f", "9" * 25]),
)


@FUZZ
@given(
    rows=st.lists(st.lists(cells, min_size=5, max_size=10), max_size=6),
    sep=st.sampled_from([",", " ", "\t", ", "]),
    blank_lines=st.booleans(),
    reader=st.sampled_from(["mot", "aic", "gt"]),
)
def test_near_valid_text(scratch: Path, rows: list, sep: str, blank_lines: bool, reader: str) -> None:
    joiner = "\n\n" if blank_lines else "\n"
    path = scratch / "near.txt"
    path.write_text(joiner.join(sep.join(row) for row in rows) + "\n")
    read_or_clean_error(reader, path)


attribute_values = st.one_of(
    st.integers(-2, 20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "x", "1.5", "1e400"]),
)


def element(tag: str, attrs: dict[str, str], inner: str = "") -> str:
    text = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
    return f"<{tag} {text}>{inner}</{tag}>"


box_attrs = st.dictionaries(st.sampled_from(["left", "top", "width", "height"]), attribute_values, max_size=4)


@FUZZ
@given(
    frames=st.lists(
        st.tuples(
            st.dictionaries(st.just("num"), attribute_values, max_size=1),
            st.lists(
                st.tuples(
                    st.dictionaries(st.just("id"), attribute_values, max_size=1), st.none() | box_attrs
                ),
                max_size=3,
            ),
        ),
        max_size=4,
    ),
    ignored=st.lists(box_attrs, max_size=2),
)
def test_near_valid_detrac_xml(scratch: Path, frames: list, ignored: list) -> None:
    body = element("ignored_region", {}, "".join(element("box", b) for b in ignored))
    for frame_attrs, targets in frames:
        inner = "".join(
            element("target", t, "" if box is None else element("box", box)) for t, box in targets
        )
        body += element("frame", frame_attrs, element("target_list", {}, inner))
    path = scratch / "near.xml"
    path.write_text(f'<?xml version="1.0"?><sequence name="s">{body}</sequence>')
    read_or_clean_error("xml", path)


def test_the_real_files_still_read(shared: Path) -> None:
    """The readers the fuzz hardens still read the reference data."""
    assert len(read_or_clean_error("xml", shared / "data" / "traffic" / "MVI_20011.xml")) == 5
    aic = read_or_clean_error("aic", shared / "data" / "aic_s02" / "ground_truth_S02.txt")
    assert len(aic) == 20956 and set(np.unique(aic.camera)) == {0, 1, 2, 3}
    gt = read_or_clean_error("gt", shared / "data" / "aic_s03_c010" / "gt.txt")
    assert len(gt) > 0 and gt.frame.min() >= 1
