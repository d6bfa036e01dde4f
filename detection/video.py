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
    """What a source reports about itself; ``frames`` is -1 when unknown (streams, some files)."""

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
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))  # INT64_MIN or 0 when the file does not say
        frames = -1 if "://" in source or count <= 0 else count
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
MAX_BAD_READS = 300  # consecutive failed reads after which a video counts as ended (10 s at 30 fps)


@dataclass
class ReadReport:
    """How completely a source was read; filled in while its frames are read.

    ``decode_errors``: reads that failed and were skipped over (a corrupt stretch);
    ``frames_skipped``: frame numbers missing between the first and last frame delivered;
    ``ended_early``: reading stopped before the declared frame count (truncated, or
    ``MAX_BAD_READS`` failures in a row). After a corrupt stretch frame numbers follow the
    video's timestamps, so frames after it keep their true number.
    """

    expected: int = -1  # declared frame count, -1 unknown (streams, some containers)
    frames_read: int = 0
    decode_errors: int = 0
    frames_skipped: int = 0
    last_index: int = -1
    ended_early: bool = False

    @property
    def fully_read(self) -> bool:
        return self.decode_errors == 0 and self.frames_skipped == 0 and not self.ended_early

    def as_dict(self) -> dict[str, int | bool]:
        """JSON values for result metadata."""
        return {
            "fully_read": self.fully_read,
            "frames_expected": self.expected,
            "frames_read": self.frames_read,
            "decode_errors": self.decode_errors,
            "frames_skipped": self.frames_skipped,
            "ended_early": self.ended_early,
        }


def frame_number(last: int, msec: float, fps: float) -> int:
    """The number of a frame decoded after a corrupt stretch: from its timestamp, never going back."""
    by_time = round(msec * fps / 1000.0) if msec > 0 and fps > 0 else last + 1
    return max(last + 1, by_time)


def _read(source: str, report: ReadReport) -> Iterator[tuple[int, np.ndarray]]:
    """Frames in order, skipping corrupt stretches of a file; ``report`` says what was missed."""
    path = Path(source)
    if "://" not in source and path.is_dir():
        images = image_files(path)
        report.expected = len(images)
        for index, image_path in enumerate(images):
            image = cv2.imread(str(image_path))
            if image is None:
                raise VideoSourceError(f"{image_path}: cannot decode image")
            report.frames_read, report.last_index = index + 1, index
            yield index, image
        return
    info = probe_video(source)
    report.expected = info.frames
    cap = cv2.VideoCapture(source)
    try:
        yield from _read_capture(cap, info, report)
    finally:
        cap.release()
    _warn_incomplete(source, info, report)


def _read_capture(
    cap: cv2.VideoCapture, info: VideoInfo, report: ReadReport
) -> Iterator[tuple[int, np.ndarray]]:
    """Read until the end; a file's failed reads are skipped, up to ``MAX_BAD_READS`` in a row."""
    failures, by_time = 0, False
    while True:
        ok, frame = cap.read()
        if not ok:
            failures += 1
            if info.is_stream or failures >= MAX_BAD_READS:
                return
            continue
        if failures and report.frames_read:
            report.decode_errors += failures
            by_time = True  # from here on, number frames by their timestamps
        failures = 0
        last = report.last_index
        index = frame_number(last, cap.get(cv2.CAP_PROP_POS_MSEC), info.fps) if by_time else last + 1
        report.frames_skipped += index - last - 1
        report.frames_read, report.last_index = report.frames_read + 1, index
        yield index, frame


def _warn_incomplete(source: str, info: VideoInfo, report: ReadReport) -> None:
    if report.frames_read == 0:
        raise VideoSourceError(f"{source}: no frame could be decoded (corrupt file or unsupported codec?)")
    if info.is_stream:
        log.warning(
            "%s: the stream stopped after %d frames; keeping what was read", source, report.frames_read
        )
        return
    if report.decode_errors:
        log.warning(
            "%s: %d frames could not be decoded (corrupt stretch skipped, %d frame numbers missing)",
            source,
            report.decode_errors,
            report.frames_skipped,
        )
    if info.frames > 0 and report.last_index + 1 < info.frames:
        report.ended_early = True
        log.warning(
            "%s: decoding stopped at frame %d of %d (truncated or corrupt file); keeping what was read",
            source,
            report.last_index + 1,
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


class FrameReader:
    """``(0-based frame index, BGR image)`` of a video file, image folder or stream URL.

    Frames are decoded ``prefetch`` ahead in a background thread (OpenCV releases the GIL
    while decoding, so decoding overlaps inference). Errors of the reader are raised here.
    ``report`` says, once the frames are read, whether the whole video was (``ReadReport``).
    """

    def __init__(self, source: str, prefetch: int = 4) -> None:
        self.source, self.prefetch = source, prefetch
        self.report = ReadReport()
        self._frames = self._generate()

    def __iter__(self) -> FrameReader:
        return self

    def __next__(self) -> tuple[int, np.ndarray]:
        return next(self._frames)

    def close(self) -> None:
        """Stop and join the decoding thread (none may be left inside OpenCV at exit)."""
        self._frames.close()

    def _generate(self) -> Iterator[tuple[int, np.ndarray]]:
        source = self.source
        q: queue.Queue = queue.Queue(maxsize=max(1, self.prefetch))
        stop = threading.Event()

        def pump() -> None:
            try:
                for item in _read(source, self.report):
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


def iter_frames(source: str, prefetch: int = 4) -> FrameReader:
    """The frames of ``source`` in order (see ``FrameReader``)."""
    return FrameReader(source, prefetch)
