"""Write multi-camera results: per camera ``mtmc.*`` beside ``mot.*``, and one file for all cameras."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mot.storage import save_all
from mot.tracklet import Tracklet
from mtmc.matching import MatchingResult
from mtmc.storage import save_multicam

RESULT_STEM = "mtmc"


def camera_results(result: MatchingResult, n_cameras: int) -> list[tuple[list[Tracklet], list[int]]]:
    """Per camera: its tracklets carrying their vehicle's merged attributes, and their global ids."""
    per_camera: list[tuple[list[Tracklet], list[int]]] = [([], []) for _ in range(n_cameras)]
    for vehicle in result.multicam:
        for member in vehicle.members_with_attributes():
            tracklets, ids = per_camera[member.camera]
            tracklets.append(member)
            ids.append(vehicle.global_id)
    for tracklets, ids in per_camera:
        order = sorted(range(len(tracklets)), key=lambda k: (tracklets[k].track_id, ids[k]))
        tracklets[:] = [tracklets[k] for k in order]
        ids[:] = [ids[k] for k in order]
    return per_camera


def save_results(
    output_dir: Path,
    camera_dirs: Sequence[Path | None],
    result: MatchingResult,
    info: dict[str, Any] | None = None,
) -> list[Path]:
    """``<camera dir>/mtmc.{npz,pkl,csv,txt}`` per camera and ``<output dir>/mtmc.npz`` for all.

    Cameras whose folder is None (they failed) get no files. ``info`` (run id, fingerprint)
    goes into every canonical file's metadata.
    """
    written = []
    groups = {m.global_id: m.attributes for m in result.multicam}
    per_camera = camera_results(result, len(camera_dirs))
    for directory, (tracklets, ids) in zip(camera_dirs, per_camera, strict=True):
        if directory is None:
            continue
        used = {g: groups[g] for g in ids}
        written += save_all(directory, RESULT_STEM, tracklets, ids, used, info=info)
    save_multicam(output_dir / f"{RESULT_STEM}.npz", result.multicam, info)
    return [*written, output_dir / f"{RESULT_STEM}.npz"]
