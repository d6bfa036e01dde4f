"""Multi-camera matching on real trajectories with synthetic appearance: IDF1 against feature noise.

    python tools/simulate_mtmc.py [--gt ../shared/data/aic_s02/ground_truth_S02.txt]
        [--noise 0 0.25 0.5 0.75 1 1.25 1.5] [--fragment 0.2] [--window -20 20] [--seed 0]

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
MIN_SIM 0.5; no colour histograms here), with stage 1 alone and with both stages, under a
layout written for S02 in the interval semantics of ``mtmc.compatibility``: every ordered
pair of the four cameras, a vehicle that leaves one view is in the other's within
``--window`` seconds (default [-20, 20]: the views overlap, so it may also be in view up to
20 s before; the harness of issue 13 used the same window). The table prints what the true
pairs need: under the interval test every one fits a window ``[min <= 0, max >= 20.3]`` (one
pair of 500 needs more than 20 s: stage 2 bridges it through the camera in between), while
asking for the later tracklet's start in the window would need ``min <= -93`` s (queues).

Scores: the AI City multi-camera IDF1 (boxes are exact, so only identities can be wrong),
with and without cut trajectories, next to the ceiling of any clustering that keeps one
tracklet per camera and vehicle (every vehicle perfect, each cut trajectory's shorter piece on
its own): stage 1 alone can never join two pieces of one camera without a re-entry line,
stage 2 can when another camera sees the vehicle across the cut.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from trackeval.metrics import Identity

from config.layout import CameraLayout
from evaluate.formats import BoxRows, aic_camera_ids, from_tracklets, read_aic_ground_truth
from evaluate.metrics import sequence_data
from mot.tracklet import Tracklet
from mtmc.compatibility import Timeline, tracklet_times
from mtmc.descriptors import build_descriptors
from mtmc.matching import MatchingOptions, MatchingResult, match_tracklets

log = logging.getLogger("tools.simulate_mtmc")

DEFAULT_GT = Path(__file__).resolve().parents[2] / "shared" / "data" / "aic_s02" / "ground_truth_S02.txt"
S02_FPS = 10.0
S02_WINDOW = (-20.0, 20.0)
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


@dataclass
class Run:
    """One clustering of the simulated tracklets and its multi-camera identity scores."""

    idf1: float
    gt_ids: int
    result: MatchingResult
    impossible_pairs: int  # member pairs of one vehicle that the layout's physics rules out


def simulate(
    gt_path: Path,
    noise: float,
    fragment: float = 0.2,
    base_cos: float = 0.7,
    dim: int = 256,
    seed: int = 0,
    options: MatchingOptions | None = None,
    window: tuple[float, float] = S02_WINDOW,
    gt: BoxRows | None = None,
) -> tuple[Run, float]:
    """The clustering of one noise level and the one-tracklet-per-camera ceiling's IDF1."""
    options = options or MatchingOptions(color_weight=0.0)
    gt = read_aic_ground_truth(gt_path) if gt is None else gt
    n_cams = len(aic_camera_ids(gt_path))
    rng = np.random.default_rng(seed)
    tracklets, vehicles = trajectories(gt, fragment, rng)
    tracklets = with_features(tracklets, vehicles, noise, base_cos, dim, rng)
    layout = s02_layout(n_cams, window=window)
    result = match_tracklets(tracklets, layout, options, verbose=False)
    idf1, gt_ids = multi_camera_idf1(gt, tracklets, result.global_ids)
    run = Run(idf1, gt_ids, result, impossible_pairs(tracklets, layout, result.global_ids))
    return run, multi_camera_idf1(gt, tracklets, ceiling_ids(tracklets, vehicles))[0]


def multi_camera_idf1(gt: BoxRows, tracklets: list[Tracklet], ids: np.ndarray) -> tuple[float, int]:
    """AI City IDF1 of all cameras as one sequence keyed by (camera, frame), and the true vehicle count."""
    data = sequence_data(gt, from_tracklets(tracklets, np.asarray(ids).tolist()))
    scores = Identity({"THRESHOLD": 0.5, "PRINT_CONFIG": False}).eval_sequence(data)
    return float(scores["IDF1"]), int(data["num_gt_ids"])


