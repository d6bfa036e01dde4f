"""Detectors run by the ultralytics package (``yolov8s``, ``*.pt``, ``*.yaml``), an optional extra.

Weights are looked up locally first (explicit path, then the model directories). A bare
name such as ``yolov8s`` that is not on disk is downloaded by ultralytics only when
``VEHICLE_MTMC_ALLOW_DOWNLOADS=1`` is set; otherwise the detector fails at once with a
message saying how to get the file, instead of hanging on a download. Ultralytics'
settings sync and telemetry are switched off.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detection.types import Detections
from models.registry import ModelNotFoundError, resolve_model
from models.runtime import BackendUnavailableError, import_backend

log = logging.getLogger(__name__)

ALLOW_DOWNLOADS_ENV = "VEHICLE_MTMC_ALLOW_DOWNLOADS"


def local_weights(model: str) -> Path | None:
    """The weights file for ``model`` on disk (``yolov8s`` also matches ``yolov8s.pt``), or None."""
    candidates = [model] if Path(model).suffix else [f"{model}.pt", model]
    for name in candidates:
        try:
            return resolve_model(name)
        except ModelNotFoundError:
            continue
    return None


def resolve_weights(model: str) -> str:
    """A local file path, or the bare name when downloads are allowed; raises when neither."""
    found = local_weights(model)
    if found is not None:
        return str(found)
    if Path(model).suffix == ".yaml":
        return model  # an architecture definition: builds an untrained model, nothing to download
    if os.environ.get(ALLOW_DOWNLOADS_ENV) == "1":
        log.warning("ultralytics will download '%s' from the internet", model)
        return model
    file = model if Path(model).suffix else f"{model}.pt"
    raise BackendUnavailableError(
        f"ultralytics weights '{file}' are not on this machine (looked as given, in models/, "
        "$VEHICLE_MTMC_MODELS and ../shared/models). Put the .pt file in one of those places, or let "
        f"ultralytics download it by setting {ALLOW_DOWNLOADS_ENV}=1 on a machine with internet access."
    )


class UltralyticsDetector:
    """``detect_batch`` through ``ultralytics.YOLO.predict``; boxes in frame pixels."""

    def __init__(self, model: str, conf_threshold: float, nms_iou: float, device: str = "cpu") -> None:
        weights = resolve_weights(model)
        if os.environ.get(ALLOW_DOWNLOADS_ENV) != "1":
            os.environ["YOLO_OFFLINE"] = "1"
        ultralytics = import_backend("ultralytics", "ultralytics")
        ultralytics.settings.update({"sync": False})
        self.model = ultralytics.YOLO(weights)
        self.conf_threshold, self.nms_iou = conf_threshold, nms_iou
        self.device = "cpu" if device == "cpu" else 0
        names = getattr(self.model, "names", {}) or {}
        self.class_names = [str(names[k]) for k in sorted(names)] if isinstance(names, dict) else list(names)

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        results = self.model.predict(
            list(images), conf=self.conf_threshold, iou=self.nms_iou, device=self.device, verbose=False
        )
        out = []
        for result in results:
            boxes = result.boxes
            out.append(
                Detections(
                    boxes.xyxy.cpu().numpy(),
                    boxes.conf.cpu().numpy(),
                    boxes.cls.cpu().numpy().astype(np.int64),
                )
            )
        return out
