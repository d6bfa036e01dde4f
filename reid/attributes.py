"""Static vehicle attributes (colour, type) from crops or ReID features, one row per sample.

Backends, chosen per attribute in ``MOT.STATIC_ATTRIBUTES`` (``[{color: MODEL}, {type: MODEL}]``):

* an ``.npz`` classifier on ReID embeddings (the original project's design), trained by
  ``tools/train_attribute_classifier.py``: a multinomial logistic regression stored as plain
  arrays (coefficients, intercepts, class names) and JSON metadata, loaded without pickle;
* the OpenVINO model ``vehicle-attributes-recognition-barrier-0039`` (``openvino`` extra):
  colour (white, gray, yellow, red, green, blue, black) and type (car, bus, truck, van) from a
  72 x 72 BGR crop; both attributes naming it share one loaded model;
* ``detector`` for ``type``: the detector's class (car, bus, truck, motorcycle), which is also
  what a tracklet gets when no type model is configured.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from models.registry import resolve_model
from models.runtime import ModelRunner, open_runner

CLASSIFIER_FORMAT = "vehicle_mtmc.attribute_classifier"
OPENVINO_ATTRIBUTES = "vehicle-attributes-recognition-barrier-0039"
OPENVINO_LABELS = {
    "color": ("white", "gray", "yellow", "red", "green", "blue", "black"),
    "type": ("car", "bus", "truck", "van"),
}
DETECTOR = "detector"


class EmbeddingClassifier:
    """Softmax over ``features @ coef.T + intercept``: attribute probabilities from ReID features."""

    uses = "features"

    def __init__(
        self, name: str, coef: np.ndarray, intercept: np.ndarray, classes: Sequence[str], meta: dict
    ) -> None:
        self.names = (name,)
        self.coef, self.intercept = np.asarray(coef, np.float64), np.asarray(intercept, np.float64)
        self.classes = [str(c) for c in classes]
        self.meta = meta
        if self.coef.shape[0] not in (1, len(self.classes)) or self.coef.shape[0] != len(self.intercept):
            raise ValueError(
                f"attribute classifier '{name}': {self.coef.shape[0]} rows for {len(self.classes)} classes"
            )

    @classmethod
    def load(cls, path: str | Path, name: str) -> EmbeddingClassifier:
        path = Path(path)
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes().decode("utf-8"))
            if meta.get("format") != CLASSIFIER_FORMAT:
                raise ValueError(f"{path}: not an attribute classifier (format {meta.get('format')!r})")
            return cls(name, z["coef"], z["intercept"], z["classes"].tolist(), meta)

    def save(self, path: str | Path) -> None:
        from config.paths import atomic_write

        meta = {"format": CLASSIFIER_FORMAT, "version": 1, **self.meta}
        with atomic_write(path) as f:
            np.savez(
                f,
                coef=self.coef,
                intercept=self.intercept,
                classes=np.array(self.classes, dtype=str),
                meta=np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8),
            )

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = np.asarray(features, np.float64) @ self.coef.T + self.intercept
        if z.shape[1] == 1:  # binary: one logit for the second class
            p1 = 1 / (1 + np.exp(-z[:, 0]))
            return np.stack([1 - p1, p1], axis=1)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def read(self, features: np.ndarray) -> dict[str, tuple[list[str], np.ndarray]]:
        expected = self.meta.get("feature_dim")
        if expected and features.shape[1] != expected:
            raise ValueError(
                f"attribute classifier '{self.names[0]}' was trained on {expected}-d features from "
                f"{self.meta.get('reid_model', 'another ReID model')}, got {features.shape[1]}-d ones"
            )
        p = self.probabilities(features)
        best = p.argmax(axis=1)
        return {self.names[0]: ([self.classes[i] for i in best], p[np.arange(len(p)), best])}


class OpenVinoVehicleAttributes:
    """The Open Model Zoo colour/type network on crops, in batches."""

    uses = "crops"

    def __init__(self, runner: ModelRunner, names: Sequence[str], batch_size: int = 16) -> None:
        unknown = [n for n in names if n not in OPENVINO_LABELS]
        if unknown:
            raise ValueError(
                f"{OPENVINO_ATTRIBUTES} reads {', '.join(OPENVINO_LABELS)}, not {', '.join(unknown)}"
            )
        self.runner, self.names, self.batch_size = runner, tuple(names), batch_size
        self.size = (int(runner.input_shape[3] or 72), int(runner.input_shape[2] or 72))

    def read(self, crops: Sequence[np.ndarray]) -> dict[str, tuple[list[str], np.ndarray]]:
        outputs: dict[str, list[np.ndarray]] = {n: [] for n in self.names}
        for start in range(0, len(crops), self.batch_size):
            chunk = crops[start : start + self.batch_size]
            batch = np.stack([cv2.resize(c, self.size).transpose(2, 0, 1) for c in chunk]).astype(np.float32)
            results = dict(zip(self.runner.output_names, self.runner.run(batch), strict=True))
            for name in self.names:
                outputs[name].append(results[name].reshape(len(chunk), -1))
        read = {}
        for name in self.names:
            p = np.concatenate(outputs[name]) if outputs[name] else np.zeros((0, len(OPENVINO_LABELS[name])))
            best = p.argmax(axis=1)
            read[name] = ([OPENVINO_LABELS[name][i] for i in best], p[np.arange(len(p)), best])
        return read


def build_attribute_readers(
    static_attributes: Sequence[Mapping[str, str]],
    batch_size: int = 16,
    fp16: bool = False,
    open_model: Callable[..., ModelRunner] = open_runner,
) -> list[Any]:
    """Readers for ``MOT.STATIC_ATTRIBUTES``; attributes naming the same model share one reader."""
    by_model: dict[str, list[str]] = {}
    for entry in static_attributes:
        for name, model in entry.items():
            by_model.setdefault(model, []).append(name)
    readers: list[Any] = []
    for model, names in by_model.items():
        if model == DETECTOR:
            if names != ["type"]:
                raise ValueError(f"'{DETECTOR}' gives only the type attribute, not {', '.join(names)}")
            continue  # the enricher's default
        path = resolve_model(model)
        if path.suffix == ".npz":
            readers += [EmbeddingClassifier.load(path, name) for name in names]
        elif path.suffix == ".xml" and path.stem == OPENVINO_ATTRIBUTES:
            runner = open_model(path, "openvino", "cpu", 0, fp16, dynamic_batch=True)
            readers.append(OpenVinoVehicleAttributes(runner, names, batch_size))
        else:
            raise ValueError(
                f"attribute model {model}: expected an .npz classifier (made by "
                f"tools/train_attribute_classifier.py), {OPENVINO_ATTRIBUTES} or '{DETECTOR}'"
            )
    return readers
