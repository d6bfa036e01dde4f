"""int8 copies of the detector and the ReID model (ONNX Runtime static quantization), with their cost.

    python tools/quantize_int8.py --video my_camera.mp4 [--out models/] [--frames 64]
        [--eval-video ../shared/data/aic_s03_c010/c010_first100.mp4
         --eval-gt ../shared/data/aic_s03_c010/gt.txt]

Calibration uses the user's own footage: ``--frames`` frames spread over ``--video`` for the
detector, and the vehicle crops the fp32 detector finds in them for the ReID model. The
models are written as QDQ (convolutions and matrix products only: int8 weights per channel,
uint8 activations, MinMax ranges) under
``--out`` as ``<name>_int8.onnx``; ``config/examples/profiles/mot_intersection_int8.yaml``
runs them (the model search finds them in ``models/`` or ``$VEHICLE_MTMC_MODELS``).

The report (printed, and saved as ``int8_report.json`` beside the models) compares fp32 and
int8 on ``--eval-video`` (default: the calibration video): inference ms per frame and per crop
(rough on a busy machine), detection recall at IoU 0.5 and, with ``--eval-gt``, HOTA/IDF1 of
the default ByteTrack pipeline; ReID agreement is the cosine between each crop's fp32 and
int8 features and the share of crops whose nearest neighbour stays the same.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from config.defaults import COCO_VEHICLES, get_cfg_defaults
from detection.boxes import crop_boxes, iou_matrix, xywh_to_xyxy
from detection.factory import build_detector
from detection.filters import filter_detections
from detection.video import VideoSourceError, iter_frames, probe_video
from detection.yolo import YoloDetector
from models.registry import resolve_model
from models.runtime import BackendUnavailableError, open_runner
from reid.embedder import ModelEmbedder
from reid.preprocess import to_batch

log = logging.getLogger("tools.quantize_int8")

DETECTOR = "yolox_nano.onnx"
REID = "mobilenetv2_imagenet_features.onnx"
MIN_OPSET = 13
# Only the heavy layers: a detector head concatenates box offsets, objectness and class scores in
# one tensor, whose single uint8 range would wipe out the scores' resolution.
QUANTIZED_OPS = ("Conv", "MatMul", "Gemm")
CROP_SCORE = 0.3  # calibration and agreement crops: confident vehicles only


def spread_frames(video: str, count: int) -> list[np.ndarray]:
    """``count`` frames spread evenly over the video (all of them if it is shorter)."""
    total = probe_video(video).frames
    if total <= 0:
        raise VideoSourceError(f"{video}: cannot tell its length; give a video file")
    wanted = set(np.linspace(0, total - 1, min(count, total)).round().astype(int).tolist())
    return [frame for index, frame in iter_frames(video) if index in wanted]


def vehicle_crops(detector: YoloDetector, frames: Sequence[np.ndarray], limit: int) -> list[np.ndarray]:
    crops: list[np.ndarray] = []
    for frame in frames:
        dets = filter_detections(detector.detect(frame), CROP_SCORE, COCO_VEHICLES, None)
        crops += [c for c in crop_boxes(frame, dets.xyxy) if min(c.shape[:2]) >= 8]
    step = max(1, len(crops) // limit)
    return crops[::step][:limit]


class _Reader:
    """ONNX Runtime's ``CalibrationDataReader``: one input dict per calibration sample."""

    def __init__(self, name: str, samples: Sequence[np.ndarray]) -> None:
        self._items: Iterator[dict[str, np.ndarray]] = iter([{name: s} for s in samples])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


def at_least_opset(model: Path, tmp: Path, opset: int = MIN_OPSET) -> Path:
    """The model, converted to ``opset`` if older (per-channel QDQ needs DequantizeLinear's axis)."""
    import onnx
    from onnx import version_converter

    proto = onnx.load(str(model))
    if next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), opset) >= opset:
        return model
    converted = tmp / f"opset{opset}.onnx"
    onnx.save(version_converter.convert_version(proto, opset), str(converted))
    return converted


def float_nodes(model: Path) -> list[str]:
    """Layers left in float: depthwise convolutions (one filter per channel quantizes badly) and
    prediction layers (``*_preds``, whose outputs are the scores)."""
    import onnx

    nodes = onnx.load(str(model)).graph.node
    return [
        n.name
        for n in nodes
        if n.op_type == "Conv"
        and (any(a.name == "group" and a.i > 1 for a in n.attribute) or "_preds" in n.name)
    ]


