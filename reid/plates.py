"""Licence-plate reading on vehicle crops: find the plate, read it, normalise the text.

Backends (``MOT.ALPR_BACKEND``):

* ``rapidocr`` (``alpr`` extra, the offline default): PP-OCR ONNX models that ship in the
  rapidocr wheel. The plate is found either by PP-OCR's own text detection on the vehicle
  crop (``MOT.ALPR_LOCALISER: text``, the default) or by the Open Model Zoo plate detector
  ``vehicle-license-plate-detection-barrier-0106`` (``openvino``; it was trained on Chinese
  plates and misses the European plate of the test photo, see the README), then read by
  PP-OCR's recogniser.
* ``fast_alpr``: the fast-alpr package, when installed with its models available. Its
  models download from the internet on first use; offline, building the reader fails with a
  message saying so, and the runner carries on without plates.

Normalisation: upper case, letters and digits only (``DH·LV 8H`` -> ``DHLV8H``). A reading is a
plate candidate when it has 4 to 10 characters and at least one digit; the most confident
candidate of a crop wins. Confidence is the recogniser's (times the plate detector's score
with the ``openvino`` localiser).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

from models.registry import resolve_model
from models.runtime import BackendUnavailableError, ModelRunner, import_backend, open_runner

log = logging.getLogger(__name__)

PLATE_DETECTOR = "vehicle-license-plate-detection-barrier-0106"
PLATE_LABEL = 2
NOT_ALNUM = re.compile(r"[^A-Z0-9]")
LOCALISERS = ("text", "openvino")


def normalise_plate(text: str) -> str:
    return NOT_ALNUM.sub("", text.upper())


def plausible(plate: str) -> bool:
    return 4 <= len(plate) <= 10 and any(ch.isdigit() for ch in plate)


def best_reading(texts: Sequence[str] | None, scores: Sequence[float] | None) -> tuple[str, float]:
    """The most confident plausible plate among OCR lines, or ('', 0.0)."""
    best = ("", 0.0)
    for text, score in zip(texts or (), scores or (), strict=True):
        plate = normalise_plate(text)
        if plausible(plate) and float(score) > best[1]:
            best = (plate, float(score))
    return best


class RapidOcrPlateReader:
    """PP-OCR through rapidocr; thread-safe (one engine, one lock)."""

    def __init__(
        self,
        localiser: str = "text",
        threads: int = 0,
        max_side: int = 480,
        open_model: Callable[..., ModelRunner] = open_runner,
    ) -> None:
        if localiser not in LOCALISERS:
            raise ValueError(
                f"unknown plate localiser {localiser!r}; expected one of {', '.join(LOCALISERS)}"
            )
        rapidocr = import_backend("rapidocr", "alpr")
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Global.use_cls": False,
            "Det.limit_side_len": max_side,
            "Det.limit_type": "max",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads or -1,
        }
        if localiser == "openvino":
            params["Global.use_det"] = False
            self.detector = open_model(resolve_model(PLATE_DETECTOR), "openvino", "cpu", threads)
        self.localiser = localiser
        self.engine = rapidocr.RapidOCR(params=params)
        self._lock = threading.Lock()

    def read(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        with self._lock:
            return [self._read_one(crop) for crop in crops]

    def _read_one(self, crop: np.ndarray) -> tuple[str, float]:
        if self.localiser == "text":
            result = self.engine(crop)
            return best_reading(result.txts, result.scores)
        best = ("", 0.0)
        for score, (x1, y1, x2, y2) in self._plates(crop):
            pad_x, pad_y = (x2 - x1) // 10, (y2 - y1) // 4
            plate = crop[max(0, y1 - pad_y) : y2 + pad_y, max(0, x1 - pad_x) : x2 + pad_x]
            if plate.size == 0:
                continue
            result = self.engine(plate)
            text, conf = best_reading(result.txts, result.scores)
            if conf * score > best[1]:
                best = (text, conf * score)
        return best

    def _plates(
        self, crop: np.ndarray, min_score: float = 0.3
    ) -> list[tuple[float, tuple[int, int, int, int]]]:
        h, w = crop.shape[:2]
        size = (int(self.detector.input_shape[3] or 300), int(self.detector.input_shape[2] or 300))
        x = cv2.resize(crop, size).transpose(2, 0, 1)[None].astype(np.float32)
        rows = self.detector.run(x)[0].reshape(-1, 7)
        rows = rows[(rows[:, 1] == PLATE_LABEL) & (rows[:, 2] >= min_score)]
        return [(float(r[2]), tuple(int(v) for v in r[3:7] * [w, h, w, h])) for r in rows]  # type: ignore[misc]


class FastAlprPlateReader:
    """fast-alpr's plate detector and OCR on each crop."""

    def __init__(self) -> None:
        fast_alpr = import_backend("fast_alpr", "alpr")
        try:
            self.alpr = fast_alpr.ALPR(
                detector_model="yolo-v9-t-384-license-plate-end2end",
                ocr_model="global-plates-mobile-vit-v2-model",
            )
        except Exception as err:  # fast-alpr raises whatever its downloader raises
            raise BackendUnavailableError(
                f"fast-alpr could not load its models ({type(err).__name__}: {err}); they download from the "
                "internet on first use, so run it once on a machine that is online, or use "
                "MOT.ALPR_BACKEND rapidocr, which ships its models"
            ) from err
        self._lock = threading.Lock()

    def read(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        out = []
        with self._lock:
            for crop in crops:
                results = self.alpr.predict(crop)
                reads = [
                    (r.ocr.text, _mean(r.ocr.confidence) * float(r.detection.confidence))
                    for r in results
                    if r.ocr
                ]
                out.append(best_reading([t for t, _ in reads], [c for _, c in reads]))
        return out


def _mean(value: Any) -> float:
    return float(np.mean(value)) if isinstance(value, (list, tuple, np.ndarray)) else float(value)


def build_plate_reader(
    backend: str,
    localiser: str = "text",
    threads: int = 0,
    open_model: Callable[..., ModelRunner] = open_runner,
) -> RapidOcrPlateReader | FastAlprPlateReader | None:
    """The configured reader, or None with a warning when it cannot run here (the run goes on)."""
    try:
        if backend == "fast_alpr":
            return FastAlprPlateReader()
        return RapidOcrPlateReader(localiser, threads, open_model=open_model)
    except BackendUnavailableError as err:
        log.warning("licence plates will not be read: %s", err)
        return None
