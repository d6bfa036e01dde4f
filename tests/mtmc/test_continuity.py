"""The same-camera continuity rule (``mtmc.reentry``) on real S02 trajectories: a cut real track
continues, a different real vehicle does not, and the simulator's close-follower look-alikes
with cut tracks are never joined through one camera."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from config.loader import ConfigError, load_config
from evaluate.formats import BoxRows, read_aic_ground_truth
from mot.tracklet import Tracklet
from mtmc.express import matching_options
from mtmc.matching import match_tracklets
from mtmc.reentry import ReentryRule, continues, same_camera_allowed
from tools.mtmc_original import original_labels
from tools.simulate_mtmc import IdentityScorer, same_camera_joins, scene

FPS = 10.0  # S02


@pytest.fixture(scope="module")
def s02(shared: Path) -> tuple[Path, BoxRows]:
    path = shared / "data/aic_s02/ground_truth_S02.txt"
    return path, read_aic_ground_truth(path)


@pytest.fixture(scope="module")
def tracks(s02: tuple[Path, BoxRows]) -> dict[tuple[int, int], Tracklet]:
    """Every real (camera, vehicle) trajectory of S02 as one tracklet."""
    gt = s02[1]
    order = np.lexsort((gt.frame, gt.track_id, gt.camera))
    rows: dict[tuple[int, int], list[int]] = {}
    for k in order.tolist():
        rows.setdefault((int(gt.camera[k]), int(gt.track_id[k])), []).append(k)
    return {
        key: Tracklet(key[1], key[0], gt.frame[r] - 1, gt.xywh[r], np.ones(len(r)))
        for key, r in ((key, np.array(r)) for key, r in rows.items())
    }


@pytest.fixture(scope="module")
def rule() -> ReentryRule:
    return matching_options(load_config(None)).reentry_rule()


def cut(track: Tracklet, at: int, dropped: int) -> tuple[Tracklet, Tracklet]:
    """The track cut before row ``at``, ``dropped`` rows lost (an occlusion)."""
    first = Tracklet(1, track.camera, track.frames[:at], track.bboxes[:at], track.scores[:at])
    k = at + dropped
    return first, Tracklet(2, track.camera, track.frames[k:], track.bboxes[k:], track.scores[k:])


def gap(first: Tracklet, then: Tracklet) -> float:
    return float(then.frames[0] - first.frames[-1]) / FPS


def test_cut_real_tracks_continue(tracks: dict, rule: ReentryRule) -> None:
    """Every real trajectory of 40+ boxes cut in its middle, half a second lost."""
    long = [t for t in tracks.values() if len(t) >= 40]
    joined = [continues(*pieces, gap(*pieces), rule) for pieces in (cut(t, len(t) // 2, 5) for t in long)]
    assert len(long) > 100
    assert np.mean(joined) >= 0.95


def test_real_vehicles_entering_after_a_cut_do_not_continue(tracks: dict, rule: ReentryRule) -> None:
    """A vehicle whose track starts within the continuity gap after another's was cut mid-view."""
    tried = joined = 0
    for (camera, vehicle), track in tracks.items():
        if len(track) < 40:
            continue
        first, _ = cut(track, len(track) // 2, 5)
        for (other_camera, other), then in tracks.items():
            if other_camera == camera and other != vehicle and 0 < gap(first, then) <= rule.continuity_gap:
                tried += 1
                joined += continues(first, then, gap(first, then), rule)
    assert tried > 100
    assert joined / tried <= 0.08


def allowed(pieces: list[Tracklet], pairs: list[tuple[int, int, float]], rule: ReentryRule) -> list[bool]:
    """``same_camera_allowed`` of ``(i, j, similarity)`` pairs of one camera (implicit window)."""
    i, j = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    sims = np.array([p[2] for p in pairs])
    ordered = (sorted((pieces[p], pieces[q]), key=lambda t: t.frames[0]) for p, q in zip(i, j, strict=True))
    gaps = np.array([gap(*pair) for pair in ordered])
    return same_camera_allowed(pieces, i, j, sims, gaps, np.zeros(len(i), bool), rule).tolist()


def test_continuity_stands_in_for_appearance_only_where_it_holds(tracks: dict, rule: ReentryRule) -> None:
    """The permission of pairs of one real track's pieces, and of two real vehicles."""
    track = max((t for t in tracks.values() if t.camera == 0), key=len)
    first, then = cut(track, len(track) // 2, 5)
    entering = min(
        (t for t in tracks.values() if t.camera == 0 and gap(first, t) > 0),
        key=lambda t: gap(first, t),
    )
    assert allowed([first, then, entering], [(0, 1, 0.1), (0, 2, 0.1)], rule) == [True, False]
    assert allowed([first, then], [(0, 1, rule.continuity_min_sim - 0.1)], rule) == [False]
    far = cut(track, len(track) // 2, int(rule.continuity_gap * FPS) + 5)
    assert allowed(list(far), [(0, 1, 0.1)], rule) == [False]  # too long a gap
    assert allowed([first, then], [(0, 1, rule.min_sim)], rule) == [True]  # the appearance rule
    off = replace(rule, continuity_gap=0.0)
    assert allowed([first, then], [(0, 1, 0.1), (0, 1, rule.min_sim)], off) == [False, True]


def test_one_track_continues_as_one_track(tracks: dict, rule: ReentryRule) -> None:
    """A look-alike's fragment starting beside the true continuation: appearance picks one."""
    track = max((t for t in tracks.values() if t.camera == 0), key=len)
    first, then = cut(track, len(track) // 2, 5)
    size = float(np.sqrt(then.bboxes[0, 2] * then.bboxes[0, 3]))
    beside = replace(then, track_id=3, bboxes=then.bboxes + np.float32([0.3 * size, 0, 0, 0]))
    pieces = [first, then, beside]
    assert allowed(pieces, [(0, 1, 0.2), (0, 2, 0.1)], rule) == [True, False]
    assert allowed(pieces, [(0, 1, 0.1), (0, 2, 0.2)], rule) == [False, True]


def test_close_look_alike_followers_with_cut_tracks_are_never_joined(s02: tuple[Path, BoxRows]) -> None:
    """rho 0.5 groups of close followers, fragment-heavy cuts, single linkage at MIN_SIM 0.3."""
    path, gt = s02
    tracklets, vehicles, layout = scene(path, gt, 0.5, 0.5, 0.7, 256, 0, (-20, 20), 0.5, 3, 20, "followers")
    both = replace(
        matching_options(load_config(None)),
        linkage="single",
        min_sim=0.3,
        color_weight=0.0,
        camera_norm=False,
    )
    one = replace(both, bridged=False)
    ids = match_tracklets(tracklets, layout, both, verbose=False).global_ids
    assert same_camera_joins(tracklets, vehicles, ids) == 0
    idf1 = IdentityScorer(gt, tracklets)
    stage_one = idf1(match_tracklets(tracklets, layout, one, verbose=False).global_ids)[0]
    assert idf1(ids)[0] >= max(stage_one, idf1(original_labels(tracklets, layout, one))[0])


def test_continuity_keys_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"MTMC\.CONTINUITY_REACH"):
        load_config(None, ["MTMC.CONTINUITY_REACH", "0"])
    with pytest.raises(ConfigError, match=r"MTMC\.CONTINUITY_GAP"):
        load_config(None, ["MTMC.CONTINUITY_GAP", "-1"])
