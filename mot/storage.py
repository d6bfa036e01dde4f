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

import csv
import io
import json
import logging
import math
import pickle
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from config.paths import atomic_write, atomic_write_text
from mot.tracklet import Tracklet

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

FORMAT_NAME = "vehicle_mtmc.tracklets"
FORMAT_VERSION = 1
CSV_COLUMNS = ["frame", "id", "x", "y", "w", "h", "color", "type", "speed", "plate"]
CSV_TEXT_COLUMNS = ("color", "type", "plate")
FLOAT32_MAX = float(np.finfo(np.float32).max)  # boxes are stored as float32
MOT_TXT_COLUMNS = ["frame", "id", "x", "y", "w", "h", "conf", "wx", "wy", "wz"]


class TrackletFileError(ValueError):
    """A tracklet file that cannot be read; the message names the file."""


class TableError(ValueError):
    """A text file that is not a table of numbers; the message names the file and line."""


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
    arrays = tracklet_arrays(tracklets, global_ids, groups, info)
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def tracklet_arrays(
    tracklets: Sequence[Tracklet],
    global_ids: Sequence[int] | None = None,
    groups: dict[int, dict[str, Any]] | None = None,
    info: dict[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """The members of the canonical file (``save_tracklets``; the live checkpoint records reuse them)."""
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
    return arrays


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
    """Read a canonical ``.npz`` tracklet file (never executes code from it).

    Raises:
        TrackletFileError: for any file that is missing, truncated, not an ``.npz`` archive or
            not written by ``save_tracklets``; the message names the file.
    """
    path = Path(path)
    arrays = _read_npz(path)
    return table_from_arrays(arrays, path)


def table_from_arrays(arrays: dict[str, np.ndarray], path: str | Path) -> TrackletTable:
    """The tracklets of canonical members read from ``path`` (a file, or a record in one)."""
    if "meta" not in arrays:
        raise TrackletFileError(f"{path}: not a tracklet file (no 'meta' member)")
    meta = _read_meta(Path(path), arrays["meta"])
    try:
        _check_sizes(arrays, meta)
        tracklets = _split_tracklets(arrays, meta)
        groups = None if meta["groups"] is None else {g["global_id"]: g["attributes"] for g in meta["groups"]}
        table = TrackletTable(tracklets, meta["global_ids"], groups, meta.get("info", {}))
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as err:
        raise TrackletFileError(f"{path}: corrupt tracklet file ({type(err).__name__}: {err})") from err
    return table


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` archive, with messages that say what the file is instead."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise TrackletFileError(f"{path}: tracklet file not found") from None
    except OSError as err:
        raise TrackletFileError(f"{path}: cannot read ({err.strerror})") from None
    if path.is_dir():
        raise TrackletFileError(f"{path}: is a folder, not a tracklet file")
    if size == 0:
        raise TrackletFileError(f"{path}: empty file (0 bytes), not a tracklet file")
    # numpy treats a non-zip file as a pickle and suggests allow_pickle: say what it really is.
    if not zipfile.is_zipfile(path):
        raise TrackletFileError(f"{path}: not an .npz archive (text, a pickle or a truncated file?)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except OSError as err:
        raise TrackletFileError(f"{path}: cannot read ({err.strerror or err})") from err
    except (ValueError, EOFError, zipfile.BadZipFile, KeyError, NotImplementedError) as err:
        reason = "holds Python objects, never loaded" if "pickle" in str(err) else str(err)
        raise TrackletFileError(f"{path}: damaged .npz archive ({reason})") from err


def _read_meta(path: Path, meta: np.ndarray) -> dict[str, Any]:
    try:
        parsed = json.loads(meta.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TrackletFileError(f"{path}: corrupt tracklet metadata (not UTF-8 JSON: {err})") from err
    if not isinstance(parsed, dict):
        raise TrackletFileError(f"{path}: corrupt tracklet metadata (expected a JSON object)")
    if parsed.get("format") != FORMAT_NAME:
        raise TrackletFileError(f"{path}: format {parsed.get('format')!r} is not {FORMAT_NAME!r}")
    version = parsed.get("version", 0)
    if not isinstance(version, int):
        raise TrackletFileError(f"{path}: corrupt tracklet metadata (version {version!r})")
    if version > FORMAT_VERSION:
        raise TrackletFileError(
            f"{path}: format version {version} is newer than this program "
            f"reads ({FORMAT_VERSION}); upgrade vehicle-mtmc"
        )
    return parsed


def _check_sizes(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """The members agree on the number of tracklets, boxes and features (a damaged file may not)."""
    n = len(meta["tracklets"])
    for name in ("lengths", "feature_counts", "feature_dims", "has_mean"):
        if len(arrays[name]) != n:
            raise ValueError(f"'{name}' has {len(arrays[name])} entries for {n} tracklets")
    for name in ("lengths", "feature_counts"):
        if arrays[name].dtype.kind not in "iu" or (arrays[name] < 0).any():
            raise ValueError(f"'{name}' must hold non-negative integers")
    sizes = (
        (("frames", "bboxes", "scores"), int(arrays["lengths"].sum()), "boxes"),
        (("features", "feature_frames"), int(arrays["feature_counts"].sum()), "features"),
        (("mean_features",), int(np.count_nonzero(arrays["has_mean"])), "mean features"),
    )
    for names, total, what in sizes:
        for name in names:
            if len(arrays[name]) != total:
                raise ValueError(f"'{name}' has {len(arrays[name])} rows for {total} {what}")


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
    try:
        with path.open("rb") as f:
            objects = pickle.load(f)
    except FileNotFoundError:
        raise TrackletFileError(f"{path}: tracklet file not found") from None
    except OSError as err:
        raise TrackletFileError(f"{path}: cannot read ({err.strerror})") from err
    except Exception as err:  # unpickling can fail in any way the file's contents choose
        raise TrackletFileError(f"{path}: not a readable pickle ({type(err).__name__}: {err})") from err
    if not isinstance(objects, list):
        raise TrackletFileError(f"{path}: expected a pickled list, got {type(objects).__name__}")
    return objects


# --------------------------------------------------------------------------- CSV


def save_csv(
    path: str | Path, tracklets: Sequence[Tracklet], global_ids: Sequence[int] | None = None
) -> None:
    """One row per box with the seed's columns; ``camera,global_id`` added for multi-camera results."""
    import pandas as pd  # only for CSV tables: keeps the start-up light

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
    import pandas as pd  # only for CSV tables: keeps the start-up light

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
    integers = ["frame", "id", "camera"] + (["global_id"] if has_global else [])
    for name in [*integers, "x", "y", "w", "h", "speed"]:
        table[name] = _csv_numbers(table, name, path, integer=name in integers, optional=name == "speed")
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


def _csv_numbers(table: pd.DataFrame, name: str, path: Path, integer: bool, optional: bool) -> pd.Series:
    """Column ``name`` as numbers; ``TrackletFileError`` naming the first line that has something else."""
    import pandas as pd  # only for CSV tables: keeps the start-up light

    values = pd.to_numeric(table[name], errors="coerce").astype(np.float64)
    bad = ~(values.abs() <= FLOAT32_MAX) & ~(optional & table[name].isna())
    if integer:
        bad |= (values != np.round(values)) | (values.abs() > 2**53)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        kind = "an integer" if integer else "a number"
        cell = str(table[name].iloc[row]).strip()
        found = f"is '{cell}'" if cell else "is missing"
        raise TrackletFileError(f"{path}:{row + 2}: {name} {found}, expected {kind}")
    return values.astype(np.int64) if integer else values


# --------------------------------------------------------------------------- MOTChallenge text


def save_mot_txt(path: str | Path, tracklets: Sequence[Tracklet], ids: Sequence[int] | None = None) -> None:
    """MOTChallenge rows ``frame,id,x,y,w,h,conf,-1,-1,-1``; ``ids`` replaces track ids (global ids)."""
    import pandas as pd  # only for CSV tables: keeps the start-up light

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
        table = read_number_table(path, columns=7, required=7, names="frame,id,x,y,w,h,conf")
    except TableError as err:
        raise TrackletFileError(str(err)) from None
    frame, ids = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    boxes = table[:, 2:6].astype(np.float32)
    conf = table[:, 6].astype(np.float32)
    order = np.lexsort((frame, ids))
    frame, ids, boxes, conf = frame[order], ids[order], boxes[order], conf[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, np.int64)
    ends = np.r_[starts[1:], len(ids)].astype(np.int64)
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


def read_number_table(
    path: Path, columns: int, required: int, names: str = "", integer_columns: Sequence[int] = (0, 1)
) -> np.ndarray:
    """The first ``columns`` columns (at least ``required``) of a comma- or whitespace-separated text file.

    Returns (N, C) float64, C = min(columns, columns in the file); empty files give (0, required).
    Columns after the first ``columns`` may hold anything (text labels). Every returned cell
    must be a finite number, an integer in ``integer_columns``; otherwise ``TableError`` names
    the first offending line. ``names`` (comma-separated) names the required columns in messages.
    """
    import pandas as pd  # only for CSV tables: keeps the start-up light

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise TableError(f"{path}: cannot read ({err.strerror})") from err
    except UnicodeDecodeError as err:
        raise TableError(f"{path}: not UTF-8 text (byte {err.start}); expected a table of numbers") from err
    lines = [(no + 1, line) for no, line in enumerate(text.splitlines()) if line.strip()]
    if not lines:
        return np.zeros((0, required))
    sep = "," if "," in lines[0][1] else None
    widths = [len(line.split(sep)) for _, line in lines]
    if min(widths) < required:
        no = lines[int(np.argmin(widths))][0]
        wanted = f" ({','.join(names.split(',')[:required])})" if names else ""
        raise TableError(f"{path}:{no}: expected at least {required} columns{wanted}, got {min(widths)}")
    n_cols = min(columns, max(widths))
    try:
        table = pd.read_csv(
            io.StringIO("\n".join(line for _, line in lines)),
            sep=sep or r"\s+",
            header=None,
            names=range(max(widths)),
            usecols=range(n_cols),
            quoting=csv.QUOTE_NONE,
        )
        values = table.to_numpy(np.float64)
    except ValueError:  # text in a number column: find it cell by cell
        values = np.array([[_to_number(cell) for cell in _cells(line, sep, n_cols)] for _, line in lines])
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(values) <= FLOAT32_MAX)  # also NaN, inf and what float32 cannot hold
    ints = [c for c in integer_columns if c < n_cols]
    bad[:, ints] |= (values[:, ints] != np.round(values[:, ints])) | (np.abs(values[:, ints]) > 2**53)
    if bad.any():
        row, c = np.argwhere(bad)[0]
        kind = "an integer" if c in integer_columns else "a number"
        label = names.split(",")[c] if names and c < len(names.split(",")) else f"column {c + 1}"
        cell = _cells(lines[row][1], sep, n_cols)[c]
        found = f"is {cell!r}" if cell else "is missing"
        raise TableError(f"{path}:{lines[row][0]}: {label} {found}, expected {kind}")
    return values


def _cells(line: str, sep: str | None, n: int) -> list[str]:
    return [cell.strip() for cell in (line.split(sep) + [""] * n)[:n]]


def _to_number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


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
