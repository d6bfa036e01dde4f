"""Cross-camera retrieval scores of an appearance descriptor (Rank-k and mAP).

The question MTMC asks of a descriptor is whether a crop's nearest crops *in other cameras* show the
same vehicle. So every query is a crop whose vehicle also appears in another camera, and its gallery is
every crop of the other cameras (the same camera's crops never count, neither as hits nor as misses).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class LabelledCrops:
    """Crops of a labelled ReID folder: ``paths[i]`` shows vehicle ``vehicle_ids[i]`` in ``camera_ids[i]``."""

    paths: tuple[Path, ...]
    vehicle_ids: np.ndarray  # (N,) str
    camera_ids: np.ndarray  # (N,) str

    def __post_init__(self) -> None:
        if not len(self.paths) == len(self.vehicle_ids) == len(self.camera_ids):
            raise ValueError(
                f"LabelledCrops: {len(self.paths)} paths, {len(self.vehicle_ids)} vehicle ids and "
                f"{len(self.camera_ids)} camera ids; expected one of each per crop"
            )


def read_labels_csv(path: Path, split: str | None = None) -> LabelledCrops:
    """Read ``labels.csv`` (columns ``path,vehicle_id,camera_id``, paths relative to its folder).

    ``split`` keeps only rows whose optional ``split`` column equals it. Raises ``ValueError`` naming the
    file and line for a missing column or an empty field.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"path", "vehicle_id", "camera_id"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {sorted(missing)}; expected path,vehicle_id,camera_id"
            )
        if split is not None and "split" not in (reader.fieldnames or ()):
            raise ValueError(f"{path}: no 'split' column, so split {split!r} cannot be selected")
        rows = []
        for line_no, row in enumerate(reader, start=2):
            if split is not None and row["split"] != split:
                continue
            if not row["path"] or not row["vehicle_id"] or not row["camera_id"]:
                raise ValueError(f"{path}:{line_no}: empty path, vehicle_id or camera_id")
            rows.append(row)
    return LabelledCrops(
        paths=tuple(path.parent / row["path"] for row in rows),
        vehicle_ids=np.array([row["vehicle_id"] for row in rows], dtype=str),
        camera_ids=np.array([row["camera_id"] for row in rows], dtype=str),
    )


@dataclass(frozen=True)
class RetrievalScores:
    rank1: float
    rank5: float
    mAP: float  # noqa: N815 (the field's conventional name)
    queries: int

    def as_dict(self) -> dict[str, float | int]:
        return {"rank1": self.rank1, "rank5": self.rank5, "mAP": self.mAP, "queries": self.queries}


def cross_camera_retrieval(
    features: np.ndarray, vehicle_ids: np.ndarray, camera_ids: np.ndarray
) -> RetrievalScores:
    """Rank-1, Rank-5 and mAP of cosine retrieval across cameras.

    Args:
        features: (N, D) descriptors, one per crop; L2-normalised here, so any scale is fine.
        vehicle_ids: (N,) identity of each crop.
        camera_ids: (N,) camera of each crop.

    Ties in similarity are broken by gallery order (a stable sort), so results are deterministic.
    """
    features = np.asarray(features, dtype=np.float64)
    vehicle_ids, camera_ids = np.asarray(vehicle_ids), np.asarray(camera_ids)
    if features.ndim != 2 or not len(features) == len(vehicle_ids) == len(camera_ids):
        raise ValueError(
            f"features {features.shape}, vehicle_ids {vehicle_ids.shape}, camera_ids {camera_ids.shape}: "
            "expected (N, D), (N,) and (N,)"
        )
    if not np.isfinite(features).all():
        raise ValueError("features hold NaN or infinite values")
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    hits1 = hits5 = 0
    precisions: list[float] = []
    for query in range(len(unit)):
        gallery = np.flatnonzero(camera_ids != camera_ids[query])
        relevant = vehicle_ids[gallery] == vehicle_ids[query]
        if not relevant.any():
            continue
        order = np.argsort(-similarity[query, gallery], kind="stable")
        ranked = relevant[order]
        hit_ranks = np.flatnonzero(ranked)  # 0-based ranks of the true matches
        hits1 += int(hit_ranks[0] < 1)
        hits5 += int(hit_ranks[0] < 5)
        precisions.append(float(np.mean(np.arange(1, len(hit_ranks) + 1) / (hit_ranks + 1))))
    count = len(precisions)
    if count == 0:
        return RetrievalScores(rank1=float("nan"), rank5=float("nan"), mAP=float("nan"), queries=0)
    return RetrievalScores(
        rank1=hits1 / count, rank5=hits5 / count, mAP=float(np.mean(precisions)), queries=count
    )
