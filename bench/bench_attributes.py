"""Attribute and plate costs per crop, and what they add to the MOT runner on the intersection clip.

    python bench/bench_attributes.py [--rounds 5]

Per-crop rows time each backend on vehicle crops of the clip (batches as the enricher sends
them). Plate rows time one read of a vehicle crop at least 100 px wide (what the runner reads).
Runner rows run the MOT runner (ByteTrack, ONNX Runtime, video output off) on the 252-frame
clip with attributes off, then with OpenVINO colour + detector type + ALPR (rapidocr), and
report the slowdown; per-track sampling is what keeps it small.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from config.loader import load_config
from detection.factory import build_detector
from detection.filters import filter_detections
from mot.camera import run_camera
from mot.model_cache import ModelCache
from reid.color import color_histogram
from reid.factory import build_embedder

REPO = Path(__file__).resolve().parent.parent
VIDEO = REPO.parent / "shared" / "data" / "traffic" / "intersection_960x540.mp4"
PHOTO = REPO.parent / "shared" / "data" / "images" / "mercedes.jpg"


def timed(fn: Callable[[], object], per: int, rounds: int) -> float:
    fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(1000 * (time.perf_counter() - start) / per)
    return statistics.median(samples)


def clip_crops(count: int = 64) -> list[np.ndarray]:
    detector = build_detector("yolox_nano.onnx")
    cap = cv2.VideoCapture(str(VIDEO))
    crops: list[np.ndarray] = []
    while len(crops) < count:
        ok, frame = cap.read()
        if not ok:
            break
        for x1, y1, x2, y2 in filter_detections(detector.detect(frame), 0.4, [2, 3, 5, 7]).xyxy.astype(int):
            crops.append(frame[y1:y2, x1:x2])
    cap.release()
    return crops[:count]


def runner_seconds(overrides: list[str]) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as out:
        cfg = load_config(
            REPO / "config/examples/mot_intersection.yaml",
            ["OUTPUT_DIR", out, "MOT.VIDEO_OUTPUT", "false", *overrides],
            mode="mot",
        )
        models = ModelCache()
        (
            models.detector(cfg.MOT),
            models.embedder(cfg.MOT),
            models.attribute_readers(cfg.MOT),
            models.plate_reader(cfg.MOT),
        )
        start = time.perf_counter()
        result = run_camera(cfg, 0, "intersection", Path(out), models, progress=False)
        return time.perf_counter() - start, sum("plate" in t.attributes for t in result.tracklets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    crops = clip_crops()
    rows = [
        (
            "colour histogram (reid/color.py)",
            timed(lambda: [color_histogram(c) for c in crops], len(crops), args.rounds),
        )
    ]
    features = build_embedder().embed_crops(crops)
    if importlib.util.find_spec("openvino"):
        from reid.attributes import build_attribute_readers

        (ov,) = build_attribute_readers(
            [
                {"color": "vehicle-attributes-recognition-barrier-0039"},
                {"type": "vehicle-attributes-recognition-barrier-0039"},
            ]
        )
        rows.append(
            ("OpenVINO colour + type, batch 16", timed(lambda: ov.read(crops), len(crops), args.rounds))
        )
        labels = ov.read(crops)["color"][0]
        if len(set(labels)) >= 2:
            from sklearn.linear_model import LogisticRegression

            from reid.attributes import EmbeddingClassifier

            fitted = LogisticRegression(max_iter=2000).fit(features, labels)
            clf = EmbeddingClassifier("color", fitted.coef_, fitted.intercept_, list(fitted.classes_), {})
            rows.append(
                (
                    "embedding classifier (on ReID features)",
                    timed(lambda: clf.read(features), len(crops), args.rounds),
                )
            )
    print(f"{len(crops)} vehicle crops of the intersection clip\n")
    print("| attribute backend | ms per crop |\n|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.3f} |")
    if importlib.util.find_spec("rapidocr"):
        from reid.plates import build_plate_reader

        photo = cv2.imread(str(PHOTO))
        car = photo[260:630, 110:590]
        wide = [c for c in clip_crops(400) if c.shape[1] >= 100][:8] or [car]
        print("\n| plate reader | ms per read | reading of the Mercedes photo |\n|---|---:|---|")
        localisers = ["text"] + (["openvino"] if importlib.util.find_spec("openvino") else [])
        for localiser in localisers:
            reader = build_plate_reader("rapidocr", localiser)
            ms = timed(lambda reader=reader: reader.read(wide), len(wide), max(1, args.rounds // 2))
            print(f"| rapidocr, {localiser} localiser | {ms:.1f} | {reader.read([car])[0][0] or '(none)'} |")
    base, _ = runner_seconds([])
    print("\n| MOT runner on the clip (252 frames) | seconds | slowdown | tracklets with a plate |")
    print("|---|---:|---:|---:|")
    print(f"| attributes and ALPR off | {base:.2f} | - | 0 |")
    if importlib.util.find_spec("openvino") and importlib.util.find_spec("rapidocr"):
        on = [
            "MOT.STATIC_ATTRIBUTES",
            "[{color: vehicle-attributes-recognition-barrier-0039}]",
            "MOT.ENABLE_ALPR",
            "true",
        ]
        seconds, plates = runner_seconds(on)
        slowdown = 100 * (seconds / base - 1)
        name = "OpenVINO colour, detector type, ALPR (rapidocr)"
        print(f"| {name} | {seconds:.2f} | {slowdown:+.0f} % | {plates} |")


if __name__ == "__main__":
    main()
