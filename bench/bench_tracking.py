"""Tracker update cost on synthetic scenes and full-runner speed on the intersection clip.

    python bench/bench_tracking.py [--frames 300] [--rounds 5] [--skip-runner]

Synthetic scenes: N vehicles on straight paths at constant speeds (boxes 40-120 px), 3 %
box jitter, 5 % of boxes missed per frame, scores U(0.3, 1.0); DeepSORT gets 1280-d unit
features (a per-vehicle prototype plus noise), as the default ReID model gives. The update
time is the median over rounds of the mean per-frame time after a 50-frame warm-up.

Runner rows run ``mot.camera.run_camera`` on the 252-frame intersection clip with video
output off: decoding, detection, ReID (ByteTrack: sampled crops per track; DeepSORT: every
detection), tracking and writing the outputs.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from config.loader import load_config
from detection.types import Detections
from mot.camera import run_camera
from mot.factory import build_tracker
from mot.model_cache import ModelCache

REPO = Path(__file__).resolve().parent.parent
MOT_CONFIG = REPO / "config" / "examples" / "mot_intersection.yaml"


def synthetic_scene(n: int, frames: int, seed: int = 0, dim: int = 1280) -> list[Detections]:
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 1800, (n, 2))
    velocity = rng.uniform(-6, 6, (n, 2))
    size = rng.uniform(40, 120, (n, 2))
    prototypes = rng.normal(size=(n, dim)).astype(np.float32)
    scenes = []
    for t in range(frames):
        centre = start + velocity * t + rng.normal(0, 0.03, (n, 2)) * size
        seen = rng.random(n) >= 0.05
        boxes = np.hstack([centre - size / 2, centre + size / 2])[seen]
        feats = prototypes[seen] + 0.3 * rng.normal(size=(int(seen.sum()), dim)).astype(np.float32)
        feats /= np.linalg.norm(feats, axis=1, keepdims=True)
        scenes.append(Detections(boxes, rng.uniform(0.3, 1.0, len(boxes)), np.full(len(boxes), 2), feats))
    return scenes


def update_ms(tracker_name: str, scene: list[Detections], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        tracker = build_tracker(tracker_name)
        for dets in scene[:50]:
            tracker.update(dets)
        start = time.perf_counter()
        for dets in scene[50:]:
            tracker.update(dets)
        samples.append(1000 * (time.perf_counter() - start) / (len(scene) - 50))
    return statistics.median(samples)


def runner_fps(overrides: list[str]) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as out:
        cfg = load_config(
            MOT_CONFIG, ["OUTPUT_DIR", out, "MOT.VIDEO_OUTPUT", "false", *overrides], mode="mot"
        )
        models = ModelCache(cfg.SYSTEM.DEVICE, cfg.SYSTEM.NUM_THREADS)
        models.detector(cfg.MOT), models.embedder(cfg.MOT)  # load before timing
        start = time.perf_counter()
        result = run_camera(cfg, 0, "intersection", Path(out), models, progress=False)
        return result.stats.frames / (time.perf_counter() - start), len(result.tracklets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-runner", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print("| tracker | objects | update ms / frame |\n|---|---:|---:|")
    for n in (10, 50, 200):
        scene = synthetic_scene(n, args.frames)
        for name in ("bytetrack_iou", "deepsort"):
            print(f"| {name} | {n} | {update_ms(name, scene, args.rounds):.3f} |")
    if args.skip_runner:
        return
    variants = [
        ("bytetrack_iou", "onnxruntime", []),
        ("deepsort", "onnxruntime", ["MOT.TRACKER", "deepsort"]),
    ]
    if importlib.util.find_spec("openvino"):
        fast = ["MOT.DETECTOR_BACKEND", "openvino", "MOT.DETECTOR_FP16", "true"]
        fast += ["MOT.REID_BACKEND", "openvino", "MOT.REID_FP16", "true"]
        variants += [
            ("bytetrack_iou", "openvino bf16", fast),
            ("deepsort", "openvino bf16", [*fast, "MOT.TRACKER", "deepsort"]),
        ]
    print("\n| runner (252-frame intersection clip) | backend | frames/s | tracklets |\n|---|---|---:|---:|")
    for tracker, backend, overrides in variants:
        fps, count = runner_fps(overrides)
        print(f"| {tracker} | {backend} | {fps:.1f} | {count} |")


if __name__ == "__main__":
    main()
