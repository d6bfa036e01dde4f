"""Ground-truth and prediction files -> ``BoxRows`` (one row per box), the input of the metrics.

Readers: MOTChallenge text (``frame,id,x,y,w,h,conf,...``), AI City Challenge multi-camera
ground truth (``camera_id vehicle_id frame x y w h -1 -1``), UA-DETRAC XML, and tracklets
in memory. Frame numbers are kept as the files have them (1-based in all three formats);
tracklets, 0-based in memory, are shifted to match. Multi-camera rows carry their camera:
metrics key every box by (camera, frame), never by a frame number stitched across cameras.
"""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mot.exports import TableError, read_number_table
from mot.tracklet import Tracklet

log = logging.getLogger(__name__)
MOT_COLUMNS = "frame,id,x,y,w,h,conf"
AIC_COLUMNS = "camera_id,vehicle_id,frame,x,y,w,h"


class AnnotationError(ValueError):
    """An annotation file that cannot be read; the message names the file."""


@dataclass(frozen=True, eq=False)
class BoxRows:
    """Boxes of one sequence or of several cameras.

    Attributes:
        camera: (N,) int64 camera of each box (0 for a single sequence).
        frame: (N,) int64 frame number as in the source files (1-based).
        track_id: (N,) int64 identity (ground-truth id, track id or global id).
        xywh: (N, 4) float64 left, top, width, height in pixels.
        ignored: (K, 5) float64 ``camera, x, y, w, h`` regions where unmatched predictions
            are not counted (UA-DETRAC's ignored regions); usually empty.
    """

    camera: np.ndarray
    frame: np.ndarray
    track_id: np.ndarray
    xywh: np.ndarray
    ignored: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))

    def __post_init__(self) -> None:
        n = len(self.frame)
        object.__setattr__(self, "camera", np.broadcast_to(np.asarray(self.camera, np.int64), (n,)).copy())
        object.__setattr__(self, "frame", np.asarray(self.frame, np.int64).reshape(-1))
        object.__setattr__(self, "track_id", np.asarray(self.track_id, np.int64).reshape(-1))
        object.__setattr__(self, "xywh", np.asarray(self.xywh, np.float64).reshape(-1, 4))
        object.__setattr__(self, "ignored", np.asarray(self.ignored, np.float64).reshape(-1, 5))
        for name in ("track_id", "xywh"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"BoxRows.{name}: expected {n} rows like frame, got {len(getattr(self, name))}"
                )

    def __len__(self) -> int:
        return len(self.frame)

    def select(self, keep: np.ndarray) -> BoxRows:
        return BoxRows(
            self.camera[keep], self.frame[keep], self.track_id[keep], self.xywh[keep], self.ignored
        )

    def for_camera(self, camera: int) -> BoxRows:
        rows = self.select(self.camera == camera)
        ignored = self.ignored[self.ignored[:, 0] == camera]
        return BoxRows(rows.camera, rows.frame, rows.track_id, rows.xywh, ignored)

    @staticmethod
    def concat(parts: Sequence[BoxRows]) -> BoxRows:
        if not parts:
            return BoxRows(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros((0, 4)))
        return BoxRows(
            np.concatenate([p.camera for p in parts]),
            np.concatenate([p.frame for p in parts]),
            np.concatenate([p.track_id for p in parts]),
            np.concatenate([p.xywh for p in parts]),
            np.concatenate([p.ignored for p in parts]),
        )


def read_mot_challenge(path: str | Path, camera: int = 0, drop_zero_flag: bool = True) -> BoxRows:
    """MOTChallenge text, comma- or whitespace-separated, at least 6 columns.

    With ``drop_zero_flag`` rows whose 7th column is exactly 0 are dropped: in MOTChallenge
    ground truth that flag marks boxes to ignore.
    """
    path = Path(path)
    table = _read_table(path, columns=7, required=6, names=MOT_COLUMNS, integer_columns=(0, 1))
    if drop_zero_flag and table.shape[1] >= 7:
        table = table[table[:, 6] != 0]
    return BoxRows(camera, table[:, 0], table[:, 1], table[:, 2:6])


def read_aic_ground_truth(path: str | Path) -> BoxRows:
    """AI City Challenge multi-camera ground truth: ``camera_id vehicle_id frame x y w h ...``.

    Cameras are renumbered 0, 1, ... in increasing ``camera_id`` order.
    """
    table = _read_table(Path(path), columns=7, required=7, names=AIC_COLUMNS, integer_columns=(0, 1, 2))
    camera_ids = table[:, 0].astype(np.int64)
    cameras = np.searchsorted(np.unique(camera_ids), camera_ids)
    return BoxRows(cameras, table[:, 2], table[:, 1], table[:, 3:7])


