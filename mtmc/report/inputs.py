"""Read what the report needs from a multi-camera output folder.

Everything comes from files the run already wrote: ``mtmc.npz`` (every tracklet with its
global id and features), ``plan.json`` (camera names and videos; for an MTMC-only run, the
input ``mot.npz`` files, whose metadata names camera and video), ``config.yaml`` (the
layout file and the descriptor options the clustering used).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from config.layout import CameraLayout, LayoutError, parse_layout
from mot.tracklet_file import TrackletFileError, load_tracklet_file
from mtmc.matching import MatchingOptions
from mtmc.multicam_tracklet import MulticamTracklet
from mtmc.storage import load_multicam

log = logging.getLogger(__name__)
DEFAULT_FPS = 30.0


class ReportInputError(ValueError):
    """An output folder the report cannot be built from; the message names the file."""


@dataclass(frozen=True)
class CameraSource:
    """A camera of the run: its name and the video its crops are cut from (None: unknown)."""

    name: str
    video: str | None = None
    fps: float = DEFAULT_FPS


@dataclass
class ReportInputs:
    """An output folder's multi-camera result, ready to summarise."""

    output_dir: Path
    cameras: list[CameraSource]
    vehicles: list[MulticamTracklet]
    layout: CameraLayout
    options: MatchingOptions
    info: dict[str, Any] = field(default_factory=dict)


def read_inputs(output_dir: Path) -> ReportInputs:
    """Everything the report needs from ``output_dir``; raises ``ReportInputError`` naming what is missing."""
    results = output_dir / "mtmc.npz"
    if not results.is_file():
        raise ReportInputError(
            f"{results}: not found; the report is built from a multi-camera run's output folder "
            "(mtmc-express or mtmc-mtmc write mtmc.npz)"
        )
    try:
        vehicles = load_multicam(results)
        info = load_tracklet_file(results).info
    except TrackletFileError as err:
        raise ReportInputError(str(err)) from err
    config = _read_yaml(output_dir / "config.yaml")
    plan = _read_json(output_dir / "plan.json")
    n_cams = max((t.camera for v in vehicles for t in v.tracklets), default=-1) + 1
    cameras = camera_sources(plan, n_cams)
    layout = run_layout(config, cameras)
    return ReportInputs(output_dir, cameras, vehicles, layout, matching_options(config), info)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        log.warning("%s: not found; using the default MTMC options and the cameras' frame rates", path)
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        log.warning("%s: not found; cameras are unnamed and have no video to cut crops from", path)
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReportInputError(f"{path}: not valid JSON ({err})") from err
    return data if isinstance(data, dict) else {}


def camera_sources(plan: dict[str, Any], n_cams: int) -> list[CameraSource]:
    """Camera c's name and video: from an express plan's cameras, or an MTMC plan's input files."""
    sources: list[CameraSource] = []
    for camera in plan.get("cameras", []):
        fps = camera.get("video_info", {}).get("fps") or DEFAULT_FPS
        sources.append(CameraSource(str(camera.get("name")), camera.get("video"), float(fps)))
    for entry in plan.get("inputs", []):
        sources.append(_input_source(Path(entry["file"]), len(sources)))
    sources += [CameraSource(f"camera{c}") for c in range(len(sources), n_cams)]
    return sources


def _input_source(path: Path, index: int) -> CameraSource:
    """Name and video recorded in a tracklet file's metadata (files of this program carry them)."""
    info: dict[str, Any] = {}
    if path.suffix == ".npz" and path.is_file():
        try:
            info = load_tracklet_file(path).info
        except TrackletFileError as err:
            log.warning("%s; camera %d gets no crops", err, index)
    folder = re.sub(r"^[0-9]+_", "", path.parent.name)  # OUTPUT_DIR/{index}_{name}/mot.npz
    name = info.get("camera") or (folder if path.stem in ("mot", "live") else path.stem)
    return CameraSource(str(name), info.get("video"), float(info.get("fps") or DEFAULT_FPS))


def run_layout(config: dict[str, Any], cameras: list[CameraSource]) -> CameraLayout:
    """The run's layout (its clocks give global times); the cameras' own frame rates if it is unreadable."""
    path = (config.get("MTMC") or {}).get("CAMERA_LAYOUT")
    names = [c.name for c in cameras]
    if path:
        try:
            layout = parse_layout(path, names)
            if layout.n_cams == len(cameras):
                return layout
            log.warning(
                "MTMC.CAMERA_LAYOUT %s: %d cameras, the run has %d; times use each camera's frame rate",
                path,
                layout.n_cams,
                len(cameras),
            )
        except (LayoutError, OSError) as err:
            log.warning("MTMC.CAMERA_LAYOUT %s: %s; times use each camera's frame rate", path, err)
    n = len(cameras)
    return CameraLayout(
        np.array([c.fps for c in cameras], np.float64),
        np.zeros(n),
        np.ones(n),
        np.zeros((n, n), bool),
        np.zeros((n, n)),
        np.zeros((n, n)),
    )


def matching_options(config: dict[str, Any]) -> MatchingOptions:
    """The descriptor options of the run (``MTMC.*`` in its config.yaml), defaults where absent."""
    m = config.get("MTMC") or {}
    base = MatchingOptions()
    return MatchingOptions(
        m.get("LINKAGE", base.linkage),
        float(m.get("MIN_SIM", base.min_sim)),
        bool(m.get("FEATURE_CENTER", base.center)),
        int(m.get("FEATURE_PCA_DIM", base.pca_dim)),
        float(m.get("COLOR_WEIGHT", base.color_weight)),
        camera_norm=bool(m.get("CAMERA_NORM", base.camera_norm)),
        camera_shrinkage=float(m.get("CAMERA_NORM_SHRINKAGE", base.camera_shrinkage)),
        color_camera_norm=bool(m.get("COLOR_CAMERA_NORM", base.color_camera_norm)),
    )
