"""Draw tracks on frames and write annotated videos (``mot.mp4``, ``mtmc.mp4``): the output stage's drawing.

Videos are written with OpenCV: H.264 (``avc1``) when this OpenCV build can, else MPEG-4
Part 2 (``mp4v``), which the opencv-python wheels always can (they have no H.264 encoder).
Whether H.264 works is probed once per process in a quiet subprocess, because a failed
attempt makes FFmpeg print errors. Files appear atomically: the video is written under a
temporary name and renamed when complete. Used by the runners, live mode and the
``tools/annotate.py`` CLI.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm
from yacs.config import CfgNode

from config.paths import storage_errors, temporary_name
from detection.video import iter_frames, probe_video
from mot.manifest import add_files, manifest_path, read_manifest
from mot.result_set import RESULT_STEM
from mot.tracklet import Tracklet

log = logging.getLogger(__name__)

H264, MPEG4 = "avc1", "mp4v"
_PROBE = (
    "import sys, cv2; w = cv2.VideoWriter(sys.argv[1], cv2.VideoWriter_fourcc(*'avc1'), 30, (64, 64)); "
    "print(w.isOpened())"
)
COCO_VEHICLE_NAMES = {1: "bicycle", 2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}


@functools.lru_cache(maxsize=4096)
def color_for(track_id: int) -> tuple[int, int, int]:
    """A stable, well-spread BGR colour per id (golden-ratio hue steps); cached, as every drawn box
    of every frame asks for it (an OpenCV colour conversion each time otherwise)."""
    hue = int((track_id * 0.618033988749895 % 1.0) * 180)
    hsv = np.uint8([[[hue, 200, 255]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def draw_tracks(
    frame: np.ndarray, xyxy: np.ndarray, ids: Sequence[int], labels: Sequence[str] | None = None
) -> np.ndarray:
    """Boxes with their id (and label) drawn onto ``frame`` in place; returns it."""
    scale = max(0.4, min(frame.shape[:2]) / 1000)
    thickness = max(2, round(3 * scale))
    for i, (box, track_id) in enumerate(zip(np.asarray(xyxy).reshape(-1, 4), ids, strict=True)):
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        color = color_for(int(track_id))
        cv2.rectangle(frame, (x1, y1), (x2, y2), color, thickness)
        text = f"{track_id} {labels[i]}".strip() if labels is not None else str(track_id)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = max(0, y1 - th - base - 2)
        cv2.rectangle(frame, (x1, top), (x1 + tw + 2, top + th + base + 2), color, -1)
        cv2.putText(
            frame, text, (x1 + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA
        )
    return frame


def tracklet_label(tracklet: Tracklet, class_names: Sequence[str] = ()) -> str:
    """Class and whatever attributes the tracklet has (colour, type, plate)."""
    cls = tracklet.class_id
    name = class_names[cls] if 0 <= cls < len(class_names) else COCO_VEHICLE_NAMES.get(cls, "")
    attrs = tracklet.attributes
    parts = [attrs.get("color", ""), attrs.get("type", "") or name, attrs.get("plate", "")]
    return " ".join(str(p) for p in parts if p)


@functools.lru_cache(maxsize=1)
def h264_available() -> bool:
    """Whether this OpenCV can write H.264, asked in a subprocess with FFmpeg's logging off."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, OPENCV_FFMPEG_LOGLEVEL="-8", OPENCV_LOG_LEVEL="SILENT")
        try:
            result = subprocess.run(
                [sys.executable, "-c", _PROBE, str(Path(tmp) / "probe.mp4")],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
    return result.stdout.strip() == "True"


class VideoWriter:
    """An MP4 writer that picks a codec this OpenCV can write and renames the file when closed."""

    def __init__(self, path: str | Path, fps: float, size_wh: tuple[int, int]) -> None:
        self.path = Path(path)
        self._tmp = temporary_name(self.path, self.path.suffix)  # unique: two writers never share it
        with storage_errors(self.path):  # OpenCV only says "cannot open": ask the file system why
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._tmp.touch()
        self.codec = H264 if h264_available() else MPEG4
        self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*self.codec), fps, size_wh)
        if not self._writer.isOpened():
            self._tmp.unlink(missing_ok=True)
            raise OSError(f"{self.path}: OpenCV cannot open a '{self.codec}' video writer")
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        self._writer.write(frame)
        self.frames += 1

    def close(self, keep: bool = True) -> None:
        self._writer.release()
        if keep:
            with storage_errors(self.path):
                self._tmp.replace(self.path)
        else:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.close(keep=exc_type is None)


