"""``write_report``: ``report.html`` and its images (``report_files/``) for a multi-camera output folder."""

from __future__ import annotations

import logging
import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from config.paths import atomic_write_text
from mtmc.descriptors import build_descriptors
from mtmc.multicam_tracklet import MulticamTracklet
from mtmc.report.html import Page, crop_name, render
from mtmc.report.images import CropRequest, ThumbRequest, frame_size, write_images
from mtmc.report.inputs import ReportInputs, read_inputs
from mtmc.report.summary import VehicleView, select, summarise

log = logging.getLogger(__name__)
REPORT_NAME, FILES_DIR = "report.html", "report_files"
DEFAULT_MAX_VEHICLES = 200  # MTMC.REPORT_MAX_VEHICLES


def write_report(output_dir: str | Path, max_vehicles: int = DEFAULT_MAX_VEHICLES) -> Path:
    """Build ``output_dir/report.html`` from the run's files; returns its path.

    At most ``max_vehicles`` vehicles get crops and a timeline row, multi-camera ones first.
    Raises ``ReportInputError`` when the folder holds no multi-camera result.
    """
    output_dir = Path(output_dir)
    inputs = read_inputs(output_dir)
    sizes = [frame_size(c.video) for c in inputs.cameras]
    tracklets = [t for v in inputs.vehicles for t in v.tracklets]
    descriptors = build_descriptors(tracklets, inputs.options.fusion())
    views = summarise(inputs.vehicles, inputs.layout, descriptors, sizes)
    multi, single = select(views, max_vehicles)
    written = _write_images(output_dir, inputs, [*multi, *single])
    page = Page(
        title=f"MTMC run report: {output_dir.name}",
        meta=_meta(inputs, len(tracklets), views),
        cameras=[
            (c.name, sum(t.camera == i for t in tracklets), _url(f"camera{i}.jpg", written))
            for i, c in enumerate(inputs.cameras)
        ],
        multi=multi,
        single=single,
        totals=(len(views), sum(len(v.cameras) > 1 for v in views)),
        min_sim=inputs.options.min_sim,
        camera_names=[c.name for c in inputs.cameras],
        image=lambda name: _url(name, written),
    )
    path = output_dir / REPORT_NAME
    atomic_write_text(path, render(page))
    log.info("wrote %s (%d vehicles with crops, %d images)", path, len(multi) + len(single), len(written))
    return path


def _url(name: str, written: set[str]) -> str | None:
    return f"{FILES_DIR}/{name}" if name in written else None


def _meta(inputs: ReportInputs, n_tracklets: int, views: Sequence[VehicleView]) -> str:
    info = inputs.info
    multi = sum(len(v.cameras) > 1 for v in views)
    run = f"run {info['run_id']} ({info.get('command', '?')})" if info.get("run_id") else "run of unknown id"
    return (
        f"{run} · {len(inputs.cameras)} cameras · {n_tracklets} tracklets · {len(views)} vehicles, "
        f"{multi} seen by several cameras · linkage {inputs.options.linkage}, "
        f"MTMC.MIN_SIM {inputs.options.min_sim:.2f}"
    )


def thumbnail_request(camera: int, vehicles: Sequence[MulticamTracklet]) -> ThumbRequest | None:
    """The camera's busiest frame with every box in it labelled by global id."""
    members = [(v.global_id, t) for v in vehicles for t in v.tracklets if t.camera == camera]
    if not members:
        return None
    frames = np.concatenate([t.frames for _, t in members])
    busiest = int(np.bincount(frames).argmax())
    boxes = []
    for gid, t in members:
        row = np.searchsorted(t.frames, busiest)
        if row < len(t.frames) and t.frames[row] == busiest:
            boxes.append((*(float(v) for v in t.bboxes[row]), f"G{gid}"))
    return ThumbRequest(busiest, tuple(boxes), f"camera{camera}.jpg")


def _write_images(output_dir: Path, inputs: ReportInputs, shown: Sequence[VehicleView]) -> set[str]:
    """Every image into a fresh folder that then replaces ``report_files/`` (no stale image survives)."""
    requests: list[list[CropRequest | ThumbRequest]] = [[] for _ in inputs.cameras]
    for camera in range(len(inputs.cameras)):
        if thumb := thumbnail_request(camera, inputs.vehicles):
            requests[camera].append(thumb)
    for vehicle in shown:
        for m in vehicle.members:
            requests[m.camera].append(CropRequest(m.best_frame, m.best_box, crop_name(vehicle.global_id, m)))
    for stale in output_dir.glob(f".{FILES_DIR}.*"):  # left by a report killed while writing
        shutil.rmtree(stale, ignore_errors=True)
    fresh = output_dir / f".{FILES_DIR}.{secrets.token_hex(4)}.tmp"
    fresh.mkdir(parents=True)
    try:
        written = set()
        for camera, source in enumerate(inputs.cameras):
            written |= write_images(source.video, requests[camera], fresh)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    target = output_dir / FILES_DIR
    old = output_dir / f".{FILES_DIR}.{secrets.token_hex(4)}.old"
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return written
