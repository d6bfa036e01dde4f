"""Detector inference under each runtime session option, side by side, to choose the defaults.

    python bench/bench_session_options.py [--frames 60] [--rounds 5] [--model yolox_nano.onnx]

ONNX Runtime: graph optimisation level x execution mode x intra-op threads (1, 2), one request
at a time. OpenVINO (when installed): performance hint x concurrent requests (1 request, or 2
threads each sending frames, as ``MOT.DETECTION_WORKERS 2`` does). Each row is the median over
``--rounds`` of ms per frame (network only, inputs preprocessed once), with the ratio to the
default (ONNX Runtime ``all``/``sequential``, 2 threads; x > 1 is faster).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from detection.factory import build_detector
from detection.yolo import YoloDetector
from models.registry import resolve_model
from models.runtime import ORT_EXECUTION_MODES, ORT_GRAPH_OPTIMIZATIONS, SessionOptions, open_runner

REPO = Path(__file__).resolve().parent.parent
VIDEO = REPO.parent / "shared" / "data" / "traffic" / "intersection_960x540.mp4"


def inputs(model: str, frames: int) -> list[np.ndarray]:
    import cv2

    detector = build_detector(model, backend="onnxruntime")
    assert isinstance(detector, YoloDetector)
    cap, out = cv2.VideoCapture(str(VIDEO)), []
    while len(out) < frames:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(detector.preprocess(frame)[0][None])
    cap.release()
    return out


def ms_per_frame(runner, batches: list[np.ndarray], workers: int, rounds: int) -> float:
    def run_all() -> None:
        if workers == 1:
            for b in batches:
                runner.run(b)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(runner.run, batches))

    run_all()  # warm-up
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        run_all()
        samples.append(1000 * (time.perf_counter() - start) / len(batches))
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="yolox_nano.onnx")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    path = resolve_model(args.model)
    batches = inputs(args.model, args.frames)
    rows: list[tuple[str, float]] = []
    for level in ORT_GRAPH_OPTIMIZATIONS:
        for mode in ORT_EXECUTION_MODES:
            for threads in (1, 2):
                runner = open_runner(
                    path, "onnxruntime", threads=threads, options=SessionOptions(mode, level)
                )
                label = f"onnxruntime {level} {mode}, {threads} threads"
                rows.append((label, ms_per_frame(runner, batches, 1, args.rounds)))
    rows.append(
        (
            "onnxruntime all sequential, 1 thread x 2 workers",
            ms_per_frame(open_runner(path, "onnxruntime", threads=1), batches, 2, args.rounds),
        )
    )
    if importlib.util.find_spec("openvino"):
        for hint in ("", "latency", "throughput"):
            runner = open_runner(path, "openvino", options=SessionOptions(openvino_hint=hint))
            for workers in (1, 2):
                label = f"openvino hint '{hint}', {workers} concurrent request(s)"
                rows.append((label, ms_per_frame(runner, batches, workers, args.rounds)))
    default = next(ms for label, ms in rows if label == "onnxruntime all sequential, 2 threads")
    print(f"{len(batches)} frames of {VIDEO.name}, {path.name}, median of {args.rounds} rounds\n")
    print("| session | ms / frame | x default |\n|---|---:|---:|")
    for label, ms in rows:
        print(f"| {label} | {ms:.2f} | {default / ms:.2f} |")


if __name__ == "__main__":
    main()
