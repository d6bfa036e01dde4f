"""Training samples from labelled crop folders, and the held-out splits that score them.

A labelled source is a ``labels.csv`` (``path,vehicle_id,camera_id``, optional ``split`` and
``frame`` columns; ``reid.retrieval.read_labels_csv``) or a folder of VeRi-style crops named
``ID_cCAM_...jpg``. Identities are prefixed with the source name, so two sources never share one.
Held-out vehicles are chosen by vehicle id (all their crops leave training together).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reid.retrieval import read_labels_csv

VERI_NAME = re.compile(r"^(?P<vid>\d+)_c(?P<cam>\d+)")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class Sample:
    """One training crop: a file path or an in-memory BGR crop of identity ``identity``.

    ``source`` names where it came from; ``span`` is the (first, last) frame of its tracklet for
    pseudo-labelled footage (two identities of one source are guaranteed different vehicles only
    where their spans overlap), ``None`` for labelled data (every identity pair is a true negative).
    """

    image: Path | np.ndarray = field(repr=False)
    identity: str
    camera: str
    source: str
    frame: int = -1
    span: tuple[int, int] | None = None


def labelled_samples(path: Path, split: str | None = None, name: str = "") -> list[Sample]:
    """Samples of a ``labels.csv`` (optionally one ``split``) or of a folder of VeRi-style crops."""
    path = Path(path)
    name = name or (path.name if path.is_dir() else path.parent.name)
    if path.is_dir():
        return _veri_folder(path, name)
    crops = read_labels_csv(path, split)
    frames = _frames_column(path, split, len(crops.paths))
    return [
        Sample(p, f"{name}:{v}", str(c), name, int(f))
        for p, v, c, f in zip(crops.paths, crops.vehicle_ids, crops.camera_ids, frames, strict=True)
    ]


def _frames_column(path: Path, split: str | None, count: int) -> list[int]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [r for r in csv.DictReader(handle) if split is None or r.get("split") == split]
    if rows and "frame" in rows[0]:
        return [int(float(r["frame"])) for r in rows]
    return [-1] * count


def _veri_folder(folder: Path, name: str) -> list[Sample]:
    samples = []
    for image in sorted(folder.rglob("*")):
        match = VERI_NAME.match(image.name)
        if image.suffix.lower() in IMAGE_SUFFIXES and match:
            samples.append(Sample(image, f"{name}:{int(match['vid'])}", f"c{int(match['cam'])}", name))
    if not samples:
        raise ValueError(f"{folder}: no labels.csv given and no VeRi-style ID_cCAM_*.jpg crops inside")
    return samples


def hold_out(samples: Sequence[Sample], vehicles: int, seed: int = 0) -> tuple[list[Sample], list[Sample]]:
    """(kept, held out): ``vehicles`` identities chosen at random with ``seed`` leave training whole."""
    identities = sorted({s.identity for s in samples})
    if vehicles >= len(identities):
        raise ValueError(f"cannot hold out {vehicles} of {len(identities)} vehicles")
    rng = np.random.default_rng(seed)
    held = set(rng.choice(identities, size=vehicles, replace=False).tolist()) if vehicles > 0 else set()
    return [s for s in samples if s.identity not in held], [s for s in samples if s.identity in held]


def time_halves_as_cameras(samples: Sequence[Sample]) -> list[Sample]:
    """Each vehicle's earlier crops become camera ``early``, its later ones ``late``.

    Turns one camera's crops into a cross-camera retrieval task within the camera: a crop must find
    the same vehicle seen later, after it turned or moved on (the median frame of each vehicle
    splits it). Needs the ``frame`` column.
    """
    if any(s.frame < 0 for s in samples):
        raise ValueError("splitting a camera's crops by time needs a 'frame' column in labels.csv")
    by_identity: dict[str, list[int]] = {}
    for s in samples:
        by_identity.setdefault(s.identity, []).append(s.frame)
    median = {k: float(np.median(v)) for k, v in by_identity.items()}
    return [
        Sample(s.image, s.identity, "early" if s.frame <= median[s.identity] else "late", s.source, s.frame)
        for s in samples
    ]
