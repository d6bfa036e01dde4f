"""What the report shows about each vehicle, computed from its tracklets alone (pure functions).

Times are seconds on the run's common clock (``CameraLayout.global_time``). The match
similarity is the cosine of the tracklets' descriptors as the clustering compared them
(``mtmc.descriptors``: centred, optionally whitened, colour blended), over the pairs of
members seen by different cameras.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from config.layout import CameraLayout
from mot.builder import sample_quality
from mot.tracklet import Tracklet
from mtmc.compatibility import tracklet_times
from mtmc.multicam_tracklet import MulticamTracklet


@dataclass(frozen=True)
class MemberView:
    """One camera's tracklet of a vehicle, and the box its crop is cut from."""

    camera: int
    track_id: int
    start_s: float
    end_s: float
    boxes: int
    best_frame: int  # 0-based frame of the best-quality box
    best_box: tuple[float, float, float, float]  # x, y, w, h in frame pixels


@dataclass(frozen=True)
class VehicleView:
    """One global id: its members in time order, merged attributes and how alike its cameras' views were."""

    global_id: int
    members: tuple[MemberView, ...]
    attributes: dict[str, Any] = field(default_factory=dict)
    similarity: float | None = None  # mean descriptor cosine over cross-camera member pairs
    min_similarity: float | None = None  # the least similar such pair
    overlap_s: float = 0.0  # seconds during which two cameras saw it at once

    @property
    def cameras(self) -> list[int]:
        return sorted({m.camera for m in self.members})

    @property
    def first_s(self) -> float:
        return min(m.start_s for m in self.members)

    @property
    def last_s(self) -> float:
        return max(m.end_s for m in self.members)


def best_row(tracklet: Tracklet, frame_hw: tuple[int, int] | None) -> int:
    """Row of the tracklet's best box: largest ``area x score``, boxes cut by the frame border a quarter.

    The same rule picks the tracker's appearance samples (``mot.builder.sample_quality``);
    without a frame size no box counts as cut.
    """
    x, y, w, h = tracklet.bboxes.T
    xyxy = np.stack([x, y, x + w, y + h], axis=1)
    hw = frame_hw if frame_hw is not None else (np.inf, np.inf)
    return int(np.argmax(sample_quality(xyxy, tracklet.scores, hw)))


def cross_camera_similarity(descriptors: np.ndarray, cameras: np.ndarray) -> tuple[float, float] | None:
    """(mean, min) cosine over pairs of rows from different cameras; None if all rows share one camera.

    ``descriptors`` (k, D) unit rows; ``cameras`` (k,) camera of each row. Rows without a
    feature (all zeros) are left out.
    """
    has = np.linalg.norm(descriptors, axis=1) > 0
    d, c = descriptors[has], cameras[has]
    i, j = np.triu_indices(len(d), k=1)
    cross = c[i] != c[j]
    if not cross.any():
        return None
    sims = np.einsum("kd,kd->k", d[i[cross]], d[j[cross]])
    return float(sims.mean()), float(sims.min())


def overlap_seconds(starts: np.ndarray, ends: np.ndarray, cameras: np.ndarray) -> float:
    """Total seconds during which members of two different cameras were seen at the same time."""
    total = 0.0
    for a, b in zip(*np.triu_indices(len(starts), k=1), strict=True):
        if cameras[a] != cameras[b]:
            total += max(0.0, min(ends[a], ends[b]) - max(starts[a], starts[b]))
    return total


def summarise(
    vehicles: Sequence[MulticamTracklet],
    layout: CameraLayout,
    descriptors: np.ndarray,
    frame_sizes: Sequence[tuple[int, int] | None],
) -> list[VehicleView]:
    """One ``VehicleView`` per vehicle, in the given order.

    ``descriptors`` has one row per member tracklet, in the order of
    ``[t for v in vehicles for t in v.tracklets]``; ``frame_sizes[c]`` is camera c's
    (height, width), or None when unknown.
    """
    tracklets = [t for v in vehicles for t in v.tracklets]
    if len(descriptors) != len(tracklets):
        raise ValueError(f"summarise: {len(descriptors)} descriptors for {len(tracklets)} tracklets")
    times = tracklet_times(tracklets, layout)
    views, row = [], 0
    for vehicle in vehicles:
        rows = np.arange(row, row + len(vehicle.tracklets))
        row += len(rows)
        members = []
        for k, t in zip(rows.tolist(), vehicle.tracklets, strict=True):
            best = best_row(t, frame_sizes[t.camera])
            box = tuple(float(v) for v in t.bboxes[best])
            start, end = float(times.start[k]), float(times.end[k])
            members.append(MemberView(t.camera, t.track_id, start, end, len(t), int(t.frames[best]), box))
        members.sort(key=lambda m: (m.start_s, m.camera))
        sim = cross_camera_similarity(descriptors[rows], times.camera[rows])
        views.append(
            VehicleView(
                vehicle.global_id,
                tuple(members),
                dict(vehicle.attributes),
                None if sim is None else sim[0],
                None if sim is None else sim[1],
                overlap_seconds(times.start[rows], times.end[rows], times.camera[rows]),
            )
        )
    return views


def select(views: Sequence[VehicleView], limit: int) -> tuple[list[VehicleView], list[VehicleView]]:
    """The multi-camera and single-camera vehicles to show, multi-camera first, ``limit`` in all."""
    multi = [v for v in views if len(v.cameras) > 1][:limit]
    single = [v for v in views if len(v.cameras) == 1][: max(limit - len(multi), 0)]
    return multi, single
