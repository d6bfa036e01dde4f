"""Camera layout files in both formats; errors name file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from config.layout import LayoutError, parse_layout

LINES = """\
# S02-like layout: four cameras at one intersection
0 1 -5 5      # overlapping views: the vehicle may appear in 1 before it leaves 0
1 0 -5 5
0 2 2.0 10.0
2 3 1 inf
fps 10 10 10 10
offset -2.5 -2.5 -1.7 -2.0
scale 1 1 2 1
"""

SECTIONED = """\
## the original project's format
fps
10.0 10.0 10.0 10.0

offset
-2.5 -2.5 -1.7 -2.0

scales
1 1 2 1

compatibility
0 1 1 0
1 0 0 0
0 0 0 1
0 0 0 0

dtmin
0 -5 2 0
-5 0 0 0
0 0 0 1
0 0 0 0

dtmax
0 5 10 0
5 0 0 0
0 0 0 inf
0 0 0 0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "layout.txt"
    path.write_text(text)
    return path


def test_line_format(tmp_path: Path) -> None:
    layout = parse_layout(write(tmp_path, LINES))
    assert layout.n_cams == 4
    np.testing.assert_array_equal(layout.fps, [10, 10, 10, 10])
    np.testing.assert_array_equal(layout.offset, [-2.5, -2.5, -1.7, -2.0])
    np.testing.assert_array_equal(layout.scale, [1, 1, 2, 1])
    expected_allowed = np.zeros((4, 4), bool)
    expected_allowed[[0, 1, 0, 2], [1, 0, 2, 3]] = True
    np.testing.assert_array_equal(layout.allowed, expected_allowed)
    assert (layout.min_gap[0, 1], layout.max_gap[0, 1]) == (-5.0, 5.0)
    assert (layout.min_gap[2, 3], layout.max_gap[2, 3]) == (1.0, np.inf)
    assert not layout.allowed[3, 2]  # transitions are directional; no line, no transition


def test_both_formats_give_the_same_layout(tmp_path: Path) -> None:
    a = parse_layout(write(tmp_path, LINES))
    b = parse_layout(write(tmp_path, SECTIONED))
    for name in ("fps", "offset", "scale", "allowed"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(a.min_gap[a.allowed], b.min_gap[b.allowed])
    np.testing.assert_array_equal(a.max_gap[a.allowed], b.max_gap[b.allowed])


def test_global_time_uses_fps_scale_and_offset(tmp_path: Path) -> None:
    layout = parse_layout(write(tmp_path, LINES))
    # t = frame / fps / scale + offset
    assert layout.global_time(0, 100) == pytest.approx(100 / 10 / 1 - 2.5)
    assert layout.global_time(2, 100) == pytest.approx(100 / 10 / 2 - 1.7)
    np.testing.assert_allclose(layout.global_time(np.array([0, 3]), np.array([10, 20])), [1 - 2.5, 2 - 2.0])


def test_defaults_for_offset_and_scale_and_camera_names(tmp_path: Path) -> None:
    layout = parse_layout(
        write(tmp_path, "entrance lot 3 30\nlot lot 60 600\nfps 25 30\n"), ["entrance", "lot"]
    )
    np.testing.assert_array_equal(layout.offset, [0, 0])
    np.testing.assert_array_equal(layout.scale, [1, 1])
    assert layout.allowed[0, 1] and layout.allowed[1, 1] and not layout.allowed[0, 0]
    assert layout.min_gap[1, 1] == 60  # explicit re-entry into the same camera


def test_layout_arrays_are_read_only(tmp_path: Path) -> None:
    layout = parse_layout(write(tmp_path, LINES))
    with pytest.raises(ValueError, match="read-only"):
        layout.allowed[0, 0] = True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 1 5 2\nfps 30 30\n", r"layout.txt:1: min_s 5 is larger than max_s 2"),
        ("0 1 0 2\n0 1 1 3\nfps 30 30\n", r"layout.txt:2: transition 0 -> 1 given twice \(first at line 1\)"),
        ("0 1 0\nfps 30 30\n", r"layout.txt:1: expected 'cam_from cam_to min_s max_s'"),
        ("0 1 0 x\nfps 30 30\n", r"layout.txt:1: expected a number, got 'x'"),
        ("0 1 0 2\n", r"layout.txt: missing the 'fps' line"),
        ("# nothing\n\n", r"layout.txt: the camera layout is empty"),
        ("0 5 0 2\nfps 30 30\n", r"layout.txt:1: camera 5 is out of range for 2 cameras"),
        ("0 1 0 2\nfps 30 30\noffset 1 2 3\n", r"layout.txt:3: 'offset' has 3 values, expected 2"),
        ("0 1 0 2\nfps 30 0\n", r"layout.txt:2: every fps must be a positive number"),
        ("a b 0 2\nfps 30 30\n", r"layout.txt:1: unknown camera 'a'"),
        ("0 1 0 2\nfps 30 30\nfps 30 30\n", r"layout.txt:3: 'fps' given twice \(first at line 2\)"),
        ("fps\n10 10\ncompatibility\n0 1\n1 0\ndtmin\n0 0\n0 0\n", r"layout.txt: missing section\(s\) dtmax"),
        (
            "fps\n10 10\ncompatibility\n0 1\n1 0\ndtmin\n0 0\ndtmax\n0 1\n1 0\n",
            r"layout.txt:6: 'dtmin' must be a 2x2 matrix",
        ),
        ("fps\n10 10\nbogus\ncompatibility\n0 1\n1 0\n", r"layout.txt:3: expected a number, got 'bogus'"),
    ],
)
def test_bad_layouts_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(LayoutError, match=message):
        parse_layout(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match="cannot read camera layout"):
        parse_layout(tmp_path / "nope.txt")
