"""Tracklet files: the canonical ``.npz`` format and the seed's pkl / CSV / MOTChallenge exports.

Canonical format (``*.npz``, version 1), safe to load (``allow_pickle=False``), exact
round trip of every field. All tracklets' rows are concatenated; per-tracklet
lengths split them again:

==================  =============  ===============================================
member              shape, dtype   meaning
==================  =============  ===============================================
``meta``            (B,) uint8     UTF-8 JSON: format name, version, per-tracklet
                                   ids/camera/class/attributes/zone path, optional
                                   global ids and multi-camera group attributes,
                                   ``info`` about the run that wrote it
``lengths``         (n,) int64     boxes per tracklet
``frames``          (ΣT,) int64    0-based frame indices
``bboxes``          (ΣT, 4) f32    x, y, w, h in pixels
``scores``          (ΣT,) f32      detector confidence
``feature_counts``  (n,) int64     sampled features per tracklet
``feature_dims``    (n,) int64     their dimension (0 when a tracklet has none)
``features``        (ΣK, D) f32    sampled features
``feature_frames``  (ΣK,) int64    frames the features came from
``has_mean``        (n,) bool      tracklet has a mean feature
``mean_features``   (M, D) f32     the mean features of those that have one
``has_histogram``   (n,) bool      tracklet has a colour histogram (optional member)
``histograms``      (H, B) f32     the colour histograms of those that have one
``frame_attr_i``    (ΣT_i,)        i-th per-frame attribute (name in ``meta``)
``frame_attr_has_i``(n,) bool      which tracklets carry it
==================  =============  ===============================================

CSV and MOTChallenge text use **1-based** frame numbers (``frame index + 1``) like the
MOTChallenge benchmark; everything in memory is 0-based. CSV holds the seed's columns
``frame,id,x,y,w,h,color,type,speed,plate`` (plus ``camera,global_id`` for multi-camera
results); MOTChallenge text holds ``frame,id,x,y,w,h,conf,-1,-1,-1``. Neither carries
features: only the canonical file is complete.

Every writer is atomic (``config.paths.atomic_write``).
"""

from __future__ import annotations

import io
import json
import logging
import pickle
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from config.paths import atomic_write, atomic_write_text
from mot.tracklet import Tracklet

log = logging.getLogger(__name__)

FORMAT_NAME = "vehicle_mtmc.tracklets"
FORMAT_VERSION = 1
CSV_COLUMNS = ["frame", "id", "x", "y", "w", "h", "color", "type", "speed", "plate"]
CSV_TEXT_COLUMNS = ("color", "type", "plate")
MOT_TXT_COLUMNS = ["frame", "id", "x", "y", "w", "h", "conf", "wx", "wy", "wz"]


class TrackletFileError(ValueError):
    """A tracklet file that cannot be read; the message names the file."""


class PickleNotAllowedError(PermissionError):
    """Reading a pickle was not explicitly allowed."""


@dataclass
class TrackletTable:
    """Tracklets read from a file, with the global id of each when the file has them."""

    tracklets: list[Tracklet]
    global_ids: list[int] | None = None
    groups: dict[int, dict[str, Any]] | None = None  # global id -> merged attributes
    info: dict[str, Any] = field(default_factory=dict)  # about the run that wrote the file


# --------------------------------------------------------------------------- canonical .npz


