"""Multi-camera matching of tracklets: descriptors, compatible pairs, clustering, global identities."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from config.layout import CameraLayout
from mot.tracklet import Tracklet
from mtmc.calibration import calibrated_rule
from mtmc.clustering import cluster
from mtmc.compatibility import Timeline, TrackletTimes, compatible_pairs, tracklet_times
from mtmc.descriptors import build_descriptors
from mtmc.geometry import handover_conflicts
from mtmc.multicam_tracklet import MulticamTracklet, merge_attributes
from mtmc.reentry import ReentryRule, same_camera_allowed, start_gaps
from mtmc.similarity import DECIMALS, pair_similarities
from reid.fusion import FusionOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatchingOptions:
    """How tracklets are compared and merged (``MTMC.*`` keys). The defaults are the config's
    (``config/keys_runs.py``; a test keeps them equal), so a library call matches the CLI."""

    linkage: str = "average"
    min_sim: float = 0.4
    center: bool = True
    pca_dim: int = 0
    color_weight: float = 0.3
    bridged: bool = True  # stage 2 (mtmc.clustering); off only to compare with stage 1 alone
    camera_norm: bool = True  # centre on each camera's (shrunk) mean instead of the run's (reid.fusion)
    camera_shrinkage: float = 1.0
    color_camera_norm: bool = True  # centre the colour part per camera too (reid.fusion.color_rows)
    reentry_gap: float = 6.0  # seconds a vehicle may vanish from a view and come back (0: layout only)
    reentry_min_sim: float = 0.4  # a same-camera join needs max(min_sim, this) similarity
    continuity_gap: float = 2.0  # seconds; a cut track resuming this soon where it led (0: off)
    continuity_reach: float = 1.0  # box sizes from the extrapolated spot (mtmc.reentry)
    continuity_min_sim: float = 0.0  # similarity such a continuation needs
    same_camera_floor: float = 0.6  # same-camera joins: fraction of the way up the run's levels (0: off)
    reentry_cap: bool = True  # re-entry's appearance bar asks at most the run's same-vehicle level

    def fusion(self) -> FusionOptions:
        """The descriptor settings among these options (what ``build_descriptors`` applies)."""
        return FusionOptions(
            self.center,
            self.camera_norm,
            self.camera_shrinkage,
            self.pca_dim,
            self.color_weight,
            self.color_camera_norm,
        )

    def reentry_rule(self) -> ReentryRule:
        """The same-camera join permission these options describe."""
        return ReentryRule(
            max(self.min_sim, self.reentry_min_sim),
            self.continuity_gap,
            self.continuity_reach,
            self.continuity_min_sim,
        )


@dataclass
class MatchingResult:
    """Global identities of a set of tracklets."""

    multicam: list[MulticamTracklet]  # ordered by global id
    global_ids: np.ndarray  # (n,) global id of each input tracklet
    best_match: np.ndarray  # (n,) highest similarity to any compatible tracklet (nan if none)
    stats: dict[str, float] = field(default_factory=dict)


def match_tracklets(
    tracklets: Sequence[Tracklet],
    layout: CameraLayout,
    options: MatchingOptions = MatchingOptions(),
    verbose: bool = True,
) -> MatchingResult:
    """Cluster tracklets of all cameras into vehicles; inputs are not modified.

    Global ids run from 1 in order of each vehicle's first appearance on the common clock
    (ties by tracklet order), so they do not depend on how tracklets were listed per camera.
    ``verbose`` logs the similarity distribution and a summary (off for live rounds).
    """
    start = time.perf_counter()
    times = tracklet_times(tracklets, layout)
    descriptors = build_descriptors(tracklets, options.fusion())
    explicit = np.diag(layout.allowed).copy()  # the layout's own re-entry lines
    layout = layout.with_reentry_gap(options.reentry_gap)
    i, j, sims = compatible_pairs(times, layout, descriptors)
    apart = handover_conflicts(tracklets, times, layout)
    timeline = Timeline.of(times, layout, apart)
    keep = ~timeline.proven_apart(i, j)
    rule = calibrated_rule(
        options.reentry_rule(),
        descriptors,
        times,
        (i, j, sims),
        options.same_camera_floor,
        options.reentry_cap,
        verbose,
    )
    keep &= permitted_pairs(tracklets, descriptors, times, explicit, i, j, rule)
    i, j, sims = i[keep], j[keep], sims[keep]
    timeline = timeline if options.bridged else None
    labels = cluster(descriptors, (i, j, sims), options.linkage, options.min_sim, timeline=timeline)
    best = np.full(len(tracklets), -np.inf)
    np.maximum.at(best, i, sims)
    np.maximum.at(best, j, sims)
    best[np.isinf(best)] = np.nan
    roots, cluster_of = np.unique(labels, return_inverse=True)
    first_seen = np.full(len(roots), np.inf)
    np.minimum.at(first_seen, cluster_of, times.start)
    rank = np.empty(len(roots), np.int64)
    rank[np.lexsort((roots, first_seen))] = np.arange(len(roots))
    global_ids = rank[cluster_of] + 1
    by_cluster = np.argsort(global_ids, kind="stable")
    bounds = np.searchsorted(global_ids[by_cluster], np.arange(1, len(roots) + 2))
    multicam = []
    for g in range(len(roots)):
        members = [tracklets[m] for m in by_cluster[bounds[g] : bounds[g + 1]].tolist()]
        multicam.append(MulticamTracklet(g + 1, members, merge_attributes(members)))
    stats = {
        "tracklets": len(tracklets),
        "compatible_pairs": len(i),
        "vehicles": len(multicam),
        "multi_camera_vehicles": sum(len(m.cameras) > 1 for m in multicam),
        "seconds": time.perf_counter() - start,
    }
    if verbose:
        _log_summary(best, options.min_sim, stats)
    return MatchingResult(multicam, global_ids, best, stats)


def permitted_pairs(
    tracklets: Sequence[Tracklet],
    features: np.ndarray,
    times: TrackletTimes,
    explicit: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    rule: ReentryRule,
) -> np.ndarray:
    """Mask of the compatible pairs to keep: pairs of two cameras, and same-camera pairs that
    ``mtmc.reentry.same_camera_allowed`` permits on evidence between the two fragments themselves
    (exact float64 similarity, rounded as the clustering rounds; ``explicit``: per camera, the
    layout has its own re-entry line)."""
    keep = times.camera[i] != times.camera[j]
    same = np.flatnonzero(~keep)
    p, q = i[same], j[same]
    exact = np.round(pair_similarities(np.asarray(features, np.float64), p, q), DECIMALS)
    gaps = start_gaps(times.start, times.end, p, q)
    rule = replace(rule, min_sim=round(float(rule.min_sim), DECIMALS))
    keep[same] = same_camera_allowed(tracklets, p, q, exact, gaps, explicit[times.camera[p]], rule)
    return keep


def _log_summary(best: np.ndarray, min_sim: float, stats: dict[str, float]) -> None:
    """Where MIN_SIM sits in the distribution of each tracklet's best compatible match."""
    known = best[~np.isnan(best)]
    if len(known):
        p10, p25, p50, p75, p90 = np.percentile(known, [10, 25, 50, 75, 90])
        log.info(
            "best-match similarity of the %d tracklets with a compatible partner: p10 %.2f, p25 %.2f, "
            "median %.2f, p75 %.2f, p90 %.2f; %.0f%% reach MTMC.MIN_SIM %.2f",
            len(known),
            p10,
            p25,
            p50,
            p75,
            p90,
            100 * float(np.mean(known >= min_sim)),
            min_sim,
        )
    log.info(
        "mtmc: %d tracklets, %d compatible pairs -> %d vehicles (%d seen by several cameras) in %.2f s",
        stats["tracklets"],
        stats["compatible_pairs"],
        stats["vehicles"],
        stats["multi_camera_vehicles"],
        stats["seconds"],
    )