def aic_camera_ids(path: str | Path) -> list[int]:
    """Original camera ids of an AI City ground-truth file, in the order ``read_aic_ground_truth`` uses."""
    table = _read_table(Path(path), columns=7, required=7, names=AIC_COLUMNS, integer_columns=(0, 1, 2))
    return sorted(set(table[:, 0].astype(int).tolist()))


def read_detrac_xml(path: str | Path, camera: int = 0) -> BoxRows:
    """UA-DETRAC sequence annotation: targets per frame, plus the sequence's ignored regions."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as err:
        raise AnnotationError(f"{path}: cannot read UA-DETRAC XML ({err})") from err
    rows: list[tuple[float, ...]] = []
    for frame in root.iter("frame"):
        number = _attribute(frame, "num", path, "a <frame>", integer=True)
        for target in frame.iter("target"):
            where = f"frame {number:g}, target {target.get('id')}"
            box = target.find("box")
            if box is None:
                raise AnnotationError(f"{path}: {where} has no <box>")
            track_id = _attribute(target, "id", path, where, integer=True)
            rows.append((number, track_id, *_box(box, path, where)))
    ignored = [
        (camera, *_box(box, path, "an ignored region"))
        for region in root.iter("ignored_region")
        for box in region.iter("box")
    ]
    data = np.array(rows, np.float64).reshape(-1, 6)
    return BoxRows(camera, data[:, 0], data[:, 1], data[:, 2:], np.array(ignored).reshape(-1, 5))


def from_tracklets(tracklets: Sequence[Tracklet], ids: Sequence[int] | None = None) -> BoxRows:
    """Tracklet boxes as rows, frames made 1-based; ``ids`` replaces track ids (global ids)."""
    ids = [t.track_id for t in tracklets] if ids is None else list(ids)
    counts = [len(t) for t in tracklets]
    if not tracklets:
        return BoxRows.concat([])
    return BoxRows(
        np.repeat([t.camera for t in tracklets], counts),
        np.concatenate([t.frames for t in tracklets]) + 1,
        np.repeat(np.asarray(ids, np.int64), counts),
        np.concatenate([t.bboxes for t in tracklets]),
    )


def read_boxes(path: str | Path, camera: int = 0) -> BoxRows:
    """Any supported file, by suffix (``.xml`` UA-DETRAC, otherwise MOTChallenge text)."""
    return (
        read_detrac_xml(path, camera)
        if Path(path).suffix.lower() == ".xml"
        else read_mot_challenge(path, camera)
    )


def read_ground_truth(path: str | Path, camera: int = 0) -> BoxRows:
    """Ground truth by suffix, like ``read_boxes``; refuses one without boxes (every score would be 0)."""
    rows = read_boxes(path, camera)
    if not len(rows):
        raise AnnotationError(
            f"{path}: the ground truth has no boxes (an empty file, or every row flagged 0 = ignore); "
            "every score against it would be 0"
        )
    return rows


def ground_truth_problems(paths: Sequence[str | Path]) -> list[str]:
    """Why each unusable ground-truth file cannot be scored against; checked before a long run."""
    problems = []
    for path in paths:
        try:
            read_ground_truth(path)
        except AnnotationError as err:
            problems.append(str(err))
    return problems


def _box(element: ET.Element, path: Path, where: str) -> tuple[float, ...]:
    return tuple(_attribute(element, k, path, f"{where}, <box>") for k in ("left", "top", "width", "height"))


def _attribute(element: ET.Element, name: str, path: Path, where: str, integer: bool = False) -> float:
    """A finite number from an XML attribute; ``AnnotationError`` naming ``where`` otherwise."""
    text = element.get(name)
    kind = "an integer" if integer else "a number"
    if text is None:
        raise AnnotationError(f"{path}: {where} has no '{name}' attribute ({kind})")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or (integer and (value != round(value) or abs(value) > 2**53)):
        raise AnnotationError(f"{path}: {where}: '{name}' is {text!r}, expected {kind}")
    return value


def _read_table(path: Path, **kwargs) -> np.ndarray:
    try:
        return read_number_table(path, **kwargs)
    except TableError as err:
        raise AnnotationError(str(err)) from None
