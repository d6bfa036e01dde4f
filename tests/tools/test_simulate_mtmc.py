"""Matching on real S02 trajectories with synthetic appearance: IDF1 as docs/mtmc.md reports, both stages
never below stage 1 alone and never holding a pair the layout rules out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from evaluate.formats import read_aic_ground_truth
from tools.simulate_mtmc import SYNTHETIC, simulate

STAGE_ONE = replace(SYNTHETIC, bridged=False)
BOTH = SYNTHETIC


def test_both_stages_reach_the_readme_idf1_and_never_lose_to_stage_one(shared: Path) -> None:
    path = shared / "data/aic_s02/ground_truth_S02.txt"
    gt = read_aic_ground_truth(path)
    # noise 0.5: same-vehicle cosine 0.8 before centring (generic features on one vehicle: ~0.9)
    one, _ = simulate(path, noise=0.5, fragment=0.0, options=STAGE_ONE, gt=gt)
    both, _ = simulate(path, noise=0.5, fragment=0.0, options=BOTH, gt=gt)
    assert both.gt_ids == 145
    assert both.idf1 >= one.idf1 and both.idf1 >= 0.95
    # a fifth of the trajectories cut in two by the single-camera tracker, at noise 0.25
    one, ceiling = simulate(path, noise=0.25, fragment=0.2, options=STAGE_ONE, gt=gt)
    both, _ = simulate(path, noise=0.25, fragment=0.2, options=BOTH, gt=gt)
    assert both.idf1 >= one.idf1 >= 0.90
    # continuity rejoins the cut tracks: above any clustering that keeps one tracklet per camera
    assert ceiling < one.idf1
    # without re-entry windows, stage 1 never joins two pieces of one camera
    alone, _ = simulate(path, noise=0.25, fragment=0.2, options=replace(STAGE_ONE, reentry_gap=0.0), gt=gt)
    assert alone.idf1 <= ceiling < 1.0
    assert one.impossible_pairs == both.impossible_pairs == 0
