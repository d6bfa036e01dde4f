"""Build the configured detector: backend by name (or model suffix), output layout, optional tiling."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from detection.ssd import SsdDetector, is_ssd_shape
from detection.tiling import Detector, TiledDetector
from detection.yolo import YoloDetector
from models.registry import manifest_entry, resolve_model
from models.runtime import ModelRunner, detector_backend, open_runner


def default_class_map(model: str) -> tuple[int, ...]:
    """The manifest's label -> class id map of a known model (by name, file name or a path to its
    file), else () (labels kept as they are)."""
    entry = manifest_entry(model) or manifest_entry(Path(model).name)
    return tuple(entry.class_map) if entry is not None else ()


def reshape_args(backend: str, input_size: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """OpenVINO models are reshaped to a configured input size; other runtimes run the file's."""
    return {"input_hw": tuple(int(v) for v in input_size)} if backend == "openvino" and input_size else {}


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
    shared_classes: Sequence[int] | None = None,
    class_map: Sequence[int] = (),
) -> Detector:
    """A detector whose ``detect_batch(frames)`` returns per-frame ``Detections`` in frame pixels.

    ``open_model`` loads the network (``models.runtime.open_runner`` or a caching wrapper).
    ``shared_classes``: classes NMS merges as one (the tracked vehicle classes), None for
    class-aware NMS. ``class_map``: model label -> class id for SSD models (empty: the
    manifest's map for a known model, else the labels as they are).
    """
    backend = detector_backend(model, backend)
    detector: Detector
    if backend == "ultralytics":
        from detection.ultralytics_yolo import UltralyticsDetector

        detector = UltralyticsDetector(model, conf_threshold, nms_iou, device)
    else:
        runner = open_model(
            resolve_model(model), backend, device, threads, fp16, **reshape_args(backend, input_size)
        )
        ssd = output_format == "ssd" or (output_format == "auto" and is_ssd_shape(runner.output_shapes[0]))
        if ssd:
            detector = SsdDetector(
                runner, conf_threshold, nms_iou, tuple(class_map) or default_class_map(model), shared_classes
            )
        else:
            detector = YoloDetector(
                runner, output_format, input_size, conf_threshold, nms_iou, shared_classes=shared_classes
            )
    if tile_size:
        detector = TiledDetector(detector, tile_size, tile_overlap, nms_iou, shared_classes)
    return detector