def ceiling_ids(tracklets: list[Tracklet], vehicles: list[int]) -> np.ndarray:
    """Perfect identities except that each vehicle keeps only its longest tracklet per camera."""
    ids = np.array(vehicles, np.int64)
    longest: dict[tuple[int, int], int] = {}
    for k, (t, v) in enumerate(zip(tracklets, vehicles, strict=True)):
        key = (v, t.camera)
        if key not in longest or len(t) > len(tracklets[longest[key]]):
            longest[key] = k
    kept = set(longest.values())
    spare = ids.max(initial=0) + 1
    for k in range(len(ids)):
        if k not in kept:
            ids[k], spare = spare, spare + 1
    return ids


def impossible_pairs(tracklets: list[Tracklet], layout: CameraLayout, ids: np.ndarray) -> int:
    """Member pairs of one predicted vehicle that ``Timeline.possible`` rules out."""
    timeline = Timeline.of(tracklet_times(tracklets, layout), layout)
    i, j = np.nonzero(np.triu(ids[:, None] == ids[None, :], k=1))
    return int((~timeline.possible(i, j)).sum())


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


def needed_windows(gt: BoxRows) -> tuple[float, float, float]:
    """Largest start gap, smallest end gap and smallest start gap over the true pairs (seconds)."""
    order = np.lexsort((gt.frame, gt.track_id, gt.camera))
    keys = np.stack([gt.camera[order], gt.track_id[order]], axis=1)
    first = np.flatnonzero(np.r_[True, np.any(keys[1:] != keys[:-1], axis=1)])
    last = np.r_[first[1:], len(order)] - 1
    vehicle, start, end = keys[first, 1], gt.frame[order][first] / S02_FPS, gt.frame[order][last] / S02_FPS
    same = (vehicle[:, None] == vehicle[None, :]) & (end[:, None] <= end[None, :])  # i ends first
    np.fill_diagonal(same, False)
    start_gap = (start[None, :] - end[:, None])[same]
    end_gap = (end[None, :] - end[:, None])[same]
    return float(start_gap.max()), float(end_gap.min()), float(start_gap.min())


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
    parser.add_argument("--window", type=float, nargs=2, default=list(S02_WINDOW), metavar=("MIN", "MAX"))
    parser.add_argument("--no-center", action="store_true", help="do not centre the descriptors")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if not args.gt.is_file():
        log.error("%s: ground-truth file not found", args.gt)
        return 2
    if args.window[0] > args.window[1]:
        log.error("--window: MIN %g is larger than MAX %g", *args.window)
        return 2
    gt = read_aic_ground_truth(args.gt)
    max_start, min_end, min_start = needed_windows(gt)
    print(
        f"true pairs need, with the interval test: min <= {min_end:g}, max >= {max_start:.1f} s; "
        f"with a start-in-window test: min <= {min_start:.1f} s; window used: [{args.window[0]:g}, "
        f"{args.window[1]:g}]\n"
    )
    window = (args.window[0], args.window[1])
    one = MatchingOptions(args.linkage, args.min_sim, not args.no_center, 0, 0.0, bridged=False)
    two = replace(one, bridged=True)
    cut = f"{args.fragment:g} cut"
    columns = ["noise", "same vehicle", "different vehicles", "IDF1 0 cut: stage 1", "both stages"]
    columns += [f"IDF1 {cut}: stage 1", "both stages", "ceiling, one tracklet per camera"]
    columns += [f"vehicles found, {cut} (true 145)", "impossible pairs"]
    print("| " + " | ".join(columns) + " |")
    print("|---:|---:|---:|" + "---:|" * (len(columns) - 3))
    for noise in args.noise:
        cells, found, impossible = [], "", 0
        same, other = descriptor_cosines(args.gt, noise, args.base_cos, args.dim, args.seed, one)
        for fragment in (0.0, args.fragment):
            for options in (one, two):
                run, ceiling = simulate(
                    args.gt, noise, fragment, args.base_cos, args.dim, args.seed, options, window, gt
                )
                cells.append(f"{run.idf1:.4f}")
                impossible += run.impossible_pairs
                found = f"{len(run.result.multicam)}"
        cells.append(f"{ceiling:.4f}")
        row = [f"{noise:g}", f"{same:.2f}", f"{other:.2f}", *cells, found, str(impossible)]
        print("| " + " | ".join(row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
