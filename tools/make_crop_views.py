"""Cut one video into non-overlapping crop views that act as separate cameras (a demo setup).

No real multi-camera footage is available offline, so the demo treats bands of one
intersection clip as cameras: a vehicle leaving the "near" band reappears in the "far"
band a moment later, and vice versa. The tool writes one MP4 per view and a camera
layout file describing those transitions.

    python tools/make_crop_views.py --video ../shared/data/traffic/intersection_960x540.mp4 \
        --out output/demo/cameras

Views are ``name:x,y,w,h`` with fractions of the frame size (default: a far and a near band).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from config.paths import atomic_write_text
from detection.video import VideoSourceError, probe_video

log = logging.getLogger("tools.make_crop_views")

DEFAULT_VIEWS = ("far:0,0.15,1,0.35", "near:0,0.56,1,0.44")
HANDOVER_REACH = 0.15  # fraction of the frame height a vehicle in two views reaches into each


@dataclass(frozen=True)
class View:
    """A crop of the frame, in fractions of its width and height."""

    name: str
    x: float
    y: float
    w: float
    h: float

    @classmethod
    def parse(cls, text: str) -> View:
        try:
            name, box = text.split(":")
            x, y, w, h = (float(v) for v in box.split(","))
        except ValueError:
            raise ValueError(f"view '{text}': expected name:x,y,w,h with fractions of the frame") from None
        if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x + 1e-9 and 0 < h <= 1 - y + 1e-9):
            raise ValueError(f"view '{text}': the box must lie inside the frame (fractions in [0, 1])")
        return cls(name, x, y, w, h)

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """x0, y0, x1, y1 in pixels, with even sizes (some codecs need them)."""
        x0, y0 = round(self.x * width), round(self.y * height)
        x1, y1 = min(width, round((self.x + self.w) * width)), min(height, round((self.y + self.h) * height))
        return x0, y0, x0 + (x1 - x0) // 2 * 2, y0 + (y1 - y0) // 2 * 2


def overlapping(views: list[View]) -> tuple[str, str] | None:
    for i, a in enumerate(views):
        for b in views[i + 1 :]:
            if a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h:
                return a.name, b.name
    return None


def handover_lines(boxes: list[tuple[int, int, int, int]], reach: int) -> list[str]:
    """``handover i j ...``: the part of view i within ``reach`` px of view j (pixels of view i).

    The views cut one frame, so a vehicle seen by two of them at once straddles the strip
    between them; views farther apart than ``reach`` get no line.
    """
    lines = []
    for i, (ax0, ay0, ax1, ay1) in enumerate(boxes):
        for j, (bx0, by0, bx1, by1) in enumerate(boxes):
            x0, y0 = max(ax0, bx0 - reach), max(ay0, by0 - reach)
            x1, y1 = min(ax1, bx1 + reach), min(ay1, by1 + reach)
            if i != j and x0 < x1 and y0 < y1:
                lines.append(f"handover {i} {j} {x0 - ax0} {y0 - ay0} {x1 - ax0} {y1 - ay0}")
    return lines


def layout_text(
    views: list[View], fps: float, min_gap: float, max_gap: float, handovers: list[str] = ()
) -> str:
    lines = [
        "# Demo layout written by tools/make_crop_views.py: crop views of one video.",
        "# A vehicle may pass between any two views in either direction.",
        "# cam_from cam_to min_s max_s",
    ]
    lines += [
        f"{i} {j} {min_gap:g} {max_gap:g}" for i in range(len(views)) for j in range(len(views)) if i != j
    ]
    lines += [
        f"fps {' '.join(f'{fps:g}' for _ in views)}",
        f"offset {' '.join('0' for _ in views)}",
        f"scale {' '.join('1' for _ in views)}",
        *(["# where two views touch: a vehicle in both at once meets these rectangles"] if handovers else []),
        *handovers,
        "",
    ]
    return "\n".join(lines)


def make_views(
    video: str, out_dir: Path, views: list[View], min_gap: float, max_gap: float, progress: bool = True
) -> list[Path]:
    """Write ``<name>.mp4`` per view and ``layout.txt`` into ``out_dir``; returns the video paths."""
    info = probe_video(video)
    boxes = [v.pixels(info.width, info.height) for v in views]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{v.name}.mp4" for v in views]
    tmp_paths = [p.with_name(f".{p.stem}.partial.mp4") for p in paths]
    fourcc = cv2.VideoWriter_fourcc(*"mp4v")
    writers = [
        cv2.VideoWriter(str(t), fourcc, info.fps, (x1 - x0, y1 - y0))
        for t, (x0, y0, x1, y1) in zip(tmp_paths, boxes, strict=True)
    ]
    cap = cv2.VideoCapture(video)
    try:
        if not all(w.isOpened() for w in writers):
            raise OSError("OpenCV cannot open an mp4v video writer")
        for _ in tqdm(
            range(info.frames), desc="crop views", unit="frame", disable=None if progress else True
        ):
            ok, frame = cap.read()
            if not ok:
                break
            for writer, (x0, y0, x1, y1) in zip(writers, boxes, strict=True):
                writer.write(np.ascontiguousarray(frame[y0:y1, x0:x1]))
    finally:
        cap.release()
        for w in writers:
            w.release()
    for tmp, path in zip(tmp_paths, paths, strict=True):
        tmp.replace(path)
    reach = round(HANDOVER_REACH * info.height)
    text = layout_text(views, info.fps, min_gap, max_gap, handover_lines(boxes, reach))
    atomic_write_text(out_dir / "layout.txt", text)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cut a video into crop views that act as cameras (demo).")
    parser.add_argument("--video", required=True, help="source video")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--views", nargs="+", default=list(DEFAULT_VIEWS), help="name:x,y,w,h (fractions)")
    parser.add_argument("--min-gap", type=float, default=-1.0, help="layout min_s between views (seconds)")
    parser.add_argument("--max-gap", type=float, default=5.0, help="layout max_s between views (seconds)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        views = [View.parse(v) for v in args.views]
    except ValueError as err:
        log.error("%s", err)
        return 2
    if pair := overlapping(views):
        log.error("views '%s' and '%s' overlap; crop views must not overlap", *pair)
        return 2
    try:
        paths = make_views(args.video, args.out, views, args.min_gap, args.max_gap)
    except (VideoSourceError, OSError) as err:
        log.error("%s", err)
        return 2
    log.info("wrote %s and %s", ", ".join(map(str, paths)), args.out / "layout.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
