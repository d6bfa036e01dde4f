"""Build the configured detector: backend by name (or model suffix), optional tiling."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from detection.tiling import Detector, TiledDetector
from detection.yolo import YoloDetector
from models.registry import resolve_model
from models.runtime import ModelRunner, detector_backend, open_runner


def build_detector(
    model: str,
    backend: str = "auto",
    output_format: str = "auto",
    input_size: Sequence[int] = (),
    conf_threshold: float = 0.1,
    nms_iou: float = 0.45,
    device: str = "cpu",
    threads: int = 0,
    tile_size: int = 0,
    tile_overlap: float = 0.2,
    fp16: bool = False,
    open_model: Callable[..., ModelRunner] = open_runner,
) -> Detector:
    """A detector whose ``detect_batch(frames)`` returns per-frame ``Detections`` in frame pixels.

    ``open_model`` loads the network (``models.runtime.open_runner`` or a caching wrapper).
    """
    backend = detector_backend(model, backend)
    detector: Detector
    if backend == "ultralytics":
        from detection.ultralytics_yolo import UltralyticsDetector

        detector = UltralyticsDetector(model, conf_threshold, nms_iou, device)
    else:
        runner = open_model(resolve_model(model), backend, device, threads, fp16)
        detector = YoloDetector(runner, output_format, input_size, conf_threshold, nms_iou)
    if tile_size:
        detector = TiledDetector(detector, tile_size, tile_overlap, nms_iou)
    return detector
