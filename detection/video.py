"""Frame sources: video files, MOTChallenge image folders and stream URLs."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class VideoSourceError(OSError):
    """A video, image folder or stream that cannot be read; the message names it."""


@dataclass(frozen=True)
class VideoInfo:
    """What a source reports about itself; ``frames`` is -1 for live streams."""

    source: str
    frames: int
    fps: float
    width: int
    height: int

    @property
    def is_stream(self) -> bool:
        return "://" in self.source


def image_files(folder: Path) -> list[Path]:
    """Images of a MOTChallenge-style folder (``img1/`` inside it if present), in name order."""
    if (folder / "img1").is_dir():
        folder = folder / "img1"
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def probe_video(source: str, default_fps: float = 30.0) -> VideoInfo:
    """Open ``source`` once and read its length, frame rate and size."""
    path = Path(source)
    if "://" not in source and path.is_dir():
        images = image_files(path)
        if not images:
            raise VideoSourceError(f"{source}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
        first = cv2.imread(str(images[0]))
        if first is None:
            raise VideoSourceError(f"{images[0]}: cannot decode image")
        return VideoInfo(source, len(images), default_fps, first.shape[1], first.shape[0])
    if "://" not in source and not path.is_file():
        raise VideoSourceError(f"{source}: no such video file or image folder")
    cap = cv2.VideoCapture(source)
    try:
        if not cap.isOpened():
            raise VideoSourceError(
                f"{source}: OpenCV cannot open this video (unsupported codec or corrupt file?)"
            )
        frames = -1 if "://" in source else int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = cap.get(cv2.CAP_PROP_FPS) or default_fps
        return VideoInfo(
            source,
            frames,
            float(fps),
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        cap.release()


_END = object()


def _read(source: str) -> Iterator[tuple[int, np.ndarray]]:
    """Frames in order; ends with a warning when a file or stream stops early."""
    path = Path(source)
    if "://" not in source and path.is_dir():
        for index, image_path in enumerate(image_files(path)):
            image = cv2.imread(str(image_path))
            if image is None:
                raise VideoSourceError(f"{image_path}: cannot decode image")
            yield index, image
        return
    info = probe_video(source)
    cap = cv2.VideoCapture(source)
    index = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield index, frame
            index += 1
    finally:
        cap.release()
    if index == 0:
        raise VideoSourceError(f"{source}: no frame could be decoded (corrupt file or unsupported codec?)")
    if info.is_stream:
        log.warning("%s: the stream stopped after %d frames; keeping what was read", source, index)
    elif index < info.frames:
        log.warning(
            "%s: decoding stopped at frame %d of %d (truncated or corrupt file); keeping what was read",
            source,
            index,
            info.frames,
        )


def _put(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def iter_frames(source: str, prefetch: int = 4) -> Iterator[tuple[int, np.ndarray]]:
    """``(0-based frame index, BGR image)`` of a video file, image folder or stream URL.

    Frames are decoded ``prefetch`` ahead in a background thread (OpenCV releases the GIL
    while decoding, so decoding overlaps inference). Errors of the reader are raised here.
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    stop = threading.Event()

    def pump() -> None:
        try:
            for item in _read(source):
                if not _put(q, item, stop):
                    return
            _put(q, _END, stop)
        except BaseException as err:  # handed to the consumer
            _put(q, err, stop)

    thread = threading.Thread(target=pump, name=f"frames:{Path(source).name}", daemon=True)
    try:
        thread.start()  # inside try: a Ctrl-C/SIGTERM during start must still stop the thread
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        if thread.ident is not None:
            # A daemon thread still inside OpenCV when the interpreter exits aborts the process
            # ("FATAL: exception not rethrown"); a file's decode always returns, a stream's may not.
            thread.join(timeout=2.0 if "://" in source else 30.0)
