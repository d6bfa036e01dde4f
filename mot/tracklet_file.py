"""The canonical tracklet file: ``*.npz`` arrays with JSON metadata, read without pickle.

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

Every writer is atomic (``config.paths.atomic_write``).
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from config.npz_safe import NpzLimitError, read_members
from config.paths import atomic_write
from mot.tracklet import Tracklet
from mot.value_checks import empty_boxes, tracklet_array_problems

log = logging.getLogger(__name__)

FORMAT_NAME = "vehicle_mtmc.tracklets"
FORMAT_VERSION = 1
CORE_MEMBERS = (
    "lengths",
    "frames",
    "bboxes",
    "scores",
    "feature_counts",
    "feature_dims",
    "features",
    "feature_frames",
    "has_mean",
    "mean_features",
    "has_histogram",
    "histograms",
)


class TrackletFileError(ValueError):
    """A tracklet file that cannot be read; the message names the file."""


@dataclass
class TrackletTable:
    """Tracklets read from a file, with the global id of each when the file has them."""

    tracklets: list[Tracklet]
    global_ids: list[int] | None = None
    groups: dict[int, dict[str, Any]] | None = None  # global id -> merged attributes
    info: dict[str, Any] = field(default_factory=dict)  # about the run that wrote the file


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
        "frames": concat_rows([t.frames for t in tracklets], np.int64, (0,)),
        "bboxes": concat_rows([t.bboxes for t in tracklets], np.float32, (0, 4)),
        "scores": concat_rows([t.scores for t in tracklets], np.float32, (0,)),
        "feature_counts": np.array([len(t.features) for t in tracklets], np.int64),
        "feature_dims": np.array([t.features.shape[1] for t in tracklets], np.int64),
        "features": concat_rows([t.features for t in with_features], np.float32, (0, dim)),
        "feature_frames": concat_rows([t.feature_frames for t in tracklets], np.int64, (0,)),
        "has_mean": np.array([t.mean_feature is not None for t in tracklets], bool),
        "mean_features": np.stack(with_mean).astype(np.float32)
        if with_mean
        else np.zeros((0, mean_dim), np.float32),
        "has_histogram": np.array([t.color_histogram is not None for t in tracklets], bool),
        "histograms": np.stack(histograms).astype(np.float32) if histograms else np.zeros((0, 0), np.float32),
    }


def concat_rows(parts: list[np.ndarray], dtype: type, empty_shape: tuple[int, ...]) -> np.ndarray:
    """``parts`` stacked row-wise as ``dtype``; an empty ``empty_shape`` array when there are none."""
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
    found = _read_npz(path, ["meta"])
    if "meta" not in found:
        raise TrackletFileError(f"{path}: not a tracklet file (no 'meta' member)")
    meta = _read_meta(path, found["meta"])
    return table_from_arrays(_read_npz(path, _member_names(meta)) | found, path)


def table_from_arrays(arrays: dict[str, np.ndarray], path: str | Path) -> TrackletTable:
    """The tracklets of canonical members read from ``path`` (a file, or a record in one).

    Impossible values (NaN, negative sizes) are refused here, so every reader checks them.
    """
    if "meta" not in arrays:
        raise TrackletFileError(f"{path}: not a tracklet file (no 'meta' member)")
    path = Path(path)
    meta = _read_meta(path, arrays["meta"])
    if problems := tracklet_array_problems(arrays):
        raise TrackletFileError(f"{path}: impossible values: {'; '.join(problems[:3])}")
    try:
        _check_sizes(arrays, meta)
        warn_empty_boxes(path, arrays["bboxes"].reshape(-1, 4))
        tracklets = _split_tracklets(arrays, meta)
        groups = None if meta["groups"] is None else {g["global_id"]: g["attributes"] for g in meta["groups"]}
        table = TrackletTable(tracklets, meta["global_ids"], groups, meta.get("info", {}))
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as err:
        raise TrackletFileError(f"{path}: corrupt tracklet file ({type(err).__name__}: {err})") from err
    return table


def warn_empty_boxes(path: Path, boxes: np.ndarray) -> None:
    """Log how many boxes of ``path`` have zero width or height (kept, but worth a look)."""
    if empty := empty_boxes(boxes):
        log.warning("%s: %d of %d boxes have zero width or height", path, empty, len(boxes))


def _member_names(meta: dict[str, Any]) -> list[str]:
    """The members a file of ``meta`` may have: no other member is ever read (or inflated)."""
    attrs = meta.get("frame_attributes")
    count = len(attrs) if isinstance(attrs, list) else 0
    return [
        *CORE_MEMBERS,
        *(f"frame_attr_{i}" for i in range(count)),
        *(f"frame_attr_has_{i}" for i in range(count)),
    ]


def _read_npz(path: Path, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The members ``names`` of an ``.npz`` archive (sizes checked first, ``config.npz_safe``)."""
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
        return read_members(path, names)
    except NpzLimitError as err:
        raise TrackletFileError(str(err)) from None
    except OSError as err:
        raise TrackletFileError(f"{path}: cannot read ({err.strerror or err})") from err
    except (ValueError, EOFError, zipfile.BadZipFile, KeyError, NotImplementedError) as err:
        reason = "holds Python objects, never loaded" if "pickle" in str(err) else str(err)
        raise TrackletFileError(f"{path}: damaged .npz archive ({reason})") from err


def _read_meta(path: Path, meta: np.ndarray) -> dict[str, Any]:
    try:
        parsed = json.loads(meta.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:  # "[[[[..." recurses
        raise TrackletFileError(f"{path}: corrupt tracklet metadata (not UTF-8 JSON: {err})") from None
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
