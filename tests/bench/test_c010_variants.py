"""bench/c010_variants.py: re-encoded copies of the real c010 clip keep its frames in order."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.c010_variants import ENCODINGS, C010Input, c010_input, write_copy
from detection.video import iter_frames, probe_video

FRAMES = 4


def _frames(path: Path) -> list[np.ndarray]:
    return [frame.astype(np.int16) for index, frame in iter_frames(str(path)) if index < FRAMES]


@pytest.mark.parametrize("name", ["c010-mp4v", "c010-mjpeg50", "c010-540p"])
def test_a_copy_holds_the_same_frames_in_order(shared: Path, tmp_path: Path, name: str) -> None:
    """Frame k of a copy is closest to frame k of the original (so gt.txt applies unchanged)."""
    source = shared / "data" / "aic_s03_c010" / "c010_first100.mp4"
    encoding = ENCODINGS[name]
    assert encoding is not None
    path = write_copy(source, tmp_path / f"{name}.{encoding.suffix}", encoding, frames=FRAMES)
    info = probe_video(str(path))
    assert (info.width, info.height) == (encoding.size or (1920, 1080))
    original, copy = _frames(source), _frames(path)
    assert len(copy) == FRAMES
    if encoding.size is not None:  # compare at the copy's size
        original = [cv2.resize(f.astype(np.uint8), encoding.size).astype(np.int16) for f in original]
    for k, frame in enumerate(copy):
        errors = [float(np.abs(frame - other).mean()) for other in original]
        assert int(np.argmin(errors)) == k
        assert errors[k] < 8.0  # a lossy copy, not another picture
    assert not list(tmp_path.glob(".partial-*"))


def test_inputs_name_their_scale_and_start(tmp_path: Path) -> None:
    original = c010_input("c010", start=3, cache=tmp_path)
    assert original.scale == 1.0 and original.video.name == "c010_first100.mp4"
    assert original.label == "c010 from frame 3" and C010Input("c010", original.video).label == "c010"
    assert not list(tmp_path.iterdir())  # the original is never copied
    with pytest.raises(KeyError):
        c010_input("c016")
