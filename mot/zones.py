"""Zones of a camera view: which zone each box is in, each track's zone path, and the valid-path filter.

``MOT.ZONE_MASK_DIR`` holds either one mask per zone, ``zone<N>.<ext>`` (N >= 1; non-black
pixels are inside; where masks overlap the smaller N wins), or one image ``zones.png`` whose
grey value is the zone id (0: no zone). A box is in the zone under its bottom centre, where
the vehicle touches the road. A track's zone path is its sequence of zones with repeats
collapsed and "no zone" left out (vehicles cross unzoned ground between zones).

``MOT.VALID_ZONEPATHS`` items are either zone-id lists (the path must be exactly that) or
regular expressions matched against the comma-joined path (``"1,.*,3"``); a track whose path
matches none is dropped. An empty list keeps every track.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mot.speed import ground_points
from mot.tracklet import Tracklet

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
ZONE_FILE = re.compile(r"^zone(\d+)$")


class ZoneError(ValueError):
    """Zone masks that cannot be used; the message names the file."""


def load_zones(directory: str | Path) -> np.ndarray:
    """(H, W) int32 zone id of every pixel."""
    directory = Path(directory)
    single = [p for p in directory.glob("zones.*") if p.suffix.lower() in IMAGE_SUFFIXES]
    if single:
        image = cv2.imread(str(single[0]), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise ZoneError(f"{single[0]}: cannot read the zone image")
        return image.astype(np.int32)
    masks = sorted(
        (
            (int(m.group(1)), p)
            for p in directory.iterdir()
            if (m := ZONE_FILE.match(p.stem)) and p.suffix.lower() in IMAGE_SUFFIXES
        ),
        reverse=True,
    )
    if not masks:
        raise ZoneError(f"{directory}: no zone masks (zone1.png, zone2.png, ... or one zones.png)")
    labels: np.ndarray | None = None
    for zone, path in masks:  # highest id first, so that smaller ids are painted last and win
        if zone == 0:
            raise ZoneError(f"{path}: zone 0 means 'no zone'; number zones from 1")
        mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise ZoneError(f"{path}: cannot read the zone mask")
        if labels is None:
            labels = np.zeros(mask.shape, np.int32)
        if mask.shape != labels.shape:
            raise ZoneError(f"{path}: size {mask.shape[1]}x{mask.shape[0]} differs from the other zone masks")
        labels[mask > 127] = zone
    return labels  # type: ignore[return-value]


def zones_of_boxes(labels: np.ndarray, bboxes_xywh: np.ndarray) -> np.ndarray:
    """(T,) zone under each box's bottom centre (0 outside every zone or outside the image)."""
    points = np.floor(ground_points(bboxes_xywh)).astype(np.int64)
    h, w = labels.shape
    inside = (points[:, 0] >= 0) & (points[:, 0] < w) & (points[:, 1] >= 0) & (points[:, 1] < h)
    out = np.zeros(len(points), np.int32)
    out[inside] = labels[points[inside, 1], points[inside, 0]]
    return out


def zone_path(zones: np.ndarray) -> list[int]:
    kept = [int(z) for z in zones if z != 0]
    return [z for i, z in enumerate(kept) if i == 0 or z != kept[i - 1]]


def path_matches(path: Sequence[int], patterns: Sequence[Any]) -> bool:
    text = ",".join(map(str, path))
    for pattern in patterns:
        if isinstance(pattern, str):
            if re.fullmatch(pattern, text):
                return True
        elif list(map(int, pattern)) == list(path):
            return True
    return False


def apply_zones(
    tracklets: Sequence[Tracklet], labels: np.ndarray, valid_paths: Sequence[Any] = ()
) -> list[Tracklet]:
    """Tracklets with per-frame ``zone`` and their ``zone_path``; those on no valid path are dropped."""
    out, dropped = [], 0
    for t in tracklets:
        zones = zones_of_boxes(labels, t.bboxes)
        path = zone_path(zones)
        if valid_paths and not path_matches(path, valid_paths):
            dropped += 1
            continue
        out.append(replace(t, frame_attributes={**t.frame_attributes, "zone": zones}, zone_path=path))
    if valid_paths:
        log.info("zones: %d tracklets on a valid zone path, %d dropped", len(out), dropped)
    return out
