"""The same-camera floor from the run's own similarities (``mtmc.calibration``): its two samples on real
S02 trajectories, its levels on the simulator's appearance scales, and what it does to look-alikes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from config.layout import CameraLayout
from config.loader import ConfigError, load_config
from evaluate.formats import BoxRows, read_aic_ground_truth
from mot.tracklet import Tracklet
from mtmc.calibration import COEXISTING_PER_TRACKLET, appearance_levels, coexisting_pairs, mutual_nearest
from mtmc.compatibility import compatible_pairs, tracklet_times
from mtmc.descriptors import build_descriptors
from mtmc.express import matching_options
from mtmc.matching import MatchingOptions, match_tracklets
from mtmc.reentry import ReentryRule
from tools.mtmc_original import original_labels
from tools.mtmc_scene import s02_layout, scene, trajectories
from tools.simulate_mtmc import IdentityScorer, same_camera_joins

BASE_COS = 0.7  # the simulator's cosine between different vehicles before centring


@pytest.fixture(scope="module")
def s02(shared: Path) -> tuple[Path, BoxRows]:
    path = shared / "data/aic_s02/ground_truth_S02.txt"
    return path, read_aic_ground_truth(path)


def test_coexisting_pairs_are_real_vehicles_seen_at_once(s02: tuple[Path, BoxRows]) -> None:
    """Real S02 trajectories, cut like a tracker cuts them: every sampled pair is two vehicles, and each
    tracklet meets the first of the later ones in view, as many as the sample takes."""
    tracklets, vehicles = trajectories(s02[1], 0.5, np.random.default_rng(0), 3, 20)
    times = tracklet_times(tracklets, s02_layout(4))
    p, q = coexisting_pairs(times)
    vehicle = np.array(vehicles)
    assert len(p) > 1000
    assert (times.camera[p] == times.camera[q]).all()
    assert ((times.start[p] <= times.start[q]) & (times.start[q] <= times.end[p])).all()
    assert (vehicle[p] != vehicle[q]).all()  # one camera never sees a vehicle twice at once
    same = times.camera[:, None] == times.camera[None, :]
    start, index = times.start, np.arange(len(tracklets))
    after = (start[None, :] > start[:, None]) | (
        (start[None, :] == start[:, None]) & (index[None, :] > index[:, None])
    )
    later = after & (start[None, :] <= times.end[:, None])  # entering while in view (ties: list order)
    expected = np.minimum((same & later).sum(axis=1), COEXISTING_PER_TRACKLET)
    np.testing.assert_array_equal(np.bincount(p, minlength=len(tracklets)), expected)


def test_mutual_nearest_pairs_by_hand() -> None:
    """Tracklets 0, 1 of camera 0; 2, 3 of camera 1. 0-2 and 1-3 are mutual; 0-3 is 3's best only."""
    camera = np.array([0, 0, 1, 1])
    i, j = np.array([0, 0, 1, 2]), np.array([2, 3, 3, 3])
    sims = np.array([0.9, 0.6, 0.5, 0.95])  # 2-3: one camera, never counted
    np.testing.assert_array_equal(mutual_nearest(camera, i, j, sims), [0.9])
    np.testing.assert_array_equal(mutual_nearest(camera, i, j, np.array([0.9, 0.4, 0.5, 0.95])), [0.9, 0.5])


def test_with_floor_raises_both_bars_and_never_lowers_them() -> None:
    rule = ReentryRule(0.5, 2.0, 1.0, 0.0)
    assert rule.with_floor(None) == rule
    assert rule.with_floor(0.6) == ReentryRule(0.6, 2.0, 1.0, 0.6)
    assert rule.with_floor(0.2) == ReentryRule(0.5, 2.0, 1.0, 0.2)


def test_the_cap_lowers_only_the_appearance_bar() -> None:
    rule = ReentryRule(0.5, 2.0, 1.0, 0.0)
    assert rule.with_cap(None) == rule
    assert rule.with_cap(0.2) == ReentryRule(0.2, 2.0, 1.0, 0.0)
    assert rule.with_cap(0.7) == rule
    assert rule.with_cap(0.2).with_floor(0.3) == ReentryRule(0.3, 2.0, 1.0, 0.3)  # the floor still holds


def test_the_floor_key_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"MTMC\.SAME_CAMERA_FLOOR"):
        load_config(None, ["MTMC.SAME_CAMERA_FLOOR", "1.5"])
    with pytest.raises(ConfigError, match=r"MTMC\.REENTRY_CAP"):
        load_config(None, ["MTMC.REENTRY_CAP", "0.5"])


