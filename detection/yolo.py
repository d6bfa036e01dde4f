"""YOLO-family detectors on any ``ModelRunner``: letterbox, decode the raw output, NMS, map back.

Output layouts (``MOT.DETECTOR_OUTPUT_FORMAT``):

* ``yolox``: ``[1, N, 5 + C]`` raw YOLOX head. Box centre offsets and log sizes per grid
  cell of strides 8/16/32 (N = number of cells), sigmoid objectness and class scores.
  Input: BGR 0-255, letterboxed into the top-left corner, padding 114.
* ``yolov5``: ``[1, N, 5 + C]`` decoded boxes (cx, cy, w, h in input pixels), objectness,
  class scores; N = 3 anchors per cell. Input: RGB 0-1, centred letterbox, padding 114.
* ``yolov8``: ``[1, 4 + C, N]`` (YOLOv8/YOLO11 exports): cx, cy, w, h and class scores,
  no objectness; N = one per cell. Input as yolov5.

``auto`` infers the layout from the output shape and the input size.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from detection.boxes import clip_xyxy, cxcywh_to_xyxy, nms_merge
from detection.types import Detections
from models.runtime import ModelRunner

OutputFormat = Literal["yolox", "yolov5", "yolov8"]
STRIDES = (8, 16, 32)
PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    """How a frame was placed into the network input: ``input = frame * scale + (pad_x, pad_y)``."""

    scale: float
    pad_x: float
    pad_y: float


def letterbox(
    image: np.ndarray, size_hw: tuple[int, int], centre: bool, rgb: bool = False, unit_range: bool = False
) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio, pad to ``size_hw`` with 114, and lay out as network input.

    HWC uint8 BGR in; CHW float32 out: BGR 0-255, or RGB 0-1 with ``rgb`` and ``unit_range``.
    (Measured: channel swap on the small resized image and an in-place scale are several times
    cheaper than swapping or dividing the float canvas.)
    """
    h, w = image.shape[:2]
    scale = min(size_hw[0] / h, size_hw[1] / w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    if rgb:
        resized = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
    pad_x = (size_hw[1] - new_w) // 2 if centre else 0
    pad_y = (size_hw[0] - new_h) // 2 if centre else 0
    canvas = np.full((size_hw[0], size_hw[1], 3), PAD_VALUE, dtype=np.uint8)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    chw = canvas.transpose(2, 0, 1).astype(np.float32)
    if unit_range:
        chw *= np.float32(1.0 / 255.0)
    return chw, Letterbox(scale, pad_x, pad_y)


def grid_cells(size_hw: tuple[int, int], strides: Sequence[int] = STRIDES) -> int:
    return sum((size_hw[0] // s) * (size_hw[1] // s) for s in strides)


def infer_output_format(output_shape: Sequence[int | None], size_hw: tuple[int, int]) -> OutputFormat:
    """Tell the layout from the output shape; raises ``ValueError`` when it is ambiguous or unknown."""
    if len(output_shape) != 3 or None in output_shape[1:]:
        raise ValueError(f"cannot infer the detector's output layout from shape {list(output_shape)}")
    _, a, b = output_shape
    cells = grid_cells(size_hw)
    if a == cells and b is not None and b > 5:
        return "yolox"
    if a == 3 * cells and b is not None and b > 5:
        return "yolov5"
    if b == cells and a is not None and a > 4:
        return "yolov8"
    raise ValueError(
        f"cannot infer the detector's output layout from shape {list(output_shape)} "
        f"for input {list(size_hw)} "
        f"(expected [1, {cells}, 5+C] yolox, [1, {3 * cells}, 5+C] yolov5 or [1, 4+C, {cells}] yolov8); "
        "set MOT.DETECTOR_OUTPUT_FORMAT"
    )


def _yolox_grids(size_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    grids, strides = [], []
    for s in STRIDES:
        gh, gw = size_hw[0] // s, size_hw[1] // s
        xv, yv = np.meshgrid(np.arange(gw), np.arange(gh))
        grids.append(np.stack([xv, yv], axis=-1).reshape(-1, 2))
        strides.append(np.full((gh * gw, 1), s))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def decode(
    raw: np.ndarray,
    fmt: OutputFormat,
    size_hw: tuple[int, int],
    conf_threshold: float,
    grids: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's raw output -> (xyxy in input pixels, score, class id) above ``conf_threshold``.

    Each box keeps its best class; score = objectness x class score (yolox, yolov5) or the
    class score (yolov8).
    """
    if fmt == "yolov8":
        class_scores = raw[4:]
        class_id = class_scores.argmax(axis=0)
        score = class_scores[class_id, np.arange(raw.shape[1])]
        keep = np.flatnonzero(score >= conf_threshold)
        boxes, score, class_id = raw[:4, keep].T.astype(np.float32), score[keep], class_id[keep]
    else:
        # score = objectness x class score <= objectness: drop most rows before the class argmax
        candidates = np.flatnonzero(raw[:, 4] >= conf_threshold)
        rows = raw[candidates]
        class_id = rows[:, 5:].argmax(axis=1)
        score = rows[np.arange(len(rows)), 5 + class_id] * rows[:, 4]
        passed = score >= conf_threshold
        keep, score, class_id = candidates[passed], score[passed], class_id[passed]
        boxes = rows[passed, :4].astype(np.float32)
    if fmt == "yolox":
        grid, stride = grids if grids is not None else _yolox_grids(size_hw)
        boxes = np.concatenate(
            [(boxes[:, :2] + grid[keep]) * stride[keep], np.exp(boxes[:, 2:4]) * stride[keep]], 1
        )
    return cxcywh_to_xyxy(boxes), score.astype(np.float32), class_id.astype(np.int64)


def class_names_from_metadata(metadata: dict[str, str]) -> list[str]:
    """Class names stored by ultralytics exports (``names`` = "{0: 'person', ...}"), else empty."""
    text = metadata.get("names")
    if not text:
        return []
    try:
        names = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return []
    if isinstance(names, dict):
        return [str(names[k]) for k in sorted(names)]
    return [str(n) for n in names] if isinstance(names, list) else []


class YoloDetector:
    """A YOLOX / YOLOv5 / YOLOv8 model on any runtime; ``detect`` returns frame-pixel ``Detections``."""

    def __init__(
        self,
        runner: ModelRunner,
        output_format: str = "auto",
        input_size: Sequence[int] = (),
        conf_threshold: float = 0.1,
        nms_iou: float = 0.45,
        max_detections: int = 300,
        shared_classes: Sequence[int] | None = None,
    ) -> None:
        self.runner = runner
        self.shared_classes = shared_classes  # classes NMS treats as one (see detection.boxes.nms_groups)
        model_hw = runner.input_shape[2:]
        if input_size:
            self.size_hw = (int(input_size[0]), int(input_size[1]))
        elif len(model_hw) == 2 and None not in model_hw:
            self.size_hw = (int(model_hw[0]), int(model_hw[1]))  # type: ignore[arg-type]
        else:
            raise ValueError(
                "the detector has a dynamic input size; set MOT.DETECTOR_INPUT_SIZE [height, width]"
            )
        self.format: OutputFormat = (
            infer_output_format(runner.output_shapes[0], self.size_hw)
            if output_format == "auto"
            else output_format  # type: ignore[assignment]
        )
        self.conf_threshold, self.nms_iou, self.max_detections = conf_threshold, nms_iou, max_detections
        self.class_names = class_names_from_metadata(runner.metadata)
        self._grids = _yolox_grids(self.size_hw) if self.format == "yolox" else None
        self._fixed_batch = runner.input_shape[0] == 1

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """BGR frame -> CHW float32 network input, and how it was letterboxed."""
        ultralytics = self.format != "yolox"
        return letterbox(image, self.size_hw, centre=ultralytics, rgb=ultralytics, unit_range=ultralytics)

    def postprocess(self, raw: np.ndarray, box: Letterbox, frame_hw: tuple[int, int]) -> Detections:
        xyxy, score, class_id = decode(raw, self.format, self.size_hw, self.conf_threshold, self._grids)
        num_classes = raw.shape[0] - 4 if self.format == "yolov8" else raw.shape[1] - 5
        keep, class_scores = nms_merge(xyxy, score, class_id, self.nms_iou, self.shared_classes, num_classes)
        keep, class_scores = keep[: self.max_detections], class_scores[: self.max_detections]
        xyxy = (xyxy[keep] - [box.pad_x, box.pad_y, box.pad_x, box.pad_y]) / box.scale
        return Detections(
            clip_xyxy(xyxy, frame_hw[1], frame_hw[0]), score[keep], class_id[keep], class_scores=class_scores
        )

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Detections for each BGR frame (HWC uint8), boxes in that frame's pixels."""
        if not images:
            return []
        prepared = [self.preprocess(im) for im in images]
        if self._fixed_batch:
            raws = [self.runner.run(x[None])[0][0] for x, _ in prepared]
        else:
            raws = list(self.runner.run(np.stack([x for x, _ in prepared]))[0])
        return [
            self.postprocess(raw, box, im.shape[:2])
            for raw, (_, box), im in zip(raws, prepared, images, strict=True)
        ]
