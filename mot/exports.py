"""The seed's tracklet exports: pickle (opt-in to read), CSV and MOTChallenge text.

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
import logging
import math
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from config.paths import atomic_write, atomic_write_text
from mot.tracklet import Tracklet
from mot.tracklet_file import TrackletFileError, TrackletTable, concat_rows

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

CSV_COLUMNS = ["frame", "id", "x", "y", "w", "h", "color", "type", "speed", "plate"]
CSV_TEXT_COLUMNS = ("color", "type", "plate")
FLOAT32_MAX = float(np.finfo(np.float32).max)  # boxes are stored as float32
MOT_TXT_COLUMNS = ["frame", "id", "x", "y", "w", "h", "conf", "wx", "wy", "wz"]


class TableError(ValueError):
    """A text file that is not a table of numbers; the message names the file and line."""


class PickleNotAllowedError(PermissionError):
    """Reading a pickle was not explicitly allowed."""


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
        "frame": concat_rows(frames, np.int64, (0,)),
        "id": np.repeat([t.track_id for t in tracklets], n_rows).astype(np.int64),
    }
    boxes = concat_rows([t.bboxes for t in tracklets], np.float32, (0, 4))
    for j, name in enumerate("xywh"):
        columns[name] = boxes[:, j]
    for name in ("color", "type"):
        columns[name] = np.repeat([str(t.attributes.get(name, "")) for t in tracklets], n_rows)
    columns["speed"] = concat_rows(
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
    boxes = concat_rows([t.bboxes for t in tracklets], np.float32, (0, 4))
    table = pd.DataFrame(
        {
            "frame": concat_rows([t.frames + 1 for t in tracklets], np.int64, (0,)),
            "id": np.repeat(np.asarray(ids, np.int64), n_rows),
            "x": boxes[:, 0],
            "y": boxes[:, 1],
            "w": boxes[:, 2],
            "h": boxes[:, 3],
            "conf": concat_rows([t.scores for t in tracklets], np.float32, (0,)),
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