def scene_pairs(s02: tuple[Path, BoxRows], noise: float) -> tuple:
    """A close-follower scene (rho 0.5, fragment-heavy cuts): its levels, and the similarities of the
    same-camera pairs of one vehicle and of two vehicles."""
    path, gt = s02
    tracklets, vehicles, layout = scene(
        path, gt, noise, 0.5, BASE_COS, 256, 0, (-20, 20), 0.5, 3, 20, "followers"
    )
    features = build_descriptors(tracklets)
    times = tracklet_times(tracklets, layout)
    levels = appearance_levels(features, times, *compatible_pairs(times, layout, features))
    vehicle = np.array(vehicles)
    i, j = np.nonzero(np.triu(times.camera[:, None] == times.camera[None, :], 1))
    sims = np.einsum("nd,nd->n", features[i], features[j])
    return levels, sims[vehicle[i] == vehicle[j]], sims[vehicle[i] != vehicle[j]]


@pytest.mark.parametrize(("noise", "own_refused"), [(0.0, 0.0), (0.5, 0.0), (1.0, 0.03)])
def test_the_floor_follows_the_appearance_scale(
    s02: tuple[Path, BoxRows], noise: float, own_refused: float
) -> None:
    """Clean appearance: look-alikes (0.5-0.6 alike, hundreds of pairs at a 0.5 bar) stay below the
    floor, a vehicle's own fragments (1.0) above it. Noisy appearance (own fragments about 0.23
    alike): the floor follows them down, between the two levels, and refuses few."""
    levels, own, two = scene_pairs(s02, noise)
    floor = levels.floor(load_config(None).MTMC.SAME_CAMERA_FLOOR)
    assert abs(levels.different) < 0.05  # the run's mean is taken off
    assert levels.different < floor < np.median(own)
    assert np.mean(own < floor) <= own_refused
    if noise == 0:
        assert (two >= 0.5).sum() > 100
        assert (two >= floor).sum() <= 0.01 * (two >= 0.5).sum()


def simulator_options(linkage: str, min_sim: float) -> MatchingOptions:
    """The defaults as the simulator runs them: its linkage and MIN_SIM, re-entry 0.5, appearance only."""
    return replace(
        matching_options(load_config(None)),
        linkage=linkage,
        min_sim=min_sim,
        reentry_min_sim=0.5,
        color_weight=0.0,
        camera_norm=False,
    )


def single_stage_scores(
    idf1: IdentityScorer, tracklets: list[Tracklet], layout: CameraLayout, options: MatchingOptions
) -> float:
    """The better IDF1 of stage 1 alone and of the original's rule, at ``options``."""
    one = replace(options, bridged=False)
    stage_one = idf1(match_tracklets(tracklets, layout, one, verbose=False).global_ids)[0]
    return max(stage_one, idf1(original_labels(tracklets, layout, one))[0])


def test_close_look_alike_followers_at_noise_zero_are_never_joined(s02: tuple[Path, BoxRows]) -> None:
    """The close-follower stress at noise 0, fragment-heavy cuts, average at MIN_SIM 0.5: without the
    floor look-alikes (0.5 alike, as alike as REENTRY_MIN_SIM asks) join through one camera."""
    path, gt = s02
    tracklets, vehicles, layout = scene(
        path, gt, 0.0, 0.5, BASE_COS, 256, 0, (-20, 20), 0.5, 3, 20, "followers"
    )
    both = simulator_options("average", 0.5)
    assert both.same_camera_floor > 0  # the default
    ids = match_tracklets(tracklets, layout, both, verbose=False).global_ids
    off = match_tracklets(tracklets, layout, replace(both, same_camera_floor=0.0), verbose=False).global_ids
    assert same_camera_joins(tracklets, vehicles, ids) == 0
    assert same_camera_joins(tracklets, vehicles, off) > 0
    idf1 = IdentityScorer(gt, tracklets)
    assert idf1(ids)[0] >= max(single_stage_scores(idf1, tracklets, layout, both), idf1(off)[0])


@pytest.mark.parametrize("rho", [0.0, 0.5])
def test_noisy_fragments_of_one_vehicle_rejoin_with_the_cap(s02: tuple[Path, BoxRows], rho: float) -> None:
    """Noise 1 (own fragments about 0.23 alike, under every fixed bar), fragment-heavy cuts,
    ``mean_feature`` at MIN_SIM 0.3: the setting where the original's any-pair rule was ahead."""
    path, gt = s02
    tracklets, vehicles, layout = scene(path, gt, 1.0, 0.5, BASE_COS, 256, 0, (-20, 20), rho, 3, 20)
    both = simulator_options("mean_feature", 0.3)
    assert both.reentry_cap  # the default
    ids = match_tracklets(tracklets, layout, both, verbose=False).global_ids
    uncapped = match_tracklets(tracklets, layout, replace(both, reentry_cap=False), verbose=False).global_ids
    idf1 = IdentityScorer(gt, tracklets)
    assert idf1(ids)[0] >= single_stage_scores(idf1, tracklets, layout, both)
    assert idf1(ids)[0] > idf1(uncapped)[0] + 0.01
    if rho > 0:
        assert same_camera_joins(tracklets, vehicles, ids) == 0
