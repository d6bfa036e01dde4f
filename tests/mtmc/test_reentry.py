"""Same-camera re-entry, linkage candidates and hand-over geometry of the second clustering stage,
on the simulator's S02 cases (real trajectories, synthetic look-alike appearance)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from config.layout import LayoutError, parse_layout
from evaluate.formats import read_aic_ground_truth
from mtmc.matching import MatchingOptions, match_tracklets
from tools.mtmc_original import original_labels
from tools.simulate_mtmc import multi_camera_idf1, same_camera_joins, scene


@pytest.fixture(scope="module")
def s02(shared: Path) -> tuple[Path, object]:
    path = shared / "data/aic_s02/ground_truth_S02.txt"
    return path, read_aic_ground_truth(path)


@pytest.mark.parametrize(("linkage", "cuts"), [("average", (0.2, 1, 0)), ("single", (0.5, 3, 20))])
def test_look_alikes_are_never_joined_through_one_camera(s02: tuple, linkage: str, cuts: tuple) -> None:
    """rho 0.5 (different vehicles of a group at cosine ~0.3), min_sim 0.3: the case that chained."""
    path, gt = s02
    tracklets, vehicles, layout = scene(path, gt, 0.5, *cuts[:1], 0.7, 256, 0, (-20, 20), 0.5, *cuts[1:])
    one = MatchingOptions(linkage, 0.3, True, 0, 0.0, bridged=False, reentry_gap=3.0)
    both = MatchingOptions(linkage, 0.3, True, 0, 0.0, reentry_gap=3.0)
    ids = match_tracklets(tracklets, layout, both, verbose=False).global_ids
    assert same_camera_joins(tracklets, vehicles, ids) == 0
    score = multi_camera_idf1(gt, tracklets, ids)[0]
    single = multi_camera_idf1(
        gt, tracklets, match_tracklets(tracklets, layout, one, verbose=False).global_ids
    )[0]
    original = multi_camera_idf1(gt, tracklets, original_labels(tracklets, layout, one))[0]
    assert score >= single and score >= original


def test_cut_tracks_rejoin_only_within_the_reentry_gap(s02: tuple) -> None:
    path, gt = s02
    tracklets, vehicles, layout = scene(path, gt, 0.25, 0.5, 0.7, 256, 0, (-20, 20), 0.0, 3, 20)
    scores = {}
    for gap in (0.0, 3.0):
        options = MatchingOptions("average", 0.5, True, 0, 0.0, reentry_gap=gap)
        ids = match_tracklets(tracklets, layout, options, verbose=False).global_ids
        scores[gap] = multi_camera_idf1(gt, tracklets, ids)[0]
        assert same_camera_joins(tracklets, vehicles, ids) == 0
    assert scores[3.0] > scores[0.0] + 0.02  # pieces 2 s apart at most come back together


def test_handover_lines_are_read_and_checked(tmp_path: Path) -> None:
    layout = tmp_path / "layout.txt"
    layout.write_text("0 1 -1 5\n1 0 -1 5\nfps 30 30\nhandover 0 1 0 140 960 188\n")
    (h,) = parse_layout(layout).handover
    assert (h.camera, h.other, h.box) == (0, 1, (0.0, 140.0, 960.0, 188.0))
    layout.write_text("0 1 -1 5\nfps 30 30\nhandover 0 1 0 140 960\n")
    with pytest.raises(LayoutError, match=r"layout\.txt:3"):
        parse_layout(layout)


def test_reentry_gap_adds_a_line_only_where_none_is(tmp_path: Path) -> None:
    layout = tmp_path / "layout.txt"
    layout.write_text("0 1 0 5\n1 1 10 20\nfps 10 10\n")
    gapped = parse_layout(layout).with_reentry_gap(3.0)
    assert np.diag(gapped.allowed).all()
    assert gapped.max_gap[0, 0] == 3.0 and gapped.max_gap[1, 1] == 20.0
