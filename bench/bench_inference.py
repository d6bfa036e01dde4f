"""Inference timings on the intersection clip: video decode, detector stages, ReID per crop.

    python bench/bench_inference.py [--frames 100] [--threads 2] [--rounds 5] [--video PATH]

Prints a Markdown table; every row is measured in this run, on this machine, as the median
of ``--rounds`` rounds (shared virtual machines have noisy neighbours: the spread is shown).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from detection.boxes import crop_boxes
from detection.factory import build_detector
from detection.filters import filter_detections
from detection.yolo import YoloDetector
from reid.factory import build_embedder

REPO = Path(__file__).resolve().parent.parent
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "traffic" / "intersection_960x540.mp4"
VEHICLES = [2, 3, 5, 7]


def timed(fn: Callable[[], object], per: int, rounds: int) -> tuple[float, float, float]:
    """(median, min, max) milliseconds per item over ``rounds`` calls of ``fn`` covering ``per`` items."""
    fn()  # warm-up
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(1000 * (time.perf_counter() - start) / per)
    return statistics.median(samples), min(samples), max(samples)


def read_frames(video: Path, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def decode_row(video: Path, count: int, rounds: int) -> tuple[str, tuple[float, float, float]]:
    return "video decode (OpenCV)", timed(lambda: read_frames(video, count), count, rounds)


def detector_rows(backend: str, fp16: bool, frames: list[np.ndarray], threads: int, rounds: int) -> list:
    det = build_detector("yolox_nano.onnx", backend=backend, conf_threshold=0.1, threads=threads, fp16=fp16)
    assert isinstance(det, YoloDetector)
    label = f"{backend}{' fp16' if fp16 else ''}"
    pre = [det.preprocess(f) for f in frames]
    raws = [det.runner.run(x[None])[0][0] for x, _ in pre]
    n = len(frames)

    def preprocess() -> None:
        for frame in frames:  # one at a time, as the runner does
            det.preprocess(frame)

    def post() -> None:
        for raw, (_, box), frame in zip(raws, pre, frames, strict=True):
            det.postprocess(raw, box, frame.shape[:2])

    return [
        (f"detector preprocess ({label})", timed(preprocess, n, rounds)),
        (
            f"detector inference ({label})",
            timed(lambda: [det.runner.run(x[None]) for x, _ in pre], n, rounds),
        ),
        (f"detector postprocess ({label})", timed(post, n, rounds)),
        (f"**detector all-in ({label})**", timed(lambda: det.detect_batch(frames), n, rounds)),
    ]


def reid_rows(backend: str, fp16: bool, crops: list[np.ndarray], threads: int, rounds: int) -> list:
    """Batches 1/8/32 as configured (concurrent small requests); batch 32 as one request to compare."""
    rows = []
    subset = crops[:64]
    for batch, parallel in ((1, True), (8, True), (32, True), (32, False)):
        emb = build_embedder(backend, batch_size=batch, threads=threads, fp16=fp16, parallel=parallel)
        mode = "" if parallel else ", one request"
        label = f"ReID per crop, batch {batch} ({backend}{' fp16' if fp16 else ''}{mode})"
        rows.append((label, timed(lambda emb=emb: emb.embed_crops(subset), len(subset), rounds)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    frames = read_frames(args.video, args.frames)
    base = build_detector("yolox_nano.onnx", threads=args.threads)
    crops = []
    for frame in frames[::5]:
        crops += crop_boxes(frame, filter_detections(base.detect(frame), 0.3, VEHICLES).xyxy)
    variants = [("onnxruntime", False)]
    if importlib.util.find_spec("openvino"):
        variants += [("openvino", False), ("openvino", True)]
    rows = [decode_row(args.video, len(frames), args.rounds)]
    for backend, fp16 in variants:
        rows += detector_rows(backend, fp16, frames, args.threads, args.rounds)
    for backend, fp16 in variants:
        rows += reid_rows(backend, fp16, crops, args.threads, args.rounds)
    h, w = frames[0].shape[:2]
    print(
        f"{len(frames)} frames of {args.video.name} ({w}x{h}), {len(crops)} vehicle crops (64 timed), "
        f"{args.threads} threads, median of {args.rounds} rounds\n"
    )
    print("| stage | ms (median) | min - max |\n|---|---:|---:|")
    for name, (median, low, high) in rows:
        print(f"| {name} | {median:.2f} | {low:.2f} - {high:.2f} |")


if __name__ == "__main__":
    main()
