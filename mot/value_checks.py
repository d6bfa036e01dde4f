"""Plausibility of the numbers in tracklet files and model outputs: finite values, sizes that can exist.

Pure functions on arrays: they return what is wrong (the caller names the file or model and
decides whether to refuse, drop or warn), so every reader applies the same rules.

Rules: boxes, scores and features must be finite; box widths and heights must not be
negative; frame indices must not be negative. A box of zero width or height is possible (a
track whose predicted box lies outside the image is clipped to the image border), so it is
only counted for a warning.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

FLOAT_MEMBERS = ("bboxes", "scores", "features", "mean_features", "histograms")


def first_bad_row(bad: np.ndarray) -> int:
    """Index of the first True row of a (N,) or (N, ...) mask."""
    return int(np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))[0])


def tracklet_array_problems(arrays: Mapping[str, np.ndarray]) -> list[str]:
    """What makes a tracklet file's arrays impossible (empty when they are plausible)."""
    problems = [
        f"'{name}' holds {arrays[name].dtype}, expected numbers"
        for name in (*FLOAT_MEMBERS, "frames", "feature_frames")
        if name in arrays and arrays[name].dtype.kind not in "biuf"
    ]
    if problems:
        return problems
    for name in FLOAT_MEMBERS:
        values = arrays.get(name)
        if values is None or values.dtype.kind != "f" or values.ndim == 0 or not values.size:
            continue
        bad = ~np.isfinite(values)
        if bad.any():
            row = first_bad_row(bad)
            problems.append(
                f"'{name}' row {row} holds NaN or infinite values ({values[row].ravel()[:4]} ...)"
            )
    boxes = arrays.get("bboxes")
    if boxes is not None and boxes.ndim == 2 and boxes.shape[1] == 4:
        negative = (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
        if negative.any():
            row = first_bad_row(negative)
            problems.append(f"'bboxes' row {row} has a negative width or height ({boxes[row].tolist()})")
    for name in ("frames", "feature_frames"):
        frames = arrays.get(name)
        if frames is not None and frames.dtype.kind in "iu" and frames.ndim == 1 and (frames < 0).any():
            problems.append(f"'{name}' row {first_bad_row(frames < 0)} is a negative frame index")
    return problems


def empty_boxes(boxes: np.ndarray) -> int:
    """How many (N, 4) ``x, y, w, h`` boxes have zero width or height."""
    return int(np.count_nonzero((boxes[:, 2] == 0) | (boxes[:, 3] == 0))) if len(boxes) else 0
