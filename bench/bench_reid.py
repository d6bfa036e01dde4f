"""Cross-camera retrieval of the appearance descriptor MTMC uses, on any labelled crop folder.

    PYTHONPATH=. python bench/bench_reid.py --labels ../shared/data/reid_vn2cam/labels.csv --split test \\
        [--config FILE] [--json out.json] [--only NAMES.txt] [--holdout N] [--sweep] [KEY VALUE ...]

``--labels`` names a ``labels.csv`` (or the folder holding one) with columns ``path,vehicle_id,camera_id``
(paths relative to its folder) and an optional ``split`` column chosen with ``--split``; ``--only`` keeps
the rows whose file name is listed in a text file (one per line, e.g. vn2cam's ``val.txt``); ``--holdout N``
the N vehicles ``mtmc-train-reid``'s ``holdout=N`` (seed ``--holdout-seed``) left out of training.
Each crop is a whole image showing the vehicle: it is the box. Query: each crop whose vehicle appears in
another camera; gallery: every crop of the other cameras (``reid.retrieval``).

The descriptor is built as MTMC builds it, from the config (``--config`` and ``KEY VALUE`` overrides as
the runners take them): the ReID model, its preprocessing and flip from ``MOT.REID_*`` through the
project's own model factory, then ``reid.fusion`` with ``MTMC.FEATURE_CENTER``, ``MTMC.CAMERA_NORM``,
``MTMC.CAMERA_NORM_SHRINKAGE``, ``MTMC.FEATURE_PCA_DIM``, ``MTMC.COLOR_WEIGHT`` and ``MTMC.COLOR_CAMERA_NORM``
on the colour histogram of ``MOT.COLOR_HIST_*`` (``reid.color``, as the tracker computes it), fitted on the
crops of the set (MTMC fits them on the tracklets of a run). Baselines printed beside it: random
features, the colour histogram alone (Bhattacharyya) and the model's raw feature (no centring, no colour).
``--json`` writes ``rank1``, ``rank5``, ``mAP``, ``queries`` of the configured descriptor at the top
level, the baselines under ``baselines``, and under ``pairs`` the shares of same-vehicle and other-vehicle
cross-camera pairs whose similarity reaches ``MTMC.MIN_SIM`` (the calibration clustering depends on).
``--sweep`` also prints mAP for a grid of colour weights and centring modes on the same features, and
``--few-vehicles`` the mAP when one camera sees only a few vehicles (how the defaults were chosen:
docs/reid.md); ``--colour-sweep`` scores colour-histogram variants (``bench.reid_colour_sweep``) and
``--cast B,G,R`` multiplies the last camera's crops by channel gains (a simulated colour cast).
``--within-camera`` turns a one-camera set with a ``frame`` column (the S01 crops) into
a re-identification over time: each vehicle's first third of crops against every vehicle's last third.

Exit codes: 0 done, 2 bad config, labels or model.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.reid_colour_sweep import colour_cast, colour_sweep, parse_gains
from config.cli import LOG_LEVELS, parse_args, setup_logging
from config.paths import atomic_write_text
from mtmc.express import matching_options
from reid.color import color_histogram, histogram_spec
from reid.fusion import FusionOptions, fuse, sqrt_histograms
from reid.retrieval import LabelledCrops, RetrievalScores, cross_camera_retrieval, read_labels_csv

log = logging.getLogger("bench.bench_reid")
SWEEP_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
OTHER_PAIRS = 0.04  # share of other-vehicle cross-camera pairs MTMC.MIN_SIM lets through (docs/reid.md)
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)
SWEEP_MODES = {
    "raw": FusionOptions(center=False),
    "centred": FusionOptions(center=True),
    "camera k=0": FusionOptions(camera_norm=True, camera_shrinkage=0.0),
    "camera k=1": FusionOptions(camera_norm=True, camera_shrinkage=1.0),
    "camera k=3": FusionOptions(camera_norm=True, camera_shrinkage=3.0),
    "camera k=10": FusionOptions(camera_norm=True, camera_shrinkage=10.0),
    "camera k=30": FusionOptions(camera_norm=True, camera_shrinkage=30.0),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Cross-camera Rank-1/Rank-5/mAP of the MTMC descriptor.")
    parser.add_argument(
        "--labels",
        type=Path,
        required=True,
        help="labels.csv (path,vehicle_id,camera_id[,split]) or its folder",
    )
    parser.add_argument("--split", default=None, help="keep rows whose 'split' column equals this")
    parser.add_argument("--only", type=Path, default=None, help="text file of crop file names to keep")
    parser.add_argument(
        "--holdout",
        type=int,
        default=0,
        help="keep only the N vehicles that mtmc-train-reid's 'holdout=N' left out of training",
    )
    parser.add_argument(
        "--holdout-seed", type=int, default=0, help="the training run's --seed (picks the held-out vehicles)"
    )
    parser.add_argument("--config", default=None, help="YAML config (default: the built-in defaults)")
    parser.add_argument("--json", type=Path, default=None, help="write the scores to this JSON file")
    parser.add_argument("--sweep", action="store_true", help="also print mAP over fusion settings")
    parser.add_argument(
        "--few-vehicles", action="store_true", help="also print mAP when one camera sees few vehicles"
    )
    parser.add_argument(
        "--colour-sweep",
        action="store_true",
        help="also score colour-histogram variants (bins, region, centring)",
    )
    parser.add_argument(
        "--within-camera",
        action="store_true",
        help="one-camera sets: early third of each vehicle's crops against the late third (needs 'frame')",
    )
    parser.add_argument(
        "--cast", default=None, help="B,G,R gains applied to the last camera's crops (simulated colour cast)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random-feature baseline")
    parser.add_argument("--log-level", default="INFO", choices=LOG_LEVELS, type=str.upper)
    parser.add_argument("opts", nargs=argparse.REMAINDER, metavar="KEY VALUE", help="config overrides")
    return parser


def keep_listed(crops: LabelledCrops, names_file: Path) -> LabelledCrops:
    """The crops whose file name is a line of ``names_file``."""
    names = {line.strip() for line in names_file.read_text(encoding="utf-8").splitlines() if line.strip()}
    keep = [i for i, path in enumerate(crops.paths) if path.name in names]
    if not keep:
        raise ValueError(f"{names_file}: none of its {len(names)} names is a crop of the labels file")
    return LabelledCrops(tuple(crops.paths[i] for i in keep), crops.vehicle_ids[keep], crops.camera_ids[keep])


def keep_held_out(
    crops: LabelledCrops, labels: Path, split: str | None, vehicles: int, seed: int
) -> LabelledCrops:
    """The crops of the ``vehicles`` vehicles that ``mtmc-train-reid`` held out (``--labelled
    labels.csv,split=..,holdout=N --seed seed``), picked by the training tool's own ``hold_out``: a
    model is scored on exactly the vehicles it never trained on."""
    from reid.training.sources import hold_out, labelled_samples

    _, held = hold_out(labelled_samples(labels, split), vehicles, seed)
    paths = {Path(s.image) for s in held}
    keep = [i for i, path in enumerate(crops.paths) if path in paths]
    return LabelledCrops(tuple(crops.paths[i] for i in keep), crops.vehicle_ids[keep], crops.camera_ids[keep])


def within_camera(crops: LabelledCrops, labels: Path) -> LabelledCrops:
    """A one-camera set as two pseudo-cameras: the first third of each vehicle's crops (by the labels'
    ``frame`` column) and its last third; the middle third is dropped so matches are not neighbouring
    frames. Retrieval then asks whether a vehicle is found again later in the same camera."""
    with labels.open(newline="", encoding="utf-8-sig") as handle:
        frames = {
            labels.parent / row["path"]: int(row["frame"]) for row in csv.DictReader(handle) if "frame" in row
        }
    if not frames:
        raise ValueError(f"{labels}: --within-camera needs a 'frame' column")
    keep, parts = [], []
    for vehicle in np.unique(crops.vehicle_ids):
        rows = np.flatnonzero(crops.vehicle_ids == vehicle)
        rows = rows[np.argsort([frames[crops.paths[r]] for r in rows], kind="stable")]
        third = len(rows) // 3
        if third == 0:
            continue
        keep += [*rows[:third], *rows[-third:]]
        parts += ["early"] * third + ["late"] * third
    cameras = np.array([f"{crops.camera_ids[r]}:{p}" for r, p in zip(keep, parts, strict=True)])
    return LabelledCrops(tuple(crops.paths[r] for r in keep), crops.vehicle_ids[keep], cameras)


def read_crops(paths: tuple[Path, ...]) -> list[np.ndarray]:
    """BGR images; ``ValueError`` naming the first file that cannot be read."""
    images = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None or image.size == 0:
            raise ValueError(f"{path}: missing or not an image")
        images.append(image)
    return images


def embed(cfg: Any, images: list[np.ndarray]) -> np.ndarray:
    """Features of whole-image crops by the configured model, built as the runners build it."""
    from mot.model_cache import model_cache

    embedder = model_cache(cfg).embedder(cfg.MOT)
    if embedder is None:
        raise ValueError("MOT.REID_BACKEND: 'none' has no appearance descriptor to measure")
    return embedder.embed_crops(images)


def score_all(
    descriptors: np.ndarray, features: np.ndarray, histograms: np.ndarray, crops: LabelledCrops, seed: int
) -> dict[str, RetrievalScores]:
    """The configured descriptor and the baselines, by name."""
    ids, cams = crops.vehicle_ids, crops.camera_ids
    rng = np.random.default_rng(seed)
    return {
        "configured": cross_camera_retrieval(descriptors, ids, cams),
        "random": cross_camera_retrieval(rng.standard_normal((len(ids), 128)), ids, cams),
        "hsv_histogram": cross_camera_retrieval(sqrt_histograms(histograms), ids, cams),
        "model_raw": cross_camera_retrieval(features, ids, cams),
    }


def pair_rates(descriptors: np.ndarray, crops: LabelledCrops, min_sim: float) -> dict[str, float]:
    """Shares of cross-camera pairs whose cosine reaches ``min_sim`` (MTMC.MIN_SIM, where clustering
    stops): same-vehicle pairs (want high) and different-vehicle pairs (want low). Ranking scores do not
    see this calibration, clustering does."""
    same, other = cross_pair_similarities(descriptors, crops)
    return {
        "same_vehicle_pairs_at_min_sim": float(np.mean(same >= min_sim)) if same.size else 0.0,
        "other_vehicle_pairs_at_min_sim": float(np.mean(other >= min_sim)) if other.size else 0.0,
        "min_sim": float(min_sim),
    }


def sweep(
    features: np.ndarray,
    histograms: np.ndarray,
    crops: LabelledCrops,
    cameras: np.ndarray,
    color_camera_norm: bool = False,
) -> list[str]:
    """Lines of an mAP table: centring modes x colour weights (colour centring as configured)."""
    head = f"{'mAP (R1)':14s}" + "".join(f"  w={w:<9.1f}" for w in SWEEP_WEIGHTS)
    lines = [head]
    for name, base in SWEEP_MODES.items():
        cells = []
        for weight in SWEEP_WEIGHTS:
            options = replace(base, color_weight=weight, color_camera_norm=color_camera_norm)
            desc = fuse(features, histograms, cameras, options)
            s = cross_camera_retrieval(desc, crops.vehicle_ids, crops.camera_ids)
            cells.append(f"  {s.mAP:.3f}({s.rank1:.2f})")
        lines.append(f"{name:14s}" + "".join(cells))
    return lines


def cross_pair_similarities(descriptors: np.ndarray, crops: LabelledCrops) -> tuple[np.ndarray, np.ndarray]:
    """(same-vehicle, other-vehicle) cosines of every cross-camera pair."""
    unit = descriptors / np.maximum(np.linalg.norm(descriptors, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    cross = crops.camera_ids[:, None] != crops.camera_ids[None, :]
    same = crops.vehicle_ids[:, None] == crops.vehicle_ids[None, :]
    return similarity[cross & same], similarity[cross & ~same]


def threshold_table(
    features: np.ndarray,
    histograms: np.ndarray,
    crops: LabelledCrops,
    cameras: np.ndarray,
    base: FusionOptions,
) -> list[str]:
    """Per colour weight (the configured centring): the threshold that OTHER_PAIRS of the other-vehicle
    cross-camera pairs reach, and the share of same-vehicle pairs reaching it (how MTMC.MIN_SIM and
    MTMC.COLOR_WEIGHT are chosen together); then both shares at fixed thresholds for the configured
    weight."""
    lines = [f"threshold passed by {OTHER_PAIRS:.0%} of other-vehicle pairs, same-vehicle share there:"]
    for weight in SWEEP_WEIGHTS:
        same, other = cross_pair_similarities(
            fuse(features, histograms, cameras, replace(base, color_weight=weight)), crops
        )
        threshold = float(np.quantile(other, 1.0 - OTHER_PAIRS)) if other.size else float("nan")
        lines.append(f"  w={weight:.1f}: threshold {threshold:.3f}, same {np.mean(same >= threshold):.3f}")
    same, other = cross_pair_similarities(fuse(features, histograms, cameras, base), crops)
    lines.append(f"pairs reaching t (colour {base.color_weight:g}): t, same, other")
    for t in THRESHOLDS:
        lines.append(f"  {t:.2f}  {np.mean(same >= t):.3f}  {np.mean(other >= t):.4f}")
    return lines


def few_vehicle_study(
    features: np.ndarray, histograms: np.ndarray, crops: LabelledCrops, configured: FusionOptions, seed: int
) -> list[str]:
    """mAP when the last camera sees only m vehicles (m random vehicles kept, 20 draws each): how much
    the per-camera mean needs shrinking towards the run's mean for a camera with few vehicles."""
    last = sorted(set(crops.camera_ids))[-1]
    in_last = crops.camera_ids == last
    rng = np.random.default_rng(seed)
    lines = [
        f"{'mAP, camera ' + last + ' sees m vehicles':34s}" + "".join(f"  {n:>11s}" for n in SWEEP_MODES)
    ]
    for m in (1, 2, 3, 5, 10, 20):
        totals = np.zeros(len(SWEEP_MODES))
        for _ in range(20):
            chosen = rng.choice(np.unique(crops.vehicle_ids[in_last]), size=m, replace=False)
            keep = ~in_last | np.isin(crops.vehicle_ids, chosen)
            for j, base in enumerate(SWEEP_MODES.values()):
                desc = fuse(
                    features[keep],
                    histograms[keep],
                    crops.camera_ids[keep],
                    replace(
                        base,
                        color_weight=configured.color_weight,
                        color_camera_norm=configured.color_camera_norm,
                    ),
                )
                totals[j] += cross_camera_retrieval(desc, crops.vehicle_ids[keep], crops.camera_ids[keep]).mAP
        lines.append(f"{'m = ' + str(m):34s}" + "".join(f"  {t / 20:11.3f}" for t in totals))
    return lines


