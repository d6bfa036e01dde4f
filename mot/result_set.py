"""A camera's result set: what it writes, the fingerprint of what made it, and whether it can be reused.

The canonical ``mot.npz`` records a fingerprint of the camera's effective config and whether
the run completed, so a re-run can skip cameras whose results are complete and current
(``completed_result``). ``mot.manifest.json`` (``mot.manifest``) is written after the files
and lists them with their hashes: a camera is only reused when it matches.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from yacs.config import CfgNode

from detection.video import ReadReport, VideoInfo, image_files
from mot.manifest import ResultSetError, check_result_file, manifest_path, read_manifest, write_manifest
from mot.pipeline import LoopStats
from mot.resume_key import files_signature
from mot.storage import save_all
from mot.tracklet import Tracklet
from mot.tracklet_file import TrackletFileError, load_tracklet_file

log = logging.getLogger(__name__)

RESULT_STEM = "mot"
VIDEO_READ = "video_read"  # metadata and manifest entry: how completely the video was read
EXIT_NOT_FULLY_READ = 3  # results saved, but a video had a corrupt stretch or ended early


def source_signature(source: str) -> str:
    """What identifies the input's content cheaply: size and modification time of its file(s)."""
    path = Path(source)
    if "://" in source or not path.exists():
        return source
    files = image_files(path) if path.is_dir() else [path]
    stats = [f.stat() for f in files]
    size, newest = sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)
    return f"{source}|{len(files)}|{size}|{newest}"


def fingerprint(mot: CfgNode) -> str:
    """A digest of everything that decides a camera's tracking result: its config, its input, the
    contents of its model and input files and the code version (``mot.resume_key``)."""
    text = mot.dump() + source_signature(mot.VIDEO) + files_signature(mot)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def partly_read(output_dir: Path) -> dict[str, Any] | None:
    """The camera's ``video_read`` record when its result set says the video was not fully read."""
    try:
        record = read_manifest(manifest_path(output_dir, RESULT_STEM)).get(VIDEO_READ)
    except ResultSetError:
        return None
    return record if isinstance(record, dict) and not record.get("fully_read", True) else None


def completed_result(output_dir: Path, mot: CfgNode) -> list[Tracklet] | None:
    """The tracklets of a complete earlier run with the same config and input, if there is one.

    Streams are never reused: what they deliver changes from one run to the next.
    """
    if "://" in mot.VIDEO:
        return None
    path = output_dir / f"{RESULT_STEM}.npz"
    if not path.is_file():
        return None
    try:
        table = load_tracklet_file(path)
    except TrackletFileError as err:
        log.warning("%s; not resumable, tracking this camera again", err)
        return None
    if not (table.info.get("complete") and table.info.get("fingerprint") == fingerprint(mot)):
        return None
    try:
        manifest = check_result_file(path)
    except ResultSetError as err:
        log.warning("not reusing the earlier result, tracking again: %s", err)
        return None
    if manifest is None:
        log.info("%s: written without a result manifest (an older version); tracking again", path)
        return None
    return table.tracklets


def write_result_manifest(
    cfg: CfgNode,
    output_dir: Path,
    files: list[Path],
    run_id: str,
    command: str,
    complete: bool,
    read: ReadReport,
) -> None:
    """The camera's manifest; it holds the config that made the set (config.yaml is the latest run's)
    and how completely the video was read (``video_read``)."""
    write_manifest(
        output_dir,
        RESULT_STEM,
        files,
        run_id=run_id,
        command=command,
        fingerprint=fingerprint(cfg.MOT),
        complete=complete,
        extra={"config": cfg.dump(), VIDEO_READ: read.as_dict()},
    )


def save_results(
    cfg: CfgNode,
    output_dir: Path,
    name: str,
    tracklets: list[Tracklet],
    stats: LoopStats,
    complete: bool,
    info: VideoInfo,
    run_id: str,
    command: str,
    read: ReadReport,
) -> list[Path]:
    """Save the camera's tracklet files (``save_all``), what made them in the canonical ``info``."""
    run_info = {
        "run_id": run_id,
        "command": command,
        "camera": name,
        "video": info.source,
        "fps": info.fps,
        "size": [info.width, info.height],
        "frames_read": stats.frames,
        "complete": complete,
        "fingerprint": fingerprint(cfg.MOT),
        VIDEO_READ: read.as_dict(),
    }
    return save_all(output_dir, RESULT_STEM, tracklets, info=run_info)
