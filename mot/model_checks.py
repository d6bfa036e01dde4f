"""Load every network a camera's config names and check it against the config, before tracking.

Runner glue (reads ``cfg.MOT``): the detector and the ReID model are loaded through the run's
``ModelCache`` (so the run reuses them) and checked by ``detection.checks`` and
``models.checks``. ``--dry-run`` and every normal start call this; a problem stops the run
with exit code 2 and a message naming the key, the file, what the model expects and what
was configured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from yacs.config import CfgNode

from detection.checks import (
    class_map_problems,
    detector_input_problems,
    detector_output_problems,
)
from detection.factory import default_class_map, reshape_args
from detection.ssd import is_ssd_shape
from models.checks import embedder_problems
from models.registry import ModelNotFoundError, resolve_model
from models.runtime import BackendUnavailableError, ModelRunner, detector_backend
from mot.pipeline import detection_concurrency

LOAD_ERRORS = (ValueError, BackendUnavailableError, ModelNotFoundError, OSError)


class OpenModel(Protocol):
    def open_model(
        self,
        path: Path,
        backend: str,
        device: str,
        threads: int,
        fp16: bool = False,
        parallel: bool = False,
        dynamic_batch: bool = False,
        input_hw: tuple[int, ...] = (),
        concurrent: int = 1,
    ) -> ModelRunner: ...

    device: str
    threads: int


def _load(
    models: OpenModel, key: str, name: str, backend: str, fp16: bool, parallel: bool, **kwargs: Any
) -> ModelRunner | str:
    try:
        path = resolve_model(name)
        return models.open_model(
            path, backend, models.device, models.threads, fp16, parallel=parallel, **kwargs
        )
    except LOAD_ERRORS as err:
        size = (
            f" at input {list(kwargs['input_hw'])} (MOT.DETECTOR_INPUT_SIZE)"
            if kwargs.get("input_hw")
            else ""
        )
        return f"{key}: {err}{size}"


def detector_problems(mot: CfgNode, models: OpenModel) -> list[str]:
    backend = detector_backend(mot.DETECTOR, mot.DETECTOR_BACKEND)
    if backend in ("ultralytics", "tensorrt"):
        return []  # loaded by their own packages (ultralytics) or on a GPU only (TensorRT)
    reshape = reshape_args(backend, mot.DETECTOR_INPUT_SIZE)
    concurrent = detection_concurrency(mot)  # as the run opens it: the cache then reuses this load
    runner = _load(
        models,
        "MOT.DETECTOR",
        mot.DETECTOR,
        backend,
        mot.DETECTOR_FP16,
        False,
        concurrent=concurrent,
        **reshape,
    )
    if isinstance(runner, str):
        return [runner]
    path = resolve_model(mot.DETECTOR)
    problems = detector_input_problems(runner, path, mot.DETECTOR_INPUT_SIZE)
    if problems:
        return problems
    hw = tuple(mot.DETECTOR_INPUT_SIZE) or runner.input_shape[2:]
    size_hw = (int(hw[0]), int(hw[1]))  # type: ignore[arg-type]
    problems = detector_output_problems(runner, path, mot.DETECTOR_OUTPUT_FORMAT, size_hw)
    if problems:
        return problems
    fmt = mot.DETECTOR_OUTPUT_FORMAT
    ssd = fmt == "ssd" or (fmt == "auto" and is_ssd_shape(runner.output_shapes[0]))
    layout = "ssd" if ssd else "yolo"
    class_map = list(mot.DETECTOR_CLASS_MAP) or list(default_class_map(mot.DETECTOR))
    return class_map_problems(class_map, list(mot.TRACKED_CLASSES), layout, path, not mot.DETECTOR_CLASS_MAP)


def reid_problems(mot: CfgNode, models: OpenModel) -> list[str]:
    if mot.REID_BACKEND not in ("onnxruntime", "openvino"):
        return []  # torch checkpoints and TensorRT engines are checked when they load
    runner = _load(models, "MOT.REID_ONNX", mot.REID_ONNX, mot.REID_BACKEND, mot.REID_FP16, True)
    if isinstance(runner, str):
        return [runner]
    return embedder_problems(runner, resolve_model(mot.REID_ONNX), mot.REID_INPUT_SIZE)


def model_problems(mot: CfgNode, models: OpenModel) -> list[str]:
    """Every problem of the camera's detector and ReID model; empty when both fit the config."""
    return detector_problems(mot, models) + reid_problems(mot, models)
