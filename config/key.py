"""One configuration key of the schema, and the choices several keys accept.

The keys themselves are listed by section in ``config.keys_detection``, ``config.keys_tracking``
and ``config.keys_runs``; ``config.defaults`` assembles them into the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from config import checks as ck

PathKind = Literal["input", "model", "video", "output"]


@dataclass(frozen=True)
class Key:
    """One configuration key of the schema."""

    name: str
    default: Any
    check: ck.Check
    doc: str
    path: PathKind | None = None

    @property
    def section(self) -> str:
        return self.name.split(".")[0] if "." in self.name else ""


DETECTOR_BACKENDS = ("auto", "onnxruntime", "openvino", "ultralytics", "tensorrt")
DETECTOR_OUTPUT_FORMATS = ("auto", "yolox", "yolov5", "yolov8", "ssd")
REID_BACKENDS = ("onnxruntime", "torch", "openvino", "tensorrt", "none")
TRACKERS = ("bytetrack_iou", "deepsort")
LINKAGES = ("average", "single", "complete", "mean_feature")
EXECUTORS = ("auto", "sequential", "batched", "processes", "ray")
# The same choices as models.runtime (a test keeps them equal; config imports no later stage).
ORT_EXECUTION_MODES = ("sequential", "parallel")
ORT_GRAPH_OPTIMIZATIONS = ("disable", "basic", "extended", "all")
OPENVINO_HINTS = ("", "latency", "throughput")

# COCO ids of motor vehicles: car 2, motorcycle 3, bus 5, truck 7 (bicycle 1 is left out).
COCO_VEHICLES = [2, 3, 5, 7]