class DrawnVideo:
    """Frame hook: write each frame with its confirmed tracks (streams cannot be re-read later)."""

    def __init__(self, path: str | Path, fps: float, size_wh: tuple[int, int]) -> None:
        self.writer = VideoWriter(path, fps, size_wh)

    def __call__(self, index: int, frame: np.ndarray, detections: Any, tracks: Any) -> None:
        shown = tracks[tracks.confirmed]
        self.writer.write(draw_tracks(frame.copy(), shown.xyxy, shown.track_id.tolist()))

    def close(self) -> None:
        self.writer.close()


class ShowWindow:
    """A frame hook showing the tracked frames in a window; on a headless machine it warns once and stops."""

    def __init__(self, name: str) -> None:
        self.name, self.enabled = name, True

    def __call__(self, index: int, frame: np.ndarray, detections: Any, tracks: Any) -> None:
        if not self.enabled:
            return
        shown = tracks[tracks.confirmed]
        try:
            cv2.imshow(self.name, draw_tracks(frame.copy(), shown.xyxy, shown.track_id.tolist()))
            cv2.waitKey(1)
        except cv2.error as err:
            self.enabled = False
            log.warning(
                "MOT.SHOW: cannot open a window here (%s); continuing without display", str(err).strip()[:120]
            )


def render_tracklets(
    video: str,
    tracklets: Sequence[Tracklet],
    output: str | Path,
    ids: Sequence[int] | None = None,
    label: Callable[[Tracklet], str] = tracklet_label,
    progress: bool = True,
) -> int:
    """Re-read ``video`` and write it with every tracklet box drawn; returns frames written.

    ``ids`` replaces the tracklets' own ids (global ids in multi-camera output).
    """
    ids = [t.track_id for t in tracklets] if ids is None else list(ids)
    by_frame: dict[int, list[tuple[np.ndarray, int, str]]] = defaultdict(list)
    for tracklet, track_id in zip(tracklets, ids, strict=True):
        text = label(tracklet)
        speed = tracklet.frame_attributes.get("speed")
        for k, (frame, (x, y, w, h)) in enumerate(
            zip(tracklet.frames.tolist(), tracklet.bboxes, strict=True)
        ):
            shown = f"{text} {speed[k]:.0f} km/h".strip() if speed is not None else text
            by_frame[frame].append((np.array([x, y, x + w, y + h]), track_id, shown))
    info = probe_video(video)
    with VideoWriter(output, info.fps, (info.width, info.height)) as writer:
        total = info.frames if info.frames > 0 else None
        for index, frame in tqdm(
            iter_frames(video),
            total=total,
            desc=f"render {Path(output).name}",
            unit="frame",
            disable=None if progress else True,
            leave=False,
        ):
            rows = by_frame.get(index, [])
            if rows:
                draw_tracks(frame, np.stack([r[0] for r in rows]), [r[1] for r in rows], [r[2] for r in rows])
            writer.write(frame)
    return writer.frames


def write_video(mot: CfgNode, tracklets: list[Tracklet], output_dir: Path, progress: bool = True) -> Path:
    """The camera's ``mot.mp4``: its tracklets drawn on ``MOT.VIDEO``."""
    path = output_dir / f"{RESULT_STEM}.mp4"
    render_tracklets(mot.VIDEO, tracklets, path, progress=progress)
    return path


def ensure_video(output_dir: Path, mot: CfgNode, tracklets: list[Tracklet], progress: bool = True) -> None:
    """Write a reused camera's missing ``mot.mp4`` (``MOT.VIDEO_OUTPUT``): its run stopped before it."""
    if not mot.VIDEO_OUTPUT or "://" in mot.VIDEO:
        return
    manifest = read_manifest(manifest_path(output_dir, RESULT_STEM))
    if f"{RESULT_STEM}.mp4" in manifest["files"]:
        return
    log.info("%s: the earlier run did not write %s.mp4; writing it now", output_dir, RESULT_STEM)
    add_files(output_dir, RESULT_STEM, [write_video(mot, tracklets, output_dir, progress)])
