"""Tracklet files of any supported kind: read one by its suffix, write a camera's whole set.

The canonical ``.npz`` format is ``mot.tracklet_file``; the pkl / CSV / MOTChallenge exports are
``mot.exports``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mot.exports import load_csv, load_mot_txt, load_pickle, save_csv, save_mot_txt, save_pickle
from mot.tracklet import Tracklet
from mot.tracklet_file import (
    TrackletFileError,
    TrackletTable,
    concat_rows,
    load_tracklet_file,
    save_tracklets,
    warn_empty_boxes,
)
from mot.value_checks import tracklet_array_problems


def _checked_text_table(path: Path, table: TrackletTable) -> TrackletTable:
    """A CSV or MOTChallenge table, refused when its boxes are impossible (see ``mot.value_checks``)."""
    boxes = concat_rows([t.bboxes for t in table.tracklets], np.float32, (0, 4))
    if problems := tracklet_array_problems({"bboxes": boxes}):
        raise TrackletFileError(f"{path}: impossible values: {problems[0]}")
    warn_empty_boxes(path, boxes)
    return table


def load_tracklets(path: str | Path, allow_pickle: bool = False, camera: int = 0) -> TrackletTable:
    """Read any supported tracklet file, chosen by suffix (.npz, .pkl, .csv, .txt)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_tracklet_file(path)
    if suffix == ".csv":
        return _checked_text_table(path, load_csv(path, camera))
    if suffix == ".txt":
        return _checked_text_table(path, load_mot_txt(path, camera))
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
