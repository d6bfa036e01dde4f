"""Multi-camera results in the canonical tracklet format (tracklets tagged with global ids)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mot.tracklet_file import TrackletFileError, load_tracklet_file, save_tracklets
from mtmc.multicam_tracklet import MulticamTracklet


def save_multicam(
    path: str | Path, mtracks: Sequence[MulticamTracklet], info: dict[str, Any] | None = None
) -> None:
    """``info``: about the run (run id, fingerprint), stored in the file's metadata."""
    tracklets = [t for m in mtracks for t in m.tracklets]
    global_ids = [m.global_id for m in mtracks for _ in m.tracklets]
    groups = {m.global_id: m.attributes for m in mtracks}
    save_tracklets(path, tracklets, global_ids, groups=groups, info=info)


def load_multicam(path: str | Path) -> list[MulticamTracklet]:
    """Group a file's tracklets by global id, in order of first appearance."""
    table = load_tracklet_file(path)
    if table.global_ids is None:
        raise TrackletFileError(f"{path}: holds single-camera tracklets without global ids")
    members: dict[int, list] = {}
    for tracklet, gid in zip(table.tracklets, table.global_ids, strict=True):
        members.setdefault(gid, []).append(tracklet)
    groups = table.groups or {}
    return [MulticamTracklet(gid, tracks, dict(groups.get(gid, {}))) for gid, tracks in members.items()]
