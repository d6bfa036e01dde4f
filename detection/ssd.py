"""Open Model Zoo SSD-style detectors: one ``[1, 1, N, 7]`` ``DetectionOutput`` blob.

Covers vehicle-detection-0200/0201/0202, person-vehicle-bike-detection-2000/2001/2002 and
vehicle-license-plate-detection-barrier-0106 (OpenVINO IR, Apache-2.0). Each output row is
``image_id, label, conf, x_min, y_min, x_max, y_max`` with corners normalised to 0-1 of the
network input; a row with ``image_id`` < 0 ends the list. Input: BGR 0-255, the frame
resized to the network size without keeping the aspect ratio (Open Model Zoo's convention:
mean and scale are inside the model), so normalised corners map straight to frame pixels.

Labels are the model's own (0200: 0 vehicle; person-vehicle-bike: 0 vehicle, 1 person,
2 bike; barrier-0106: 1 vehicle, 2 plate). ``class_map[label]`` turns them into the
project's class ids (COCO: car 2, ...), -1 dropping a label, so ``MOT.TRACKED_CLASSES`` and
the type vote work as with a COCO detector. A single-class "vehicle" model maps to car (2):
its finer type comes from a type reader (``MOT.STATIC_ATTRIBUTES`` type), not from the box.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from detection.boxes import clip_xyxy, nms_merge
from detection.types import Detections
from models.runtime import ModelRunner

ROW_WIDTH = 7


def is_ssd_shape(shape: Sequence[int | None]) -> bool:
    """``[1, 1, N, 7]`` (N may be dynamic)."""
    return len(shape) == 4 and shape[-1] == ROW_WIDTH and shape[1] == 1


def decode_ssd(
    raw: np.ndarray,
    frame_hw: tuple[int, int],
    conf_threshold: float,
    class_map: Sequence[int] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's ``[1, N, 7]`` or ``[N, 7]`` rows -> (xyxy frame pixels, score, class id).

    Rows after the first ``image_id`` < 0 are ignored; labels outside ``class_map`` or mapped
    to -1 are dropped (an empty map keeps labels as they are).
    """
    rows = np.asarray(raw, dtype=np.float32).reshape(-1, ROW_WIDTH)
    ended = np.flatnonzero(rows[:, 0] < 0)
    rows = rows[: ended[0]] if len(ended) else rows
    rows = rows[rows[:, 2] >= conf_threshold]
    labels = rows[:, 1].astype(np.int64)
    if len(class_map):
        table = np.asarray(class_map, np.int64)
        known = (labels >= 0) & (labels < len(table))
        rows, labels = rows[known], table[labels[known]]
        rows, labels = rows[labels >= 0], labels[labels >= 0]
    h, w = frame_hw
    xyxy = rows[:, 3:7] * np.array([w, h, w, h], np.float32)
    return clip_xyxy(xyxy, w, h), rows[:, 2].copy(), labels


class SsdDetector:
    """An Open Model Zoo SSD detector on any runtime; ``detect`` returns frame-pixel ``Detections``.

    The model's own DetectionOutput already suppressed duplicates per label; ``nms_iou`` with
    ``shared_classes`` also merges boxes of different labels that are one vehicle.
    """

    def __init__(
        self,
        runner: ModelRunner,
        conf_threshold: float = 0.1,
        nms_iou: float = 0.45,
        class_map: Sequence[int] = (),
        shared_classes: Sequence[int] | None = None,
        class_names: Sequence[str] = (),
    ) -> None:
        self.runner = runner
        hw = runner.input_shape[2:]
        if len(hw) != 2 or None in hw:
            raise ValueError("the SSD detector needs a fixed input size in the model file")
        self.size_hw = (int(hw[0]), int(hw[1]))  # type: ignore[arg-type]
        self.conf_threshold, self.nms_iou = conf_threshold, nms_iou
        self.class_map, self.shared_classes = tuple(class_map), shared_classes
        self.class_names = list(class_names)
        self.format = "ssd"

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """BGR frame -> CHW float32 0-255, plainly resized to the network input."""
        return self.preprocess_to(image, self.size_hw)

    @staticmethod
    def preprocess_to(image: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
        """``preprocess`` for an input of ``size_hw`` (calibration data of tools/quantize_openvino.py).

        The planes are written C-contiguous at once: ``astype`` of the transposed view would keep
        its HWC memory order, and the runtime's contiguous copy of that strided array cost three
        times the resize (30 ms against 10 ms a 1080p frame, same values)."""
        resized = cv2.resize(image, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_LINEAR)
        return resized.transpose(2, 0, 1).astype(np.float32, order="C")

    def postprocess(self, raw: np.ndarray, frame_hw: tuple[int, int]) -> Detections:
        xyxy, score, class_id = decode_ssd(raw, frame_hw, self.conf_threshold, self.class_map)
        keep, class_scores = nms_merge(xyxy, score, class_id, self.nms_iou, self.shared_classes)
        return Detections(xyxy[keep], score[keep], class_id[keep], class_scores=class_scores)

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Detections for each BGR frame (HWC uint8), boxes in that frame's pixels."""
        return [
            self.postprocess(self.runner.run(self.preprocess(im)[None])[0], im.shape[:2]) for im in images
        ]
