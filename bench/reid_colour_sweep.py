"""Colour-histogram variants on the same crops and features: how ``MOT.COLOR_HIST_*`` and
``MTMC.COLOR_CAMERA_NORM`` were chosen (``bench/bench_reid.py --colour-sweep``; docs/reid.md).

For each histogram (bins x region, optional grey-level part) and colour centring off/on, at the
configured colour weight and feature centring: mAP (Rank-1) of the colour histogram alone and of the
fused descriptor, the shares of same- and other-vehicle cross-camera pairs reaching ``MTMC.MIN_SIM``,
and the threshold that 4 % of other-vehicle pairs reach with the same-vehicle share there (ranking
and calibration at a matched false-accept rate). The histograms are computed by ``reid.color`` exactly
as the tracker computes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from reid.color import HistogramSpec, color_histogram
from reid.fusion import FusionOptions, color_rows, fuse
from reid.retrieval import LabelledCrops, cross_camera_retrieval

OTHER_PAIRS = 0.04  # the false-accept rate MTMC.MIN_SIM is matched to (docs/reid.md)
VARIANTS: tuple[HistogramSpec, ...] = (
    *(
        HistogramSpec(bins, margin, grey)
        for bins, grey in (((8, 4, 4), 0), ((16, 4, 4), 0), ((8, 8, 8), 0), ((16, 8, 8), 0), ((16, 3, 3), 16))
        for margin in (0.0, 0.2, 0.25, 0.3)
    ),
    HistogramSpec((16, 3, 3), 0.25, 16, white_balance=True),
)


def parse_gains(text: str) -> tuple[float, float, float]:
    """``--cast`` value ``B,G,R``: three positive channel gains."""
    gains = tuple(float(v) for v in text.split(","))
    if len(gains) != 3 or min(gains) <= 0:
        raise ValueError(f"--cast {text!r}: expected three positive gains B,G,R, e.g. 1.08,1,0.93")
    return gains  # type: ignore[return-value]


def colour_cast(
    images: Sequence[np.ndarray], cameras: np.ndarray, gains: tuple[float, float, float]
) -> list[np.ndarray]:
    """The crops with the last camera's multiplied by per-channel ``gains`` (B, G, R), clipped: a
    simulated white-balance and exposure change between cameras, the difference real cameras add."""
    last = sorted(set(cameras))[-1]
    scale = np.asarray(gains, np.float32)
    return [
        np.clip(image * scale, 0, 255).astype(np.uint8) if camera == last else image
        for image, camera in zip(images, cameras, strict=True)
    ]


def spec_name(spec: HistogramSpec) -> str:
    """E.g. ``8x8x8 m0.25`` or ``16x3x3+16g m0.25``."""
    grey = f"+{spec.grey_bins}g" if spec.grey_bins else ""
    balanced = " wb" if spec.white_balance else ""
    return f"{'x'.join(map(str, spec.bins))}{grey} m{spec.margin:g}{balanced}"


def pair_similarities(descriptors: np.ndarray, crops: LabelledCrops) -> tuple[np.ndarray, np.ndarray]:
    """(same-vehicle, other-vehicle) cosines of every cross-camera pair."""
    unit = descriptors / np.maximum(np.linalg.norm(descriptors, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    cross = crops.camera_ids[:, None] != crops.camera_ids[None, :]
    same = crops.vehicle_ids[:, None] == crops.vehicle_ids[None, :]
    return similarity[cross & same], similarity[cross & ~same]


def variant_cells(descriptors: np.ndarray, colour: np.ndarray, crops: LabelledCrops, min_sim: float) -> str:
    """One table row's cells: colour alone, fused, pairs at ``min_sim``, matched false-accept."""
    alone = cross_camera_retrieval(colour, crops.vehicle_ids, crops.camera_ids)
    fused = cross_camera_retrieval(descriptors, crops.vehicle_ids, crops.camera_ids)
    same, other = pair_similarities(descriptors, crops)
    threshold = float(np.quantile(other, 1.0 - OTHER_PAIRS)) if other.size else float("nan")
    return (
        f"  {alone.mAP:.3f}({alone.rank1:.2f})  {fused.mAP:.3f}({fused.rank1:.2f})"
        f"  {np.mean(same >= min_sim):.3f}/{np.mean(other >= min_sim):.3f}"
        f"  {threshold:.3f}:{np.mean(same >= threshold):.3f}"
    )


def colour_sweep(
    images: Sequence[np.ndarray],
    features: np.ndarray,
    crops: LabelledCrops,
    cameras: np.ndarray,
    base: FusionOptions,
    min_sim: float,
    variants: Sequence[HistogramSpec] = VARIANTS,
) -> list[str]:
    """Lines of the table, one per histogram variant and colour centring (off, on)."""
    lines = [
        f"colour variants at colour weight {base.color_weight:g} (mAP(R1) colour alone, fused; "
        f"same/other pairs >= MIN_SIM {min_sim:g}; "
        f"threshold {OTHER_PAIRS:.0%} of other pairs reach: same share)"
    ]
    for spec in variants:
        histograms = np.stack([color_histogram(image, spec) for image in images])
        for centred in (False, True):
            options = replace(base, color_camera_norm=centred)
            colour = color_rows(histograms, cameras, options)
            descriptors = fuse(features, histograms, cameras, options)
            label = f"{spec_name(spec)}{' cc' if centred else ''}"
            lines.append(f"{label:22s}" + variant_cells(descriptors, colour, crops, min_sim))
    return lines
