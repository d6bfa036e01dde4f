"""The networks a camera runs, opened once per process and shared by cameras with the same model.

``ModelCache`` builds each camera's detector, appearance model, attribute readers and plate
reader from its ``cfg.MOT`` (``session_options`` / ``model_cache`` from ``cfg.SYSTEM``);
``guard_features`` turns a ReID model failing at run time into one ``FeatureExtractionError``
naming the keys to check.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from yacs.config import CfgNode

from config.reid_defaults import reid_choice
from detection.factory import build_detector
from detection.tiling import Detector
from detection.video import VideoInfo
from models.runtime import ModelRunner, SessionOptions, detector_backend, open_runner
from mot.pipeline import detection_concurrency
from reid.attributes import build_attribute_readers
from reid.embedder import ModelEmbedder
from reid.factory import build_embedder
from reid.plates import build_plate_reader

log = logging.getLogger(__name__)


class FeatureExtractionError(RuntimeError):
    """The ReID model failed at run time (a wrong model file, or an input size it does not take)."""


def guard_features(call: Callable[..., np.ndarray], mot: CfgNode) -> Callable[..., np.ndarray]:
    """``call`` with any model failure turned into one ``FeatureExtractionError`` naming the keys."""
    model = mot.REID_ONNX if mot.REID_BACKEND in ("onnxruntime", "openvino") else mot.REID_TRT
    model = model or mot.REID_MODEL_CKPT

    def guarded(*args: Any) -> np.ndarray:
        try:
            return call(*args)
        except Exception as err:
            lines = str(err).strip().splitlines() or [""]
            raise FeatureExtractionError(
                f"the ReID model {model} [{mot.REID_BACKEND}] failed on its crops at MOT.REID_INPUT_SIZE "
                f"{list(mot.REID_INPUT_SIZE)}: {type(err).__name__}: {lines[0][:300]}. Check that "
                "MOT.REID_ONNX is an appearance (ReID) model and that MOT.REID_INPUT_SIZE is the input "
                "size it expects"
            ) from err

    return guarded


class ModelCache:
    """Loads each network once per process; cameras with the same model share it.

    ONNX Runtime sessions and OpenVINO compiled models are safe to call from several threads.
    ``options`` are the runtimes' session options (``session_options(cfg.SYSTEM)``).
    """

    def __init__(self, device: str = "cpu", threads: int = 0, options: SessionOptions | None = None) -> None:
        self.device, self.threads = device, threads
        self.options = options if options is not None else SessionOptions()
        self._runners: dict[tuple, ModelRunner] = {}
        self._detectors: dict[tuple, Detector] = {}
        self._embedders: dict[tuple, ModelEmbedder] = {}
        self._readers: dict[tuple, list[Any]] = {}
        self._plates: dict[tuple, Any] = {}
        self._warm: set[tuple[int, int, int, int]] = set()

    def warm_up(self, detector: Detector, embedder: ModelEmbedder | None, info: VideoInfo) -> None:
        """``warm_up`` once per shared model pair and frame size: the cameras of an express run
        share their models, and a dummy 1080p detection costs as much as a real one."""
        key = (id(detector), id(embedder), info.height, info.width)
        if key not in self._warm:
            warm_up(detector, embedder, info)
            self._warm.add(key)

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
    ) -> ModelRunner:
        options, hw = self.options, tuple(input_hw)
        key = (str(path), backend, device, threads, fp16, parallel, dynamic_batch, options, hw, concurrent)
        if key not in self._runners:
            log.info("loading %s [%s%s]", path, backend, ", fp16" if fp16 else "")
            self._runners[key] = open_runner(
                path, backend, device, threads, fp16, parallel, dynamic_batch, options, hw, concurrent
            )
        return self._runners[key]

    def detector(self, mot: CfgNode, batched: bool = False) -> Detector:
        """The camera's detector; ``batched`` lets an OpenVINO model saved with batch 1 take any batch."""
        backend = detector_backend(mot.DETECTOR, mot.DETECTOR_BACKEND)
        dynamic = batched and backend == "openvino"
        concurrent = detection_concurrency(mot, batched)
        key = (
            dynamic,
            concurrent,
            mot.DETECTOR,
            backend,
            mot.DETECTOR_OUTPUT_FORMAT,
            tuple(mot.DETECTOR_INPUT_SIZE),
            mot.DETECTION_CONF_THRESH,
            mot.DETECTION_NMS_IOU,
            mot.DETECTION_TILE_SIZE,
            mot.DETECTION_TILE_OVERLAP,
            mot.DETECTOR_FP16,
            tuple(shared_classes(mot) or ()),
            tuple(mot.DETECTOR_CLASS_MAP),
        )
        if key not in self._detectors:
            self._detectors[key] = build_detector(
                mot.DETECTOR,
                backend=mot.DETECTOR_BACKEND,
                output_format=mot.DETECTOR_OUTPUT_FORMAT,
                input_size=mot.DETECTOR_INPUT_SIZE,
                conf_threshold=mot.DETECTION_CONF_THRESH,
                nms_iou=mot.DETECTION_NMS_IOU,
                device=self.device,
                threads=self.threads,
                tile_size=mot.DETECTION_TILE_SIZE,
                tile_overlap=mot.DETECTION_TILE_OVERLAP,
                fp16=mot.DETECTOR_FP16,
                open_model=functools.partial(self.open_model, dynamic_batch=dynamic, concurrent=concurrent),
                shared_classes=shared_classes(mot),
                class_map=mot.DETECTOR_CLASS_MAP,
            )
        return self._detectors[key]

    def attribute_readers(self, mot: CfgNode) -> list[Any]:
        key = (
            json.dumps(list(mot.STATIC_ATTRIBUTES), sort_keys=True),
            mot.ATTRIBUTE_INFER_BATCHSIZE,
            mot.ATTRIBUTE_INFER_FP16,
            mot.ATTRIBUTE_ALLOW_PICKLE,
        )
        if key not in self._readers:
            self._readers[key] = build_attribute_readers(
                mot.STATIC_ATTRIBUTES,
                mot.ATTRIBUTE_INFER_BATCHSIZE,
                mot.ATTRIBUTE_INFER_FP16,
                self.open_model,
                allow_pickle=mot.ATTRIBUTE_ALLOW_PICKLE,
            )
        return self._readers[key]

    def plate_reader(self, mot: CfgNode) -> Any:
        """The camera's plate reader, None when ALPR is off or cannot run here (said in the log)."""
        if not mot.ENABLE_ALPR:
            return None
        key = (mot.ALPR_BACKEND, mot.ALPR_LOCALISER)
        if key not in self._plates:
            self._plates[key] = build_plate_reader(
                mot.ALPR_BACKEND, mot.ALPR_LOCALISER, self.threads, self.open_model
            )
        return self._plates[key]

    def embedder(self, mot: CfgNode) -> ModelEmbedder | None:
        """The camera's appearance model; None with MOT.REID_BACKEND 'none' (tracking only)."""
        if mot.REID_BACKEND == "none":
            return None
        key = (
            mot.REID_BACKEND,
            mot.REID_ONNX if mot.REID_BACKEND in ("onnxruntime", "openvino") else mot.REID_TRT,
            mot.REID_MODEL_OPTS,
            mot.REID_MODEL_CKPT,
            tuple(mot.REID_INPUT_SIZE),
            tuple(mot.REID_MEAN),
            tuple(mot.REID_STD),
            mot.REID_BATCHSIZE,
            mot.REID_FP16,
            mot.REID_CHANNEL_ORDER,
            mot.REID_FLIP,
        )
        if key not in self._embedders:
            log.info("ReID model %s: %s", key[1] or mot.REID_MODEL_CKPT, reid_choice(mot) or "as configured")
            self._embedders[key] = build_embedder(
                mot.REID_BACKEND,
                key[1],
                opts=mot.REID_MODEL_OPTS,
                checkpoint=mot.REID_MODEL_CKPT,
                input_size=mot.REID_INPUT_SIZE,
                mean=mot.REID_MEAN,
                std=mot.REID_STD,
                batch_size=mot.REID_BATCHSIZE,
                fp16=mot.REID_FP16,
                device=self.device,
                threads=self.threads,
                open_model=self.open_model,
                channel_order=mot.REID_CHANNEL_ORDER,
                flip=mot.REID_FLIP,
            )
        return self._embedders[key]


