"""Live sessions on disk: one folder and one id per session, consolidation from the journals, recovery.

A session's folder holds ``live_session.json`` (its id, pid, cameras and state), the camera
folders with their ``live.journal`` checkpoints while it runs, and at the end the usual
result set ``live.{npz,csv,txt,pkl}`` + ``live.manifest.json`` per camera (the batch formats;
the canonical file and the manifest carry the session id as their run id).

* A fresh OUTPUT_DIR is the session's folder. A restart on an OUTPUT_DIR that holds a session
  starts a new one in ``OUTPUT_DIR/session_<id>/``: nothing of the earlier session is replaced.
* ``consolidate`` turns a camera's journal into the result set; the final save does it after
  appending the last tracks to the journal, so the journal always holds everything.
* ``recover`` finds sessions whose state is still ``running`` but whose process is gone (kill
  -9, OOM, power cut) and consolidates them from their journals, marked incomplete; every live
  start does this first, so a crashed session is never left as journals only.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.layout import CameraLayout
from config.paths import atomic_write_text
from mot.manifest import remove_manifest, write_manifest
from mot.storage import save_all
from mtmc.live.journal import JOURNAL_NAME, read_journal

log = logging.getLogger(__name__)

SESSION_FILE = "live_session.json"
SESSION_FORMAT = "vehicle_mtmc.live_session"
RESULT_STEM = "live"


@dataclass(frozen=True)
class SessionCamera:
    """What consolidation needs to know of one camera: its name, folder (relative), video, tick rate."""

    name: str
    folder: str
    video: str
    fps: float


def session_folder(out: Path, session_id: str) -> Path:
    """``out`` when it holds no live session yet, else ``out/session_<id>`` (never a reused folder)."""
    if not (out / SESSION_FILE).exists() and not any(out.glob(f"*/{RESULT_STEM}.npz")):
        return out
    folder = out / f"session_{session_id}"
    log.warning(
        "%s holds an earlier live session; this session (%s) writes to %s and leaves it as it is",
        out,
        session_id,
        folder,
    )
    return folder


def layout_text(layout: CameraLayout, fps: float, session_id: str = "") -> str:
    """The layout in the line format, every camera at the tick rate (for offline re-clustering)."""
    lines = [f"# written by live session {session_id}: frames of its tracklets are ticks at LIVE.TARGET_FPS"]
    for a in range(layout.n_cams):
        for b in range(layout.n_cams):
            if layout.allowed[a, b]:
                lines.append(f"{a} {b} {layout.min_gap[a, b]:g} {layout.max_gap[a, b]:g}")
    lines.append("fps " + " ".join(f"{fps:g}" for _ in range(layout.n_cams)))
    lines.append("offset " + " ".join(f"{o:g}" for o in layout.offset))
    return "\n".join(lines) + "\n"


def write_session(folder: Path, session_id: str, cameras: list[SessionCamera], state: str) -> None:
    """``live_session.json``: the state is ``running`` until the final save wrote every camera."""
    record = {
        "format": SESSION_FORMAT,
        "version": 1,
        "session_id": session_id,
        "state": state,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cameras": [camera.__dict__ for camera in cameras],
    }
    atomic_write_text(folder / SESSION_FILE, json.dumps(record, indent=1) + "\n")


def read_session(path: Path) -> dict[str, Any] | None:
    """The session record, or None (with a warning) when it cannot be read."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        log.warning("%s: unreadable live session record (%s); skipped", path, err)
        return None
    if not isinstance(record, dict) or record.get("format") != SESSION_FORMAT:
        log.warning("%s: not a live session record; skipped", path)
        return None
    return record


def consolidate(
    folder: Path,
    session_id: str,
    camera: SessionCamera,
    complete: bool,
    extra: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write the camera's result set from its journal; returns the files (none without a journal).

    ``extra`` adds to the result metadata what only the running session knows (stalls, decode errors).
    """
    directory = folder / camera.folder
    journal = directory / JOURNAL_NAME
    if not journal.is_file():
        return []
    contents = read_journal(journal)
    info = {
        "camera": camera.name,
        "video": camera.video,
        "fps": camera.fps,
        "live": True,
        "session_id": session_id,
        "run_id": session_id,
        "complete": complete and not contents.problem,
        "checkpoint_records": contents.records,
        "skipped_bytes": contents.skipped_bytes,
        **(extra or {}),
    }
    tracklets = sorted(contents.tracklets, key=lambda t: t.track_id)
    remove_manifest(directory, RESULT_STEM)
    written = save_all(directory, RESULT_STEM, tracklets, info=info)
    write_manifest(
        directory,
        RESULT_STEM,
        written,
        run_id=session_id,
        command="live",
        fingerprint="",
        complete=bool(info["complete"]),
    )
    log.info("camera '%s': %d tracklets saved to %s", camera.name, len(tracklets), directory)
    return written


def finish_session(folder: Path, session_id: str, cameras: list[SessionCamera]) -> None:
    """Mark the session saved, then drop its journals (the result sets hold everything now)."""
    write_session(folder, session_id, cameras, "saved")
    for camera in cameras:
        (folder / camera.folder / JOURNAL_NAME).unlink(missing_ok=True)


def unfinished_sessions(out: Path) -> list[Path]:
    """Session records under ``out`` still ``running`` whose process is gone."""
    found = []
    for path in [out / SESSION_FILE, *sorted(out.glob(f"session_*/{SESSION_FILE}"))]:
        record = read_session(path) if path.is_file() else None
        if record is None or record.get("state") != "running":
            continue
        if record.get("host") == socket.gethostname() and _alive(int(record.get("pid", 0))):
            log.warning("%s: session %s is still running (pid %s)", path, record["session_id"], record["pid"])
            continue
        found.append(path)
    return found


def recover(out: Path) -> list[Path]:
    """Consolidate every unfinished session under ``out`` from its journals; returns the files written."""
    written: list[Path] = []
    for path in unfinished_sessions(out):
        record = read_session(path)
        assert record is not None  # read just before
        session_id = str(record["session_id"])
        cameras = [SessionCamera(**c) for c in record.get("cameras", [])]
        files: list[Path] = []
        failed = False
        for camera in cameras:
            try:
                files += consolidate(path.parent, session_id, camera, complete=False)
            except Exception as err:  # one camera's damaged journal must not hide the others
                log.error("session %s, camera '%s': cannot recover (%s)", session_id, camera.name, err)
                failed = True
        if not failed:
            finish_session(path.parent, session_id, cameras)
        log.warning(
            "recovered live session %s (its process stopped without saving): %d files in %s",
            session_id,
            len(files),
            path.parent,
        )
        written += files
    return written


def _alive(pid: int) -> bool:
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