def save_tracklets(
    path: str | Path,
    tracklets: Sequence[Tracklet],
    global_ids: Sequence[int] | None = None,
    groups: dict[int, dict[str, Any]] | None = None,
    info: dict[str, Any] | None = None,
) -> None:
    """Write the canonical file; ``global_ids``/``groups`` are set for multi-camera results.

    ``info`` (JSON values) describes the run: its run id, source video, frames read, whether
    the run completed, a fingerprint of the configuration that produced it. The set of files
    a run writes is listed by its manifest (``mot.manifest``).
    """
    if global_ids is not None and len(global_ids) != len(tracklets):
        raise ValueError(f"save_tracklets: {len(global_ids)} global ids for {len(tracklets)} tracklets")
    arrays = _core_arrays(tracklets)
    attr_names = sorted({k for t in tracklets for k in t.frame_attributes})
    for i, name in enumerate(attr_names):
        arrays[f"frame_attr_{i}"], arrays[f"frame_attr_has_{i}"] = _frame_attribute(tracklets, name)
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "tracklets": [
            {
                "track_id": t.track_id,
                "camera": t.camera,
                "class_id": t.class_id,
                "attributes": _jsonable(t.attributes, f"tracklet {t.track_id} attributes"),
                "zone_path": t.zone_path,
            }
            for t in tracklets
        ],
        "frame_attributes": attr_names,
        "global_ids": None if global_ids is None else [int(g) for g in global_ids],
        "groups": None
        if groups is None
        else [
            {"global_id": int(g), "attributes": _jsonable(a, f"global id {g} attributes")}
            for g, a in groups.items()
        ],
        "info": _jsonable(info or {}, "info"),
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def _core_arrays(tracklets: Sequence[Tracklet]) -> dict[str, np.ndarray]:
    dims = {t.features.shape[1] for t in tracklets if len(t.features)}
    mean_dims = {len(t.mean_feature) for t in tracklets if t.mean_feature is not None}
    if len(dims) > 1 or len(mean_dims) > 1:
        raise ValueError(
            f"save_tracklets: features of different dimensions {sorted(dims | mean_dims)} in one file"
        )
    dim = dims.pop() if dims else 0
    mean_dim = mean_dims.pop() if mean_dims else 0
    with_features = [t for t in tracklets if len(t.features)]
    with_mean = [t.mean_feature for t in tracklets if t.mean_feature is not None]
    histograms = [t.color_histogram for t in tracklets if t.color_histogram is not None]
    if len({len(h) for h in histograms}) > 1:
        raise ValueError("save_tracklets: colour histograms of different lengths in one file")
    return {
        "lengths": np.array([len(t) for t in tracklets], np.int64),
        "frames": _concat([t.frames for t in tracklets], np.int64, (0,)),
        "bboxes": _concat([t.bboxes for t in tracklets], np.float32, (0, 4)),
        "scores": _concat([t.scores for t in tracklets], np.float32, (0,)),
        "feature_counts": np.array([len(t.features) for t in tracklets], np.int64),
        "feature_dims": np.array([t.features.shape[1] for t in tracklets], np.int64),
        "features": _concat([t.features for t in with_features], np.float32, (0, dim)),
        "feature_frames": _concat([t.feature_frames for t in tracklets], np.int64, (0,)),
        "has_mean": np.array([t.mean_feature is not None for t in tracklets], bool),
        "mean_features": np.stack(with_mean).astype(np.float32)
        if with_mean
        else np.zeros((0, mean_dim), np.float32),
        "has_histogram": np.array([t.color_histogram is not None for t in tracklets], bool),
        "histograms": np.stack(histograms).astype(np.float32) if histograms else np.zeros((0, 0), np.float32),
    }


def _concat(parts: list[np.ndarray], dtype: type, empty_shape: tuple[int, ...]) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(empty_shape, dtype)


def _frame_attribute(tracklets: Sequence[Tracklet], name: str) -> tuple[np.ndarray, np.ndarray]:
    has = np.array([name in t.frame_attributes for t in tracklets], bool)
    parts = [t.frame_attributes[name] for t in tracklets if name in t.frame_attributes]
    dtypes = {p.dtype for p in parts}
    if len(dtypes) > 1 or next(iter(dtypes)).kind == "O":
        raise ValueError(
            f"save_tracklets: frame attribute {name!r} must have one numeric or string dtype "
            f"across tracklets, got {sorted(map(str, dtypes))}"
        )
    return np.concatenate(parts), has


