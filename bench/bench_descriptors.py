"""How well tracklet descriptors separate vehicles on real footage, per post-processing setting.

    python bench/bench_descriptors.py [--video ../shared/data/traffic/intersection_960x540.mp4]

There is no multi-camera ground truth offline, so two proxies are measured on the real clip:

* split halves: each tracklet of the full clip (ByteTrack, 10 samples) is split into its
  first and second half of samples; the two halves of one track are "the same vehicle at
  another moment", halves of different tracks are different vehicles. Reported: mean cosine
  of same / different pairs, the 99th percentile of different pairs, the share of same pairs
  reaching MIN_SIM 0.5 and of different pairs reaching it, and rank-1 (is a half's most
  similar other-half its own?).
* crop views: the demo's two bands of the frame act as cameras; a band's tracklet is the
  vehicle of the full-clip track it coincides with (IoU > 0.5 on half its frames), giving a
  few vehicles seen "by both cameras" with a real change of viewpoint and scale.

Descriptor settings are those of ``mtmc.descriptors`` (MTMC.FEATURE_CENTER,
MTMC.FEATURE_PCA_DIM, MTMC.COLOR_WEIGHT).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from config.loader import load_config
from detection.boxes import iou_matrix, xywh_to_xyxy
from mot.camera import run_camera
from mot.model_cache import ModelCache
from mot.tracklet import Tracklet
from mtmc.descriptors import build_descriptors
from reid.fusion import FusionOptions
from tools.make_crop_views import DEFAULT_VIEWS, View, make_views

REPO = Path(__file__).resolve().parent.parent
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "traffic" / "intersection_960x540.mp4"
SETTINGS = {
    "raw": FusionOptions(center=False),
    "centred": FusionOptions(),
    "centred + PCA 16": FusionOptions(pca_dim=16),
    "centred + PCA 32": FusionOptions(pca_dim=32),
    "centred + colour 0.2": FusionOptions(color_weight=0.2),
    "centred + colour 0.3 (default)": FusionOptions(color_weight=0.3),
    "centred + colour 0.5": FusionOptions(color_weight=0.5),
}


def track(video: Path, camera: int, out: Path, models: ModelCache) -> list[Tracklet]:
    cfg = load_config(
        REPO / "config/examples/mot_intersection.yaml",
        ["MOT.VIDEO", str(video), "MOT.VIDEO_OUTPUT", "false", "OUTPUT_DIR", str(out)],
        mode="mot",
    )
    return run_camera(cfg, camera, video.stem, out, models, progress=False).tracklets


def split_halves(tracklets: list[Tracklet]) -> tuple[list[Tracklet], np.ndarray]:
    halves, ids = [], []
    for t in tracklets:
        k = len(t.features)
        if k < 4:
            continue
        for part, rows in enumerate((slice(0, k // 2), slice(k // 2, k))):
            mean = t.features[rows].mean(axis=0)
            halves.append(
                replace(
                    t,
                    camera=part,
                    features=t.features[rows],
                    feature_frames=t.feature_frames[rows],
                    mean_feature=mean / np.linalg.norm(mean),
                )
            )
            ids.append(t.track_id)
    return halves, np.array(ids)


def view_labels(tracklets: list[Tracklet], full: list[Tracklet], views: list[View]) -> np.ndarray:
    """The full-clip track each view tracklet coincides with, or -1."""
    labels = []
    for t in tracklets:
        x0, y0, _, _ = views[t.camera].pixels(960, 540)
        best, best_share = -1, 0.0
        for f in full:
            _, a, b = np.intersect1d(t.frames, f.frames, return_indices=True)
            if len(a) < 0.5 * len(t):
                continue
            shifted = xywh_to_xyxy(t.bboxes[a]) + np.array([x0, y0, x0, y0], np.float32)
            share = float(np.mean(np.diag(iou_matrix(shifted, xywh_to_xyxy(f.bboxes[b]))) > 0.5))
            if share > best_share:
                best, best_share = f.track_id, share
        labels.append(best if best_share >= 0.5 else -1)
    return np.array(labels)


def pair_stats(desc: np.ndarray, ids: np.ndarray, groups: np.ndarray) -> tuple[float, ...]:
    sim = desc @ desc.T
    cross = (groups[:, None] != groups[None, :]) & (ids[:, None] >= 0) & (ids[None, :] >= 0)
    same, different = cross & (ids[:, None] == ids[None, :]), cross & (ids[:, None] != ids[None, :])
    rank1 = np.mean(ids[np.where(cross, sim, -np.inf).argmax(axis=1)] == ids)
    return (
        sim[same].mean(),
        sim[different].mean(),
        np.percentile(sim[different], 99),
        np.mean(sim[same] >= 0.5),
        np.mean(sim[different] >= 0.5),
        rank1,
        int(same.sum() // 2),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    models = ModelCache()
    views = [View.parse(v) for v in DEFAULT_VIEWS]
    with tempfile.TemporaryDirectory() as tmp:
        full = track(args.video, 9, Path(tmp) / "full", models)
        make_views(str(args.video), Path(tmp) / "cams", views, -1.0, 5.0, progress=False)
        in_views = [
            t
            for i, v in enumerate(views)
            for t in track(Path(tmp) / "cams" / f"{v.name}.mp4", i, Path(tmp) / v.name, models)
        ]
    halves, half_ids = split_halves(full)
    labels = view_labels(in_views, full, views)
    cams = np.array([t.camera for t in in_views])
    both = set(labels[(cams == 0) & (labels >= 0)]) & set(labels[(cams == 1) & (labels >= 0)])
    print(f"split halves: {len(halves) // 2} tracks of the full clip")
    print("| descriptor | same | different | different p99 | same >= 0.5 | different >= 0.5 | rank-1 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, fusion in SETTINGS.items():
        s = pair_stats(build_descriptors(halves, fusion), half_ids, np.array([h.camera for h in halves]))
        print(f"| {name} | {s[0]:.2f} | {s[1]:.2f} | {s[2]:.2f} | {s[3]:.0%} | {s[4]:.1%} | {s[5]:.2f} |")
    matched = int((labels >= 0).sum())
    print(
        f"\ncrop views: {len(in_views)} tracklets, {matched} matched to full-clip tracks, {len(both)} in both"
    )
    print("| descriptor | same | different | different p99 | same >= 0.5 | different >= 0.5 |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, fusion in SETTINGS.items():
        s = pair_stats(build_descriptors(in_views, fusion), labels, cams)
        print(f"| {name} | {s[0]:.2f} | {s[1]:.2f} | {s[2]:.2f} | {s[3]:.0%} | {s[4]:.1%} |")


if __name__ == "__main__":
    main()
