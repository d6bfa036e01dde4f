"""Unlabelled multi-camera material as tracklets: what the cross-camera pseudo-label loop mines.

A ``Scene`` is crops of several cameras of one place, grouped into tracklets (a tracker's track, or
one crop when nothing groups them), with each tracklet's camera and time span when known. Two
sources give one: a tracker's tracklets of several videos (``mtmc-train-reid --video ... --rounds``),
and a crop folder whose ``labels.csv`` has a camera column but no vehicle ids (``--unlabelled``):
``path,camera_id`` and optionally ``track_id`` (crops of one track), ``frame`` (the camera's frame
number) or ``time`` (seconds on a clock common to the cameras). A column named by ``truth=`` is kept
apart, only to report how precise the pseudo-labels are; nothing that chooses pairs reads it.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from config.layout import CameraLayout
from reid.training.crosscam import coexisting
from reid.training.sources import Sample


class LayoutPairs(Protocol):
    """A camera layout and its verdict on tracklet pairs (``mtmc.compatibility.LayoutPairs`` is one;
    the caller passes it, so this stage does not import mtmc): called with (camera index, start, end)
    of T tracklets on the layout's clock, returns ``(allowed, possible)``, (T, T) bool."""

    layout: CameraLayout

    def __call__(
        self, camera: np.ndarray, start: np.ndarray, end: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True, eq=False)
class Scene:
    """Tracklets of several cameras of one place.

    Attributes:
        name: source name (identities are prefixed with it).
        samples: the crops; ``identity`` is the tracklet key, ``span`` its frame span when known.
        tracklet: (N,) tracklet row of each sample.
        camera: (T,) camera of each tracklet.
        allowed: (T, T) bool, cross-camera pairs inside the layout's windows; None: no layout.
        cannot: (T, T) bool, pairs that cannot be one vehicle (coexisting in one camera, impossible).
        truth: (T,) true vehicle of each tracklet, for reporting only; None when not given.
    """

    name: str
    samples: tuple[Sample, ...]
    tracklet: np.ndarray
    camera: np.ndarray
    allowed: np.ndarray | None
    cannot: np.ndarray
    truth: np.ndarray | None = None

    @property
    def tracklets(self) -> int:
        return len(self.camera)


def build_scene(
    name: str,
    samples: Sequence[Sample],
    spans: np.ndarray,
    layout: LayoutPairs | None = None,
    truth: Sequence[str] | None = None,
    seconds: bool = False,
) -> Scene:
    """A scene of ``samples`` grouped by ``identity`` (tracklet key).

    Args:
        spans: (N, 2) float start/end of each sample's tracklet in its camera's frames (or in
            seconds with ``layout is None``), NaN when unknown.
        layout: with it, cameras are its indices (``int(camera)``), spans are frames turned into
            common-clock seconds (unless ``seconds``: already on that clock), and pairs must fall
            inside its transition windows.
        truth: (N,) true vehicle per sample (reporting only).
    """
    keys, first, inverse = np.unique([s.identity for s in samples], return_index=True, return_inverse=True)
    order = np.argsort(first)  # tracklets numbered in order of first appearance
    first, tracklet = first[order], np.argsort(order)[inverse]
    camera = np.array([samples[f].camera for f in first])
    start, end = np.asarray(spans, float)[first].T
    allowed = None
    cannot = coexisting(camera, start, end)
    if layout is not None:
        index = _layout_cameras(camera, layout.layout, name)
        if not seconds:
            start, end = layout.layout.global_time(index, start), layout.layout.global_time(index, end)
        allowed, possible = layout(index, start, end)
        allowed = allowed & (camera[:, None] != camera[None, :])
        cannot = ~possible & ~np.eye(len(keys), dtype=bool)
    return Scene(
        name, tuple(samples), tracklet, camera, allowed, cannot, _majority(truth, tracklet, len(keys))
    )


def _layout_cameras(camera: np.ndarray, layout: CameraLayout, name: str) -> np.ndarray:
    try:
        index = np.array([int(c) for c in camera], np.int64)
    except ValueError:
        raise ValueError(
            f"{name}: with a layout, cameras must be its 0-based indices, got {camera[0]!r}"
        ) from None
    if index.min() < 0 or index.max() >= layout.n_cams:
        raise ValueError(f"{name}: camera {int(index.max())} is outside the layout's {layout.n_cams} cameras")
    return index


def _majority(truth: Sequence[str] | None, tracklet: np.ndarray, count: int) -> np.ndarray | None:
    if truth is None:
        return None
    out = np.empty(count, dtype=object)
    for t in range(count):
        values, counts = np.unique(np.asarray(truth)[tracklet == t], return_counts=True)
        out[t] = values[np.argmax(counts)]
    return out.astype(str)


def unlabelled_crops(
    path: Path, split: str | None = None, name: str = "", truth_column: str = ""
) -> tuple[list[Sample], np.ndarray, list[str] | None, bool]:
    """(samples, (N, 2) spans, truth, spans in seconds) of an unlabelled ``labels.csv`` (module docstring).

    Each ``track_id`` of a camera is one tracklet (its span: the first and last ``frame``/``time``
    of its crops); without the column every crop is a tracklet of its own.
    """
    path = Path(path)
    name = name or path.parent.name
    rows = _rows(path, split, truth_column)
    when = "time" if rows and "time" in rows[0] else "frame" if rows and "frame" in rows[0] else ""
    samples, moments = [], []
    for line, row in enumerate(rows):
        track = row.get("track_id") or f"crop{line}"
        moment = float(row[when]) if when else np.nan
        samples.append(
            Sample(
                path.parent / row["path"],
                f"{name}:{row['camera_id']}:{track}",
                row["camera_id"],
                name,
                int(moment) if when == "frame" else -1,
            )
        )
        moments.append(moment)
    moments_arr = np.array(moments)
    spans = np.full((len(samples), 2), np.nan)
    keys = np.array([s.identity for s in samples])
    for key in np.unique(keys) if when else ():
        rows_of = keys == key
        spans[rows_of] = moments_arr[rows_of].min(), moments_arr[rows_of].max()
    truth = [row[truth_column] for row in rows] if truth_column else None
    return samples, spans, truth, when == "time"


def _rows(path: Path, split: str | None, truth_column: str) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = set(reader.fieldnames or ())
        missing = {"path", "camera_id"} - fields
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}; expected path,camera_id")
        for column, what in ((truth_column, "truth="), ("split" if split else "", "split=")):
            if column and column not in fields:
                raise ValueError(f"{path}: no {column!r} column for {what}")
        rows = [r for r in reader if split is None or r["split"] == split]
    if not rows:
        raise ValueError(f"{path}: no crops" + (f" in split {split!r}" if split else ""))
    return rows


def video_scene(
    per_camera: Sequence[list[Sample]], layout: LayoutPairs | None = None, name: str = "footage"
) -> Scene:
    """One scene of the tracklet samples of several videos (``reid.training.pseudo``), camera i = video i."""
    samples, spans = [], []
    for index, found in enumerate(per_camera):
        for s in found:
            samples.append(
                replace(s, identity=f"{name}:{index}:{s.identity}", camera=str(index), source=name)
            )
            spans.append(s.span if s.span is not None else (np.nan, np.nan))
    return build_scene(name, samples, np.asarray(spans, float), layout)