def _jsonable(value: Any, where: str) -> Any:
    """Plain JSON values; numpy scalars become Python scalars, anything else is refused."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(
        f"{where}: {type(value).__name__} values cannot be stored; use str, numbers, lists or dicts"
    )


def load_tracklet_file(path: str | Path) -> TrackletTable:
    """Read a canonical ``.npz`` tracklet file (never executes code from it)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise TrackletFileError(f"{path}: tracklet file not found") from None
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise TrackletFileError(f"{path}: not a readable tracklet file ({err})") from err
    if "meta" not in arrays:
        raise TrackletFileError(f"{path}: not a tracklet file (no 'meta' member)")
    meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    if meta.get("format") != FORMAT_NAME:
        raise TrackletFileError(f"{path}: format {meta.get('format')!r} is not {FORMAT_NAME!r}")
    if meta.get("version", 0) > FORMAT_VERSION:
        raise TrackletFileError(
            f"{path}: format version {meta['version']} is newer than this program "
            f"reads ({FORMAT_VERSION}); upgrade vehicle-mtmc"
        )
    try:
        tracklets = _split_tracklets(arrays, meta)
    except (KeyError, ValueError) as err:
        raise TrackletFileError(f"{path}: corrupt tracklet file ({err})") from err
    groups = None if meta["groups"] is None else {g["global_id"]: g["attributes"] for g in meta["groups"]}
    return TrackletTable(tracklets, meta["global_ids"], groups, meta.get("info", {}))