def session_options(system: CfgNode) -> SessionOptions:
    """The runtimes' session options of ``cfg.SYSTEM``."""
    return SessionOptions(system.ORT_EXECUTION_MODE, system.ORT_GRAPH_OPTIMIZATION, system.OPENVINO_HINT)


def model_cache(cfg: CfgNode, threads: int | None = None) -> ModelCache:
    """The process's model cache for ``cfg.SYSTEM`` (``threads`` overrides ``SYSTEM.NUM_THREADS``)."""
    system = cfg.SYSTEM
    threads = system.NUM_THREADS if threads is None else threads
    return ModelCache(system.DEVICE, threads, session_options(system))


def shared_classes(mot: CfgNode) -> list[int] | None:
    """The classes NMS merges as one: the tracked ones, unless class-aware NMS is asked for."""
    return list(mot.TRACKED_CLASSES) if mot.DETECTION_NMS_CLASS_AGNOSTIC else None


def warm_up(detector: Detector, embedder: ModelEmbedder | None, info: VideoInfo) -> None:
    """One inference of each model on a blank input, so first-call allocations stay out of the timed loop.

    A ReID model that fails here fails again on the first real crops, where the loop saves the
    tracks without features (``guard_features``); the warm-up only leaves a debug line.
    """
    if info.width > 0 and info.height > 0:
        detector.detect_batch([np.zeros((info.height, info.width, 3), np.uint8)])
    if embedder is None:
        return
    try:
        embedder.embed_crops([np.zeros((64, 64, 3), np.uint8)])
    except Exception as err:
        log.debug("ReID warm-up failed (%s: %s); the run will report it", type(err).__name__, err)
