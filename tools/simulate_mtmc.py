"""Multi-camera matching on real trajectories with synthetic appearance: IDF1 against feature noise.

    python tools/simulate_mtmc.py [--gt ../shared/data/aic_s02/ground_truth_S02.txt]
        [--noise 0 0.25 0.5 0.75 1 1.25 1.5] [--fragment 0.2] [--seed 0]

The AI City S02 ground truth gives real trajectories and real timings (4 cameras at one
intersection, 10 fps, 145 vehicles each seen by 2-4 cameras). Each (vehicle, camera)
trajectory becomes one single-camera tracklet, cut in two at a random frame with probability
``--fragment`` (a tracker's ID switch). Appearance is synthetic, seeded and documented:

* each vehicle has a prototype ``p = normalise(sqrt(b) c + sqrt(1 - b) u)`` with one common
  direction ``c`` shared by all vehicles and its own random direction ``u``, so that two
  different vehicles have cosine ``b`` (``--base-cos``, 0.7 like generic ImageNet features);
* a tracklet's feature is ``normalise(p + noise g / sqrt(D))`` with ``g ~ N(0, I_D)``; two
  tracklets of one vehicle then have cosine about ``1 / (1 + noise^2)`` before centring and
  about ``(1 - b) / (1 - b + noise^2)`` after it (the table prints the measured values).

The tracklets are clustered with the project's defaults (centring on, linkage average,
MIN_SIM 0.5; no colour histograms here) under a layout written for S02: every ordered pair of
the four cameras allowed within [-30, 30] s (the views overlap, and a vehicle crosses the
intersection in well under 30 s). The result is scored against the ground truth ids
(boxes are exact, so only identities can be wrong): per camera and multi-camera IDF1.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from config.layout import CameraLayout
from evaluate.formats import BoxRows, aic_camera_ids, from_tracklets, read_aic_ground_truth
from evaluate.multicam import MULTI_CAMERA, evaluate_cameras
from mot.tracklet import Tracklet
from mtmc.descriptors import build_descriptors
from mtmc.matching import MatchingOptions, MatchingResult, match_tracklets
from mtmc.output import camera_results

log = logging.getLogger("tools.simulate_mtmc")

DEFAULT_GT = Path(__file__).resolve().parents[2] / "shared" / "data" / "aic_s02" / "ground_truth_S02.txt"
S02_FPS = 10.0
S02_WINDOW = (-30.0, 30.0)
DEFAULT_NOISE = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)


def s02_layout(n_cams: int, fps: float = S02_FPS, window: tuple[float, float] = S02_WINDOW) -> CameraLayout:
    allowed = ~np.eye(n_cams, dtype=bool)
    return CameraLayout(
        np.full(n_cams, fps),
        np.zeros(n_cams),
        np.ones(n_cams),
        allowed,
        np.full((n_cams, n_cams), window[0]),
        np.full((n_cams, n_cams), window[1]),
    )


def trajectories(gt: BoxRows, fragment: float, rng: np.random.Generator) -> tuple[list[Tracklet], list[int]]:
    """One tracklet per (vehicle, camera), sometimes cut in two; returns them and their vehicle ids."""
    tracklets, vehicles = [], []
    order = np.lexsort((gt.frame, gt.track_id, gt.camera))
    keys = np.stack([gt.camera[order], gt.track_id[order]], axis=1)
    starts = np.flatnonzero(np.r_[True, np.any(keys[1:] != keys[:-1], axis=1)])
    for s, e in zip(starts, np.r_[starts[1:], len(order)], strict=True):
        rows = order[s:e]
        cuts = [0, len(rows)]
        if len(rows) >= 4 and rng.random() < fragment:
            cuts.insert(1, int(rng.integers(2, len(rows) - 1)))
        for a, b in itertools.pairwise(cuts):
            part = rows[a:b]
            tracklets.append(
                Tracklet(
                    track_id=len(tracklets) + 1,
                    camera=int(gt.camera[part[0]]),
                    frames=gt.frame[part] - 1,
                    bboxes=gt.xywh[part],
                    scores=np.ones(len(part)),
                )
            )
            vehicles.append(int(gt.track_id[part[0]]))
    return tracklets, vehicles


def with_features(
    tracklets: list[Tracklet],
    vehicles: list[int],
    noise: float,
    base_cos: float,
    dim: int,
    rng: np.random.Generator,
) -> list[Tracklet]:
    ids = sorted(set(vehicles))
    common = rng.normal(size=dim)
    common /= np.linalg.norm(common)
    own = rng.normal(size=(len(ids), dim))
    own -= np.outer(own @ common, common)  # orthogonal to the common direction
    own /= np.linalg.norm(own, axis=1, keepdims=True)
    prototypes = np.sqrt(base_cos) * common + np.sqrt(1 - base_cos) * own
    row = {v: k for k, v in enumerate(ids)}
    out = []
    for t, v in zip(tracklets, vehicles, strict=True):
        f = prototypes[row[v]] + noise * rng.normal(size=dim) / np.sqrt(dim)
        f = (f / np.linalg.norm(f)).astype(np.float32)
        out.append(replace(t, features=f[None], feature_frames=t.frames[:1], mean_feature=f))
    return out


def simulate(
    gt_path: Path,
    noise: float,
    fragment: float = 0.2,
    base_cos: float = 0.7,
    dim: int = 256,
    seed: int = 0,
    options: MatchingOptions | None = None,
) -> tuple[dict[str, dict[str, float]], MatchingResult]:
    """Scores (per camera and ``MULTI-CAMERA``) and the matching result for one noise level."""
    options = options or MatchingOptions(color_weight=0.0)
    gt = read_aic_ground_truth(gt_path)
    names = [f"c{c:03d}" for c in aic_camera_ids(gt_path)]
    rng = np.random.default_rng(seed)
    tracklets, vehicles = trajectories(gt, fragment, rng)
    tracklets = with_features(tracklets, vehicles, noise, base_cos, dim, rng)
    result = match_tracklets(tracklets, s02_layout(len(names)), options)
    preds = [from_tracklets(t, ids) for t, ids in camera_results(result, len(names))]
    scores = evaluate_cameras([gt.for_camera(c) for c in range(len(names))], preds, names)
    return scores, result


def descriptor_cosines(
    gt_path: Path, noise: float, base_cos: float, dim: int, seed: int, options: MatchingOptions
) -> tuple[float, float]:
    """Mean cosine of the clustered descriptors: same vehicle, and different vehicles, across cameras."""
    rng = np.random.default_rng(seed)
    tracklets, vehicles = trajectories(read_aic_ground_truth(gt_path), 0.0, rng)
    tracklets = with_features(tracklets, vehicles, noise, base_cos, dim, rng)
    desc = build_descriptors(tracklets, options.center, options.pca_dim, options.color_weight)
    sim = desc @ desc.T
    v, cam = np.array(vehicles), np.array([t.camera for t in tracklets])
    cross = cam[:, None] != cam[None, :]
    same = cross & (v[:, None] == v[None, :])
    return float(sim[same].mean()), float(sim[cross & ~same].mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gt", type=Path, default=DEFAULT_GT)
    parser.add_argument("--noise", type=float, nargs="+", default=list(DEFAULT_NOISE))
    parser.add_argument("--fragment", type=float, default=0.2, help="probability a trajectory is cut in two")
    parser.add_argument("--base-cos", type=float, default=0.7, help="cosine between different vehicles")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument(
        "--linkage", default="average", choices=("average", "single", "complete", "mean_feature")
    )
    parser.add_argument("--min-sim", type=float, default=0.5)
    parser.add_argument("--no-center", action="store_true", help="do not centre the descriptors")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if not args.gt.is_file():
        log.error("%s: ground-truth file not found", args.gt)
        return 2
    options = MatchingOptions(args.linkage, args.min_sim, not args.no_center, 0, 0.0)
    fragments = sorted({0.0, args.fragment})
    header = " | ".join(f"IDF1, {f:g} cut" for f in fragments)
    print(f"| noise | same vehicle | different vehicles | {header} | vehicles found (true 145) |")
    print("|---:|---:|---:|" + "---:|" * len(fragments) + "---:|")
    for noise in args.noise:
        cells, found, cosines = [], 0, ""
        for fragment in fragments:
            scores, result = simulate(args.gt, noise, fragment, args.base_cos, args.dim, args.seed, options)
            cells.append(f"{scores[MULTI_CAMERA]['IDF1']:.3f}")
            found = len(result.multicam)
            if fragment == 0.0:
                same, other = descriptor_cosines(args.gt, noise, args.base_cos, args.dim, args.seed, options)
                cosines = f"{same:.2f} | {other:.2f}"
        print(f"| {noise:g} | {cosines} | {' | '.join(cells)} | {found} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
