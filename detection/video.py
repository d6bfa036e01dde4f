"""Frame sources: video files, MOTChallenge image folders and stream URLs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2

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