def quantize(model: Path, output: Path, samples: Sequence[np.ndarray]) -> Path:
    """Static QDQ int8 quantization of ``model`` calibrated on ``samples`` (each an NCHW batch)."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    name = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(at_least_opset(model, Path(tmp))), str(prepared), skip_symbolic_shape=True)
        keep_float = float_nodes(prepared)
        quantize_static(
            str(prepared),
            str(output),
            _Reader(name, samples),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=list(QUANTIZED_OPS),
            nodes_to_exclude=keep_float,
        )
    return output


def ms_per_item(fn: Any, items: int, rounds: int = 3) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return 1000 * (time.perf_counter() - start) / (rounds * max(1, items))


def detection_recall(detector: YoloDetector, video: str, gt: Path | None, conf: float) -> float | None:
    """Share of ground-truth boxes matched at IoU 0.5 by a vehicle detection scoring >= ``conf``."""
    if gt is None:
        return None
    from evaluate.formats import read_boxes

    rows = read_boxes(gt)
    matched = 0
    for index, frame in iter_frames(video):
        truth = rows.xywh[rows.frame == index + 1]
        if not len(truth):
            continue
        dets = filter_detections(detector.detect(frame), conf, COCO_VEHICLES, None)
        if len(dets):
            iou = iou_matrix(xywh_to_xyxy(truth.astype(np.float32)), dets.xyxy)
            r, c = linear_sum_assignment(-iou)
            matched += int((iou[r, c] >= 0.5).sum())
    return matched / max(1, len(rows))


def tracking_scores(detector_model: Path, reid_model: Path, video: str, gt: Path | None, out: Path) -> dict:
    """HOTA / IDF1 / MOTA of the default ByteTrack pipeline with these models, if ``gt`` is given."""
    if gt is None:
        return {}
    from evaluate.formats import from_tracklets, read_boxes
    from evaluate.metrics import evaluate
    from mot.camera import run_camera
    from mot.model_cache import ModelCache

    cfg = get_cfg_defaults()
    cfg.MOT.VIDEO, cfg.OUTPUT_DIR = video, str(out)
    cfg.MOT.DETECTOR, cfg.MOT.REID_ONNX = str(detector_model), str(reid_model)
    result = run_camera(cfg, 0, out.name, out, ModelCache(), progress=False)
    summary = evaluate(read_boxes(gt), from_tracklets(result.tracklets), 0.5)
    return {k: round(summary[k], 4) for k in ("HOTA", "IDF1", "MOTA")}


def reid_agreement(fp32: ModelEmbedder, int8: ModelEmbedder, crops: Sequence[np.ndarray]) -> dict:
    a, b = fp32.embed_crops(crops), int8.embed_crops(crops)
    cosine = (a * b).sum(1)
    sim_a, sim_b = a @ a.T, b @ b.T
    np.fill_diagonal(sim_a, -2)
    np.fill_diagonal(sim_b, -2)
    same_nn = float((sim_a.argmax(1) == sim_b.argmax(1)).mean()) if len(crops) > 1 else 1.0
    return {"cosine_mean": float(cosine.mean()), "cosine_min": float(cosine.min()), "same_nearest": same_nn}


def report(args: argparse.Namespace, paths: dict[str, Path], frames: list[np.ndarray]) -> dict[str, Any]:
    video = args.eval_video or args.video
    eval_frames = frames if not args.eval_video else spread_frames(video, args.frames)
    dets = {
        k: build_detector(str(paths[k]), backend="onnxruntime", conf_threshold=0.1) for k in ("det32", "det8")
    }
    embs = {k: ModelEmbedder(open_runner(paths[k], "onnxruntime")) for k in ("reid32", "reid8")}
    crops = vehicle_crops(dets["det32"], eval_frames, 128)  # type: ignore[arg-type]
    out: dict[str, Any] = {"eval_video": video, "crops": len(crops)}
    for tag, det_key, reid_key in (("fp32", "det32", "reid32"), ("int8", "det8", "reid8")):
        det, emb = dets[det_key], embs[reid_key]
        row = {
            "detector_ms_per_frame": ms_per_item(lambda det=det: det.detect_batch(eval_frames[:16]), 16),
            "reid_ms_per_crop": ms_per_item(lambda emb=emb: emb.embed_crops(crops[:64]), min(64, len(crops))),
        }
        for conf in (0.1, 0.5):
            row[f"recall@{conf}"] = detection_recall(det, video, args.eval_gt, conf)  # type: ignore[arg-type]
        with tempfile.TemporaryDirectory() as tmp:
            row |= tracking_scores(paths[det_key], paths[reid_key], video, args.eval_gt, Path(tmp) / tag)
        out[tag] = row
    out["reid_agreement"] = reid_agreement(embs["reid32"], embs["reid8"], crops)
    return out


def comparison_table(fp32: dict[str, Any], int8: dict[str, Any]) -> str:
    """Markdown rows of each measure of both models, with int8 / fp32 (measures without a value skipped)."""
    lines = ["| measure | fp32 | int8 | int8 / fp32 |", "|---|---:|---:|---:|"]
    for key in fp32:
        a, b = fp32[key], int8[key]
        if a is None or b is None:
            continue
        ratio = b / a if a else float("nan")
        lines.append(f"| {key} | {a:.4g} | {b:.4g} | {ratio:.3f} |")
    return "\n".join(lines)


def print_report(result: dict[str, Any]) -> None:
    print(f"\nfp32 vs int8 on {result['eval_video']} ({result['crops']} vehicle crops)\n")
    print(comparison_table(result["fp32"], result["int8"]))
    agree = result["reid_agreement"]
    print(
        f"\nReID fp32/int8 cosine: mean {agree['cosine_mean']:.4f}, min {agree['cosine_min']:.4f}; "
        f"same nearest neighbour for {100 * agree['same_nearest']:.1f} % of crops"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", required=True, help="calibration footage (your own camera)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "models")
    parser.add_argument("--frames", type=int, default=64, help="calibration frames spread over the video")
    parser.add_argument("--crops", type=int, default=256, help="ReID calibration crops")
    parser.add_argument("--detector", default=DETECTOR)
    parser.add_argument("--reid", default=REID)
    parser.add_argument("--eval-video", default="", help="video for the report (default: --video)")
    parser.add_argument("--eval-gt", type=Path, default=None, help="MOTChallenge gt of --eval-video")
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        paths = quantize_models(args)
        if not args.no_report:
            result = report(args, paths, spread_frames(args.video, args.frames))
            (args.out / "int8_report.json").write_text(json.dumps(result, indent=2))
            print_report(result)
    except (VideoSourceError, BackendUnavailableError, FileNotFoundError, ValueError) as err:
        log.error("%s", err)
        return 2
    return 0


def quantize_models(args: argparse.Namespace) -> dict[str, Path]:
    """Quantize the detector and the ReID model; returns fp32 and int8 paths of both."""
    det32, reid32 = resolve_model(args.detector), resolve_model(args.reid)
    frames = spread_frames(args.video, args.frames)
    detector = build_detector(str(det32), backend="onnxruntime", conf_threshold=0.1)
    if not isinstance(detector, YoloDetector):
        raise ValueError(f"{args.detector}: only ONNX YOLO detectors are quantized here")
    log.info("calibrating %s on %d frames of %s", det32.name, len(frames), args.video)
    det8 = quantize(
        det32, args.out / f"{det32.stem}_int8.onnx", [detector.preprocess(f)[0][None] for f in frames]
    )
    crops = vehicle_crops(detector, frames, args.crops)
    if not crops:
        raise ValueError(
            f"{args.video}: no vehicle found in the calibration frames to calibrate the ReID model"
        )
    fp32_reid = ModelEmbedder(open_runner(reid32, "onnxruntime"))
    samples = [to_batch([c], fp32_reid.input_size, fp32_reid.mean, fp32_reid.std) for c in crops]
    log.info("calibrating %s on %d vehicle crops", reid32.name, len(samples))
    reid8 = quantize(reid32, args.out / f"{reid32.stem}_int8.onnx", samples)
    log.info("wrote %s and %s", det8, reid8)
    return {"det32": det32, "det8": det8, "reid32": reid32, "reid8": reid8}


if __name__ == "__main__":
    sys.exit(main())