def report(scores: dict[str, RetrievalScores], options: FusionOptions, model: str) -> list[str]:
    described = (
        f"configured ({model}; center {options.center}, camera_norm {options.camera_norm} "
        f"k={options.camera_shrinkage:g}, pca {options.pca_dim}, colour {options.color_weight:g} "
        f"centred {options.color_camera_norm})"
    )
    lines = [f"{'descriptor':40s} {'Rank-1':>7s} {'Rank-5':>7s} {'mAP':>7s} {'queries':>8s}"]
    for name, s in scores.items():
        lines.append(f"{name:40s} {s.rank1:7.3f} {s.rank5:7.3f} {s.mAP:7.3f} {s.queries:8d}")
    lines.append(f"  {described}")
    return lines


def load_set(args: argparse.Namespace) -> tuple[Any, LabelledCrops, list[np.ndarray], np.ndarray]:
    """The config, the selected crops, their images and their features (raises on bad input)."""
    from config.loader import load_config

    cfg = load_config(args.config, args.opts, mode="any")
    labels = args.labels / "labels.csv" if args.labels.is_dir() else args.labels
    crops = read_labels_csv(labels, args.split)
    if args.only is not None:
        crops = keep_listed(crops, args.only)
    if args.holdout > 0:
        crops = keep_held_out(crops, labels, args.split, args.holdout, args.holdout_seed)
    if args.within_camera:
        crops = within_camera(crops, labels)
    images = read_crops(crops.paths)
    if args.cast:
        images = colour_cast(images, crops.camera_ids, parse_gains(args.cast))
    return cfg, crops, images, embed(cfg, images)


