"""Crops and camera thumbnails for the report, cut from the camera videos and written as JPEG files.

Each video is read once, in frame order, jumping ahead by seeking when the next wanted frame
is far away, so a report costs about one pass over the frames it shows.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from config.paths import atomic_write
from detection.video import image_files

log = logging.getLogger(__name__)
SEEK_GAP = 250  # frames: decoding up to this many is cheaper than a (keyframe) seek
CROP_HEIGHT = (96, 160)  # crops are scaled into this height range
CROP_MAX_WIDTH = 260
THUMB_WIDTH = 480
JPEG_QUALITY = 88


@dataclass(frozen=True)
class CropRequest:
    """Cut ``box`` (x, y, w, h) from ``frame`` and save it as ``name`` (a file name)."""

    frame: int
    box: tuple[float, float, float, float]
    name: str


@dataclass(frozen=True)
class ThumbRequest:
    """Save ``frame`` reduced, with labelled ``boxes`` (x, y, w, h, label) drawn, as ``name``."""

    frame: int
    boxes: tuple[tuple[float, float, float, float, str], ...]
    name: str


def read_frames(video: str, frames: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
    """The wanted 0-based ``frames`` (sorted, unique) of a video file or image folder, in order."""
    wanted = sorted(set(frames))
    if Path(video).is_dir():
        images = image_files(Path(video))
        for index in wanted:
            if index < len(images) and (image := cv2.imread(str(images[index]))) is not None:
                yield index, image
        return
    cap = cv2.VideoCapture(video)
    try:
        position = 0
        for index in wanted:
            if index - position > SEEK_GAP:
                cap.set(cv2.CAP_PROP_POS_FRAMES, index)
                position = index
            while position < index and cap.grab():
                position += 1
            ok, image = cap.read()
            if not ok:
                return
            position += 1
            yield index, image
    finally:
        cap.release()


def cut_crop(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """The box with a 10 % margin, clipped to the image and scaled for the gallery; None if empty."""
    x, y, w, h = box
    mx, my = 0.1 * w, 0.1 * h
    x1, y1 = max(int(x - mx), 0), max(int(y - my), 0)
    x2, y2 = min(int(np.ceil(x + w + mx)), image.shape[1]), min(int(np.ceil(y + h + my)), image.shape[0])
    if x2 <= x1 or y2 <= y1:
        return None
    crop = image[y1:y2, x1:x2]
    height = min(max(crop.shape[0], CROP_HEIGHT[0]), CROP_HEIGHT[1])
    scale = min(height / crop.shape[0], CROP_MAX_WIDTH / crop.shape[1])
    size = (max(round(crop.shape[1] * scale), 1), max(round(crop.shape[0] * scale), 1))
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def draw_thumbnail(image: np.ndarray, boxes: Sequence[tuple[float, float, float, float, str]]) -> np.ndarray:
    """The frame reduced to ``THUMB_WIDTH`` with each box and its label drawn."""
    scale = min(THUMB_WIDTH / image.shape[1], 1.0)
    out = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)))
    for x, y, w, h, label in boxes:
        p1 = (int(x * scale), int(y * scale))
        p2 = (int((x + w) * scale), int((y + h) * scale))
        cv2.rectangle(out, p1, p2, (0, 220, 255), 2)
        cv2.putText(out, label, (p1[0], max(p1[1] - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 220, 255), 1)
    return out


def write_jpeg(path: Path, image: np.ndarray) -> None:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise OSError(f"{path}: JPEG encoding failed")
    with atomic_write(path) as f:
        f.write(data.tobytes())


def write_images(video: str | None, requests: Sequence[CropRequest | ThumbRequest], folder: Path) -> set[str]:
    """Cut every request of one camera into ``folder``; returns the names written.

    A missing video, a stream or frames the video no longer has leave their names out (the
    page then says the image is unavailable).
    """
    if not video or "://" in video or not Path(video).exists():
        if requests:
            log.warning("video %s is not available; its %d report images are left out", video, len(requests))
        return set()
    by_frame: dict[int, list[CropRequest | ThumbRequest]] = defaultdict(list)
    for request in requests:
        by_frame[request.frame].append(request)
    written = set()
    for index, image in read_frames(video, list(by_frame)):
        for request in by_frame[index]:
            if isinstance(request, ThumbRequest):
                picture = draw_thumbnail(image, request.boxes)
            else:
                picture = cut_crop(image, request.box)
            if picture is not None:
                write_jpeg(folder / request.name, picture)
                written.add(request.name)
    return written


def frame_size(video: str | None) -> tuple[int, int] | None:
    """(height, width) of a video file or image folder, None when it cannot be read."""
    if not video or "://" in video or not Path(video).exists():
        return None
    for _, image in read_frames(video, [0]):
        return image.shape[:2]
    return None
