"""Start-up checks of a loaded detector network against the config: input shape and output layout.

Pure functions of the runner's declared shapes (plus one probe run for dynamic outputs), each
problem naming the config key, the model file, what the model expects and what was
configured, so a wrong file fails before the first frame instead of deep inside decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detection.ssd import is_ssd_shape
from detection.yolo import grid_cells, infer_output_format
from models.runtime import ModelRunner

LAYOUT_HELP = {
    "yolox": "[1, cells, 5+C] (raw YOLOX head)",
    "yolov5": "[1, 3 x cells, 5+C]",
    "yolov8": "[1, 4+C, cells]",
    "ssd": "[1, 1, N, 7] (Open Model Zoo DetectionOutput)",
}


def _dims(shape: Sequence[int | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def detector_input_problems(
    runner: ModelRunner, path: Path, input_size: Sequence[int], key: str = "MOT.DETECTOR_INPUT_SIZE"
) -> list[str]:
    """The network must take one NCHW 3-channel image whose size matches ``input_size`` if fixed."""
    shape = runner.input_shape
    if len(shape) != 4 or shape[1] not in (3, None):
        return [f"MOT.DETECTOR: {path} takes input {_dims(shape)}, but a detector must take a 1x3xHxW image"]
    model_hw = shape[2:]
    if None in model_hw:
        if not input_size:
            return [f"{key}: {path} has a dynamic input size {_dims(shape)}; set [height, width]"]
        return []
    if input_size and tuple(int(v) for v in input_size) != tuple(model_hw):
        return [
            f"{key}: {path} expects input [{model_hw[0]}, {model_hw[1]}] (fixed in the model), "
            f"configured {list(input_size)}"
        ]
    return []


def output_layout(shape: Sequence[int | None], size_hw: tuple[int, int]) -> str:
    """'ssd', 'yolox', 'yolov5' or 'yolov8' for a declared output shape; raises ``ValueError``."""
    if is_ssd_shape(shape):
        return "ssd"
    return infer_output_format(shape, size_hw)


def _matches(fmt: str, shape: Sequence[int | None], size_hw: tuple[int, int]) -> bool:
    if fmt == "ssd":
        return is_ssd_shape(shape)
    if len(shape) != 3:
        return False
    cells = grid_cells(size_hw)
    a, b = shape[1], shape[2]
    if fmt == "yolox":
        return a in (cells, None) and (b is None or b > 5)
    if fmt == "yolov5":
        return a in (3 * cells, None) and (b is None or b > 5)
    return b in (cells, None) and (a is None or a > 4)  # yolov8


def detector_output_problems(
    runner: ModelRunner, path: Path, output_format: str, size_hw: tuple[int, int]
) -> list[str]:
    """The first output must have the configured layout (or one that ``auto`` recognises).

    Dynamic dimensions are resolved by one probe run on a blank image.
    """
    shape: Sequence[int | None] = runner.output_shapes[0] if runner.output_shapes else ()
    if None in shape or not shape:
        try:
            shape = runner.run(np.zeros((1, 3, *size_hw), np.float32))[0].shape
        except Exception as err:  # runtimes raise their own types
            return [f"MOT.DETECTOR: {path} fails on a {list(size_hw)} input ({err})"]
    if output_format == "auto":
        try:
            output_layout(shape, size_hw)
        except ValueError:
            expected = "; ".join(f"{k} {v}" for k, v in LAYOUT_HELP.items())
            return [
                f"MOT.DETECTOR: {path} gives output {_dims(shape)}, which is no detector layout known "
                f"for input {list(size_hw)} (expected one of: {expected}); a ReID or classifier model "
                "given as detector? Otherwise set MOT.DETECTOR_OUTPUT_FORMAT"
            ]
        return []
    if not _matches(output_format, shape, size_hw):
        try:
            actual = f" (looks like '{output_layout(shape, size_hw)}')"
        except ValueError:
            actual = ""
        return [
            f"MOT.DETECTOR_OUTPUT_FORMAT: {path} gives output {_dims(shape)}{actual}, but '{output_format}' "
            f"expects {LAYOUT_HELP[output_format]} for input {list(size_hw)}"
        ]
    return []


def class_map_problems(
    class_map: Sequence[int], tracked: Sequence[int], layout: str, path: Path, from_manifest: bool
) -> list[str]:
    """With a class map, some tracked class must be reachable, or nothing would ever be tracked."""
    if layout != "ssd" or not tracked:
        return []
    reachable = set(class_map) if class_map else None
    if reachable is not None and not reachable & set(tracked):
        where = "the manifest's map" if from_manifest else "MOT.DETECTOR_CLASS_MAP"
        return [
            f"MOT.DETECTOR_CLASS_MAP: {path} labels map to classes {sorted(reachable)} ({where}), none of "
            f"MOT.TRACKED_CLASSES {list(tracked)}"
        ]
    if reachable is None:
        return [
            f"MOT.DETECTOR_CLASS_MAP: {path} is an SSD model with its own labels (not in the manifest); "
            "set MOT.DETECTOR_CLASS_MAP (label -> COCO class id, e.g. [2] for a single-class vehicle model)"
        ]
    return []
