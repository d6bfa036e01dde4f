"""Copies of the c010 clip as other cameras would deliver it: other codecs, quality, frame size.

A schedule's loss against every-frame detection depends on the input's detections (a re-encoded
copy changes the detector's scores, and so which frames a vehicle is lost on), so the defaults
are checked on several encodings of the one labelled clip, not on the original alone. Each copy
holds the same 100 frames (frame k of a copy is frame k of the original, so ``gt.txt`` applies;
the 960x540 copy's boxes are scaled back by ``scale`` before scoring). Optionally a copy starts
``start`` frames late (the detection cadence then falls on other frames; the ground truth of the
skipped frames is dropped, every-frame detection is scored on the same frames).

Copies are written once into a cache directory (OpenCV's encoders, as ``bench/bench_realtime.py``
makes its ``mp4v`` copy), keyed by name.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2

from detection.video import iter_frames

REPO = Path(__file__).resolve().parent.parent
C010_VIDEO = REPO.parent / "shared" / "data" / "aic_s03_c010" / "c010_first100.mp4"
CACHE = Path(tempfile.gettempdir()) / "mtmc_c010_variants"


@dataclass(frozen=True)
class Encoding:
    """How a copy is written: OpenCV fourcc, file suffix, frame size (None: 1920x1080), quality."""

    fourcc: str
    suffix: str
    size: tuple[int, int] | None = None
    quality: int | None = None  # MJPEG quality 0-100 (other codecs ignore it)


ENCODINGS: dict[str, Encoding | None] = {
    "c010": None,  # the original (MPEG-4 part 2, as published)
    "c010-mp4v": Encoding("mp4v", "mp4"),  # bench/bench_realtime.py's copy
    "c010-vp8": Encoding("VP80", "webm"),
    "c010-mjpeg50": Encoding("MJPG", "avi", quality=50),
    "c010-540p": Encoding("mp4v", "mp4", size=(960, 540)),
}


@dataclass(frozen=True)
class C010Input:
    """One scored copy of c010: its video, the factor from its pixels to 1080p, its first frame."""

    name: str
    video: Path
    scale: float = 1.0
    start: int = 0

    @property
    def label(self) -> str:
        return self.name if self.start == 0 else f"{self.name} from frame {self.start}"


def c010_input(name: str, start: int = 0, cache: Path = CACHE) -> C010Input:
    """The copy ``name`` (one of ``ENCODINGS``), written into ``cache`` on first use."""
    encoding = ENCODINGS[name]
    if encoding is None:
        return C010Input(name, C010_VIDEO, 1.0, start)
    path = cache / f"{name}.{encoding.suffix}"
    if not path.is_file():
        write_copy(C010_VIDEO, path, encoding)
    scale = 1.0 if encoding.size is None else 1920 / encoding.size[0]
    return C010Input(name, path, scale, start)


def write_copy(
    source: Path, path: Path, encoding: Encoding, fps: float = 10.0, frames: int | None = None
) -> Path:
    """The frames of ``source`` (all, or the first ``frames``) re-encoded into ``path`` (written
    beside, then renamed: an interrupted run leaves no partial copy under the name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".partial-{os.getpid()}-{path.name}")  # runs in parallel do not mix
    size = encoding.size or (1920, 1080)
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*encoding.fourcc), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"{path}: OpenCV cannot write {encoding.fourcc} here")
    if encoding.quality is not None:
        writer.set(cv2.VIDEOWRITER_PROP_QUALITY, encoding.quality)
    try:
        for index, frame in iter_frames(str(source)):
            if frames is not None and index >= frames:
                break
            if frame.shape[1::-1] != size:
                frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            writer.write(frame)
    finally:
        writer.release()
    partial.replace(path)
    return path