def _split_tracklets(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> list[Tracklet]:
    lengths, counts, dims = arrays["lengths"], arrays["feature_counts"], arrays["feature_dims"]
    row_ends = np.cumsum(lengths)
    feat_ends = np.cumsum(counts)
    mean_index = np.cumsum(arrays["has_mean"]) - 1
    has_histogram = arrays.get("has_histogram", np.zeros(len(lengths), bool))  # absent in older files
    histogram_index = np.cumsum(has_histogram) - 1
    frame_attrs = []
    for i, name in enumerate(meta["frame_attributes"]):
        has = arrays[f"frame_attr_has_{i}"]
        ends = np.cumsum(np.where(has, lengths, 0))
        frame_attrs.append((name, has, ends, arrays[f"frame_attr_{i}"]))
    tracklets = []
    for i, info in enumerate(meta["tracklets"]):
        rows = slice(row_ends[i] - lengths[i], row_ends[i])
        feats = slice(feat_ends[i] - counts[i], feat_ends[i])
        features = arrays["features"][feats] if counts[i] else np.zeros((0, dims[i]), np.float32)
        tracklets.append(
            Tracklet(
                track_id=info["track_id"],
                camera=info["camera"],
                class_id=info["class_id"],
                frames=arrays["frames"][rows],
                bboxes=arrays["bboxes"][rows],
                scores=arrays["scores"][rows],
                features=features,
                feature_frames=arrays["feature_frames"][feats],
                mean_feature=arrays["mean_features"][mean_index[i]] if arrays["has_mean"][i] else None,
                color_histogram=arrays["histograms"][histogram_index[i]] if has_histogram[i] else None,
                attributes=info["attributes"],
                zone_path=info["zone_path"],
                frame_attributes={
                    name: values[ends[i] - lengths[i] : ends[i]]
                    for name, has, ends, values in frame_attrs
                    if has[i]
                },
            )
        )
    return tracklets


# --------------------------------------------------------------------------- pickle (opt-in)


def save_pickle(path: str | Path, objects: Sequence[Any]) -> None:
    """The seed's ``.pkl`` export, for compatibility; prefer the canonical file."""
    with atomic_write(path) as f:
        pickle.dump(list(objects), f, protocol=pickle.HIGHEST_PROTOCOL)


def load_pickle(path: str | Path, allow_pickle: bool = False) -> list[Any]:
    """Unpickle a list; refuses unless ``allow_pickle`` because unpickling runs code from the file."""
    path = Path(path)
    if not allow_pickle:
        raise PickleNotAllowedError(
            f"{path}: reading a pickle executes code stored in the file. Pass allow_pickle=True "
            "(config MTMC.ALLOW_PICKLE: true) only for files you trust, or use the canonical .npz files."
        )
    log.warning("unpickling %s: this runs code from the file; only do this for files you trust", path)
    with path.open("rb") as f:
        objects = pickle.load(f)
    if not isinstance(objects, list):
        raise TrackletFileError(f"{path}: expected a pickled list, got {type(objects).__name__}")
    return objects


# --------------------------------------------------------------------------- CSV


def save_csv(
    path: str | Path, tracklets: Sequence[Tracklet], global_ids: Sequence[int] | None = None
) -> None:
    """One row per box with the seed's columns; ``camera,global_id`` added for multi-camera results."""
    frames = [t.frames + 1 for t in tracklets]
    n_rows = [len(t) for t in tracklets]
    columns: dict[str, Any] = {
        "frame": _concat(frames, np.int64, (0,)),
        "id": np.repeat([t.track_id for t in tracklets], n_rows).astype(np.int64),
    }
    boxes = _concat([t.bboxes for t in tracklets], np.float32, (0, 4))
    for j, name in enumerate("xywh"):
        columns[name] = boxes[:, j]
    for name in ("color", "type"):
        columns[name] = np.repeat([str(t.attributes.get(name, "")) for t in tracklets], n_rows)
    columns["speed"] = _concat(
        [t.frame_attributes.get("speed", np.full(len(t), np.nan)).astype(np.float64) for t in tracklets],
        np.float64,
        (0,),
    )
    columns["plate"] = np.repeat([str(t.attributes.get("plate", "")) for t in tracklets], n_rows)
    if global_ids is not None:
        columns["camera"] = np.repeat([t.camera for t in tracklets], n_rows).astype(np.int64)
        columns["global_id"] = np.repeat(np.asarray(global_ids, np.int64), n_rows)
    table = pd.DataFrame(columns)
    sort_keys = ["frame", "camera", "id"] if global_ids is not None else ["frame", "id"]
    table = table.sort_values(sort_keys, kind="stable")
    atomic_write_text(path, table.to_csv(index=False, na_rep=""))


def load_csv(path: str | Path, camera: int = 0) -> TrackletTable:
    """Tracklets from a CSV written by ``save_csv`` (``camera`` used when the file has no camera column)."""
    path = Path(path)
    try:
        table = pd.read_csv(
            path, dtype={c: str for c in CSV_TEXT_COLUMNS}, keep_default_na=False, na_values={"speed": [""]}
        )
    except (OSError, ValueError) as err:
        raise TrackletFileError(f"{path}: cannot read CSV ({err})") from err
    missing = [c for c in CSV_COLUMNS if c not in table.columns]
    if missing:
        raise TrackletFileError(f"{path}: missing CSV column(s) {', '.join(missing)}")
    if "camera" not in table.columns:
        table["camera"] = camera
    has_global = "global_id" in table.columns
    table = table.sort_values(["camera", "id", "frame"], kind="stable")
    tracklets, global_ids = [], []
    for (cam, track_id), rows in table.groupby(["camera", "id"], sort=False):
        attributes = {name: rows[name].iloc[0] for name in CSV_TEXT_COLUMNS if rows[name].iloc[0] != ""}
        speed = rows["speed"].to_numpy(np.float64)
        frame_attributes = {} if np.isnan(speed).all() else {"speed": speed}
        try:
            tracklets.append(
                Tracklet(
                    track_id=track_id,
                    camera=cam,
                    frames=rows["frame"].to_numpy(np.int64) - 1,
                    bboxes=rows[["x", "y", "w", "h"]].to_numpy(np.float32),
                    scores=np.ones(len(rows), np.float32),
                    attributes=attributes,
                    frame_attributes=frame_attributes,
                )
            )
        except ValueError as err:
            raise TrackletFileError(f"{path}: {err}") from err
        if has_global:
            global_ids.append(int(rows["global_id"].iloc[0]))
    return TrackletTable(tracklets, global_ids if has_global else None)


# --------------------------------------------------------------------------- MOTChallenge text


def save_mot_txt(path: str | Path, tracklets: Sequence[Tracklet], ids: Sequence[int] | None = None) -> None:
    """MOTChallenge rows ``frame,id,x,y,w,h,conf,-1,-1,-1``; ``ids`` replaces track ids (global ids)."""
    ids = [t.track_id for t in tracklets] if ids is None else list(ids)
    n_rows = [len(t) for t in tracklets]
    boxes = _concat([t.bboxes for t in tracklets], np.float32, (0, 4))
    table = pd.DataFrame(
        {
            "frame": _concat([t.frames + 1 for t in tracklets], np.int64, (0,)),
            "id": np.repeat(np.asarray(ids, np.int64), n_rows),
            "x": boxes[:, 0],
            "y": boxes[:, 1],
            "w": boxes[:, 2],
            "h": boxes[:, 3],
            "conf": _concat([t.scores for t in tracklets], np.float32, (0,)),
        }
    )
    for col in ("wx", "wy", "wz"):
        table[col] = -1
    table = table.sort_values(["frame", "id"], kind="stable")
    atomic_write_text(path, table.to_csv(index=False, header=False))


def load_mot_txt(path: str | Path, camera: int = 0) -> TrackletTable:
    """Tracklets from MOTChallenge text (comma- or whitespace-separated, at least 7 columns)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise TrackletFileError(f"{path}: cannot read ({err.strerror})") from err
    if not text.strip():
        return TrackletTable([])
    sep = "," if "," in text.split("\n", 1)[0] else r"\s+"
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep, header=None, engine="c" if sep == "," else "python")
    except ValueError as err:
        raise TrackletFileError(f"{path}: not MOTChallenge text ({err})") from err
    if table.shape[1] < 7:
        raise TrackletFileError(
            f"{path}: expected at least 7 columns (frame,id,x,y,w,h,conf), got {table.shape[1]}"
        )
    frame, ids = table[0].to_numpy(np.int64), table[1].to_numpy(np.int64)
    boxes = table[[2, 3, 4, 5]].to_numpy(np.float32)
    conf = table[6].to_numpy(np.float32)
    order = np.lexsort((frame, ids))
    frame, ids, boxes, conf = frame[order], ids[order], boxes[order], conf[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    try:
        tracklets = [
            Tracklet(
                track_id=ids[s], camera=camera, frames=frame[s:e] - 1, bboxes=boxes[s:e], scores=conf[s:e]
            )
            for s, e in zip(starts, ends, strict=True)
        ]
    except ValueError as err:
        raise TrackletFileError(f"{path}: {err}") from err
    return TrackletTable(tracklets)


# --------------------------------------------------------------------------- dispatch


def load_tracklets(path: str | Path, allow_pickle: bool = False, camera: int = 0) -> TrackletTable:
    """Read any supported tracklet file, chosen by suffix (.npz, .pkl, .csv, .txt)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_tracklet_file(path)
    if suffix == ".csv":
        return load_csv(path, camera)
    if suffix == ".txt":
        return load_mot_txt(path, camera)
    if suffix == ".pkl":
        objects = load_pickle(path, allow_pickle)
        bad = next((type(o).__name__ for o in objects if not isinstance(o, Tracklet)), None)
        if bad is not None:
            raise TrackletFileError(f"{path}: expected pickled Tracklet objects, found {bad}")
        return TrackletTable(objects)
    raise TrackletFileError(
        f"{path}: unknown tracklet file type '{suffix}' (expected .npz, .pkl, .csv or .txt)"
    )


def save_all(
    output_dir: str | Path,
    stem: str,
    tracklets: Sequence[Tracklet],
    global_ids: Sequence[int] | None = None,
    groups: dict[int, dict[str, Any]] | None = None,
    info: dict[str, Any] | None = None,
) -> list[Path]:
    """Write ``stem``.npz (canonical), .pkl, .csv and .txt into ``output_dir``; returns the paths.

    The canonical file is written last, so its presence marks a complete set.
    """
    out = Path(output_dir)
    paths = [out / f"{stem}.pkl", out / f"{stem}.csv", out / f"{stem}.txt", out / f"{stem}.npz"]
    save_pickle(paths[0], tracklets)
    save_csv(paths[1], tracklets, global_ids)
    save_mot_txt(paths[2], tracklets, global_ids)
    save_tracklets(paths[3], tracklets, global_ids, groups, info)
    return paths