def run(args: argparse.Namespace) -> int:
    from config.loader import ConfigError

    try:
        cfg, crops, images, features = load_set(args)
    except (ConfigError, ValueError, OSError) as err:  # ModelNotFoundError is an OSError
        log.error("%s", err)
        return 2
    spec = histogram_spec(cfg.MOT)
    histograms = np.stack([color_histogram(i, spec) for i in images]) if images else np.zeros((0, spec.size))
    options = matching_options(cfg).fusion()
    # per-camera normalisation uses the real camera (the part before ':' of --within-camera's halves)
    cameras = crops.camera_ids
    if args.within_camera:
        cameras = np.array([c.split(":", 1)[0] for c in cameras])
    descriptors = fuse(features, histograms, cameras, options)
    scores = score_all(descriptors, features, histograms, crops, args.seed)
    if scores["configured"].queries == 0:
        log.error("%s: no vehicle appears in two cameras, so there is no cross-camera query", args.labels)
        return 2
    pairs = pair_rates(descriptors, crops, cfg.MTMC.MIN_SIM)
    model = Path(cfg.MOT.REID_ONNX).name if cfg.MOT.REID_BACKEND != "torch" else cfg.MOT.REID_MODEL_CKPT
    vehicles = len(set(crops.vehicle_ids))
    print(f"{args.labels} ({args.split or 'all rows'}): {len(images)} crops, {vehicles} vehicles")
    print("\n".join(report(scores, options, model)))
    same, other = pairs["same_vehicle_pairs_at_min_sim"], pairs["other_vehicle_pairs_at_min_sim"]
    print(
        f"  cross-camera pairs reaching MTMC.MIN_SIM {pairs['min_sim']:g}: same {same:.3f}, other {other:.4f}"
    )
    if args.sweep:
        print("\n".join(sweep(features, histograms, crops, cameras, options.color_camera_norm)))
        print("\n".join(threshold_table(features, histograms, crops, cameras, options)))
    if args.few_vehicles:
        print("\n".join(few_vehicle_study(features, histograms, crops, options, args.seed)))
    if args.colour_sweep:
        print("\n".join(colour_sweep(images, features, crops, cameras, options, cfg.MTMC.MIN_SIM)))
    if args.json is not None:
        out: dict[str, Any] = {**scores["configured"].as_dict(), "pairs": pairs}
        out["baselines"] = {k: v.as_dict() for k, v in scores.items() if k != "configured"}
        out["descriptor"] = {
            "model": model,
            "flip": cfg.MOT.REID_FLIP,
            **vars(options),
            "histogram": vars(spec),
        }
        atomic_write_text(args.json, json.dumps(out, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)
    setup_logging(args.log_level)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
