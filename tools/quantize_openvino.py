"""int8 copy of an OpenVINO detector (NNCF post-training quantization), calibrated on your footage.

    python tools/quantize_openvino.py --video my_camera.mp4 [--model vehicle-detection-0202.xml]
        [--frames 32] [--out models/]
        [--eval-video ../shared/data/aic_s03_c010/c010_first100.mp4
         --eval-gt ../shared/data/aic_s03_c010/gt.txt]

Why: on a CPU without AVX-512 (no bf16), OpenVINO runs the FP16 IR of the default detector in
f32; its int8 copy runs about twice as fast at the same input (docs/models.md, "int8 models"). Needs the
``int8`` extra (``pip install -e ".[int8]"``, NNCF).

The model is first reshaped to its run-time input (``--input-size``, else the manifest's
recommended ``MOT.DETECTOR_INPUT_SIZE``), because SSD priors follow the input size, then
quantized with NNCF's mixed preset on ``--frames`` frames spread over ``--video``, preprocessed
as the detector preprocesses them. It is written as ``<stem>-int8.xml`` / ``.bin`` under
``--out``, where the model search finds it; the manifest gives ``vehicle-detection-0202-int8``
the class map and recommended values of its fp32 model, so ``MOT.DETECTOR
vehicle-detection-0202-int8.xml`` (``config/examples/profile_int8.yaml``) is all a config needs.

The report (printed, and saved as ``<stem>-int8_report.json``) gives ms per frame of fp32 and
int8 and, with ``--eval-gt``, HOTA / IDF1 / MOTA and recall of the default ByteTrack pipeline
with each model on ``--eval-video``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detection.ssd import SsdDetector
from detection.video import VideoSourceError
from models.registry import ModelNotFoundError, manifest_entry, resolve_model
from models.runtime import BackendUnavailableError, import_backend, import_openvino
from tools.quantize_int8 import comparison_table, spread_frames

log = logging.getLogger("tools.quantize_openvino")

MODEL = "vehicle-detection-0202.xml"
SUFFIX = "-int8"


def input_size(model: str, given: Sequence[int]) -> tuple[int, int]:
    """The run-time input [height, width]: ``given``, else the manifest's recommended size."""
    if given:
        return int(given[0]), int(given[1])
    entry = manifest_entry(Path(model).name)
    size = entry.recommended.get("MOT.DETECTOR_INPUT_SIZE") if entry is not None else None
    if not size:
        raise ValueError(f"{model}: no recommended input size in the manifest; give --input-size H W")
    return int(size[0]), int(size[1])


def calibration_inputs(frames: Sequence[np.ndarray], size_hw: tuple[int, int]) -> list[np.ndarray]:
    """Frames as the SSD detector feeds them (plain resize, BGR 0-255, NCHW)."""
    return [SsdDetector.preprocess_to(frame, size_hw)[None] for frame in frames]


def quantize(model: Path, output: Path, samples: Sequence[np.ndarray]) -> Path:
    """NNCF int8 of the OpenVINO IR ``model`` at the samples' input shape, saved as ``output``."""
    ov = import_openvino()
    nncf = import_backend("nncf", "int8")
    network = ov.Core().read_model(str(model))
    network.reshape({network.inputs[0]: list(samples[0].shape)})
    quantized = nncf.quantize(
        network,
        nncf.Dataset(list(samples)),
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(samples),
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(output))
    return output


def ms_per_frame(model: Path, sample: np.ndarray, rounds: int = 10) -> float:
    """Network time of one frame (one request, the runtime's default threads)."""
    ov = import_openvino()
    network = ov.Core().read_model(str(model))
    network.reshape({network.inputs[0]: list(sample.shape)})
    request = ov.Core().compile_model(network, "CPU").create_infer_request()
    request.infer({0: sample})
    start = time.perf_counter()
    for _ in range(rounds):
        request.infer({0: sample})
    return 1000 * (time.perf_counter() - start) / rounds


def tracking_scores(
    model: Path, size_hw: tuple[int, int], video: str, gt: Path, out: Path
) -> dict[str, float]:
    """HOTA / IDF1 / MOTA / recall of the default pipeline with ``model`` (fp32 model's values)."""
    from config.loader import load_config
    from evaluate.formats import from_tracklets, read_boxes
    from evaluate.metrics import evaluate
    from mot.camera import run_camera
    from mot.model_cache import model_cache

    empty = out / "empty.yaml"
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.write_text("{}\n")
    overrides = ["OUTPUT_DIR", str(out), "MOT.VIDEO", video, "MOT.DETECTOR", str(model)]
    overrides += ["MOT.DETECTOR_INPUT_SIZE", str(list(size_hw)), "MOT.VIDEO_OUTPUT", "false"]
    cfg = load_config(empty, overrides, mode="mot")
    result = run_camera(cfg, 0, out.name, out, model_cache(cfg), progress=False)
    summary = evaluate(read_boxes(gt), from_tracklets(result.tracklets), 0.5)
    return {k: round(float(summary[k]), 4) for k in ("HOTA", "IDF1", "MOTA", "Recall")}


def report(
    args: argparse.Namespace, fp32: Path, int8: Path, samples: list[np.ndarray], size_hw: tuple[int, int]
) -> dict:
    out: dict[str, Any] = {"input_size": list(size_hw), "calibration_video": args.video}
    rows = {}
    for tag, path in (("fp32", fp32), ("int8", int8)):
        row: dict[str, Any] = {"ms_per_frame": round(ms_per_frame(path, samples[0]), 2)}
        if args.eval_gt is not None:
            with tempfile.TemporaryDirectory() as tmp:
                row |= tracking_scores(
                    path, size_hw, args.eval_video or args.video, args.eval_gt, Path(tmp) / tag
                )
        rows[tag] = row
    out |= rows
    return out


def print_report(result: dict[str, Any]) -> None:
    print(f"\nfp32 vs int8 at input {result['input_size']}\n")
    print(comparison_table(result["fp32"], result["int8"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", required=True, help="calibration footage (your own camera)")
    parser.add_argument("--model", default=MODEL, help="OpenVINO IR of the detector")
    parser.add_argument("--input-size", type=int, nargs=2, default=(), metavar=("H", "W"))
    parser.add_argument("--frames", type=int, default=32, help="calibration frames spread over the video")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "models")
    parser.add_argument("--eval-video", default="", help="video for the report (default: --video)")
    parser.add_argument("--eval-gt", type=Path, default=None, help="MOTChallenge gt of --eval-video")
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        fp32 = resolve_model(args.model)
        size_hw = input_size(args.model, args.input_size)
        samples = calibration_inputs(spread_frames(args.video, args.frames), size_hw)
        log.info("calibrating %s at %dx%d on %d frames of %s", fp32.name, *size_hw, len(samples), args.video)
        int8 = quantize(fp32, args.out / f"{fp32.stem}{SUFFIX}.xml", samples)
        log.info("wrote %s", int8)
        if not args.no_report:
            result = report(args, fp32, int8, samples, size_hw)
            (args.out / f"{fp32.stem}{SUFFIX}_report.json").write_text(json.dumps(result, indent=2))
            print_report(result)
    except (VideoSourceError, BackendUnavailableError, ModelNotFoundError, ValueError) as err:
        log.error("%s", err)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
