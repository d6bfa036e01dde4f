"""Crop-view cameras: sizes, frame counts, pixels taken from the right place, a parseable layout."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from config.layout import parse_layout
from tools.make_crop_views import View, main, make_views, overlapping

INTERSECTION = "data/traffic/intersection_960x540.mp4"


def read_frames(path: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = [cap.read()[1] for _ in range(n)]
    cap.release()
    return frames


def test_views_are_crops_of_the_source(shared: Path, tmp_path: Path) -> None:
    views = [View.parse("top:0,0,0.5,0.5"), View.parse("bottom:0.5,0.5,0.5,0.5")]
    paths = make_views(str(shared / INTERSECTION), tmp_path, views, min_gap=0.0, max_gap=3.0)
    source = read_frames(shared / INTERSECTION, 30)[29]
    for path, (x0, y0, x1, y1) in zip(paths, [(0, 0, 480, 270), (480, 270, 960, 540)], strict=True):
        cap = cv2.VideoCapture(str(path))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 252
        assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (x1 - x0, y1 - y0)
        cap.release()
        crop = read_frames(path, 30)[29]
        expected = source[y0 : y0 + crop.shape[0], x0:x1]
        # mp4v is lossy: the crop matches its source region closely, and not a shifted region
        assert np.abs(crop.astype(float) - expected).mean() < 6
        shifted = source[y0 + 40 : y0 + 40 + crop.shape[0] - 40, x0:x1]
        assert np.abs(crop[:-40].astype(float) - shifted).mean() > 10
    layout = parse_layout(tmp_path / "layout.txt", ["top", "bottom"])
    assert layout.allowed.tolist() == [[False, True], [True, False]]
    assert (layout.min_gap[0, 1], layout.max_gap[0, 1]) == (0.0, 3.0)
    assert layout.fps.tolist() == [30.0, 30.0]
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize("text", ["a:0,0,1.5,1", "a:0,0,1", "nocolon"])
def test_bad_views_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="view"):
        View.parse(text)


def test_overlapping_views_are_refused(tmp_path: Path, shared: Path) -> None:
    assert overlapping([View.parse("a:0,0,0.6,1"), View.parse("b:0.5,0,0.5,1")]) == ("a", "b")
    code = main(
        [
            "--video",
            str(shared / INTERSECTION),
            "--out",
            str(tmp_path),
            "--views",
            "a:0,0,0.6,1",
            "b:0.5,0,0.5,1",
        ]
    )
    assert code == 2 and not list(tmp_path.iterdir())
