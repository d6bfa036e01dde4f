"""Static vehicle attributes (colour, type) from crops or ReID features, one row per sample.

Backends, chosen per attribute in ``MOT.STATIC_ATTRIBUTES`` (``[{color: MODEL}, {type: MODEL}]``):

* an ``.npz`` classifier on ReID embeddings (the original project's design), trained by
  ``tools/train_attribute_classifier.py``: a multinomial logistic regression stored as plain
  arrays (coefficients, intercepts, class names) and JSON metadata, loaded without pickle;
* the OpenVINO model ``vehicle-attributes-recognition-barrier-0039`` (``openvino`` extra):
  colour (white, gray, yellow, red, green, blue, black) and type (car, bus, truck, van) from a
  72 x 72 BGR crop; both attributes naming it share one loaded model;
* ``detector`` for ``type``: the detector's class (car, bus, truck, motorcycle), which is also
  what a tracklet gets when no type model is configured;
* an ``.onnx`` attribute model with its labels in the metadata ``vehicle_mtmc.attribute_model``
  (written by ``tools/convert_attribute_model.py``): a CNN on crops or a net on ReID features;
* the original project's own colour/type models, whole torch modules saved with
  ``torch.save(model)`` (``.pt``/``.pth``; a CNN on crops when it holds a Conv2d, else a net on
  ReID features; labels ``ORIGINAL_LABELS``). Loading one unpickles it, which executes code
  from the file, so it needs ``MOT.ATTRIBUTE_ALLOW_PICKLE``; converting it once with
  ``tools/convert_attribute_model.py`` gives a safe ``.onnx`` (or ``.npz``) file instead.

Crops go to CNNs as the original fed them: resized to 224 x 224, RGB, ImageNet mean/std.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from config.npz_safe import read_members
from models.registry import resolve_model
from models.runtime import ModelRunner, import_backend, open_runner
from reid.conventions import IMAGENET_MEAN, IMAGENET_STD
from reid.preprocess import to_batch

log = logging.getLogger(__name__)

CLASSIFIER_FORMAT = "vehicle_mtmc.attribute_classifier"
OPENVINO_ATTRIBUTES = "vehicle-attributes-recognition-barrier-0039"
OPENVINO_LABELS = {
    "color": ("white", "gray", "yellow", "red", "green", "blue", "black"),
    "type": ("car", "bus", "truck", "van"),
}
DETECTOR = "detector"
MODEL_FORMAT = "vehicle_mtmc.attribute_model"  # ONNX metadata key and format name
TORCH_SUFFIXES = (".pt", ".pth")
# The original project's label order (its colour and type models' outputs).
ORIGINAL_LABELS = {
    "color": (
        "yellow",
        "orange",
        "green",
        "gray",
        "red",
        "blue",
        "white",
        "golden",
        "brown",
        "black",
        "purple",
        "pink",
    ),
    "type": (
        "sedan",
        "suv",
        "van",
        "hatchback",
        "mpv",
        "pickup",
        "bus",
        "truck",
        "estate",
        "sportscar",
        "RV",
        "bike",
    ),
}
CROP_SIZE = (224, 224)


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
        z = read_members(path, ("meta", "coef", "intercept", "classes"))  # sizes checked before reading
        meta = json.loads(z["meta"].tobytes().decode("utf-8")) if "meta" in z else {}
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


def probabilities(outputs: np.ndarray) -> np.ndarray:
    """Rows that are already probabilities stay; logits get a softmax."""
    out = np.asarray(outputs, np.float64)
    if out.size and out.min() >= 0 and np.allclose(out.sum(axis=1), 1.0, atol=1e-4):
        return out
    z = out - out.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class NetworkAttributes:
    """One attribute from a network (torch module or ONNX): a CNN on crops or a net on features.

    ``run`` maps a float32 batch (crops: N x 3 x H x W; features: N x D) to (N, classes).
    """

    def __init__(
        self,
        name: str,
        run: Callable[[np.ndarray], np.ndarray],
        labels: Sequence[str],
        uses: str,
        source: str,
        input_size: Sequence[int] = CROP_SIZE,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        batch_size: int = 16,
        feature_dim: int = 0,
    ) -> None:
        if uses not in ("crops", "features"):
            raise ValueError(f"{source}: an attribute network reads 'crops' or 'features', not {uses!r}")
        self.names, self.run, self.labels, self.uses, self.source = (name,), run, list(labels), uses, source
        self.input_size, self.mean, self.std, self.batch_size = (
            tuple(input_size),
            tuple(mean),
            tuple(std),
            batch_size,
        )
        self.feature_dim = feature_dim  # 0: not known

    def outputs(self, inputs: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """(N, classes) raw network outputs."""
        if (
            self.uses == "features"
            and self.feature_dim
            and len(inputs)
            and np.shape(inputs)[1] != self.feature_dim
        ):
            raise ValueError(
                f"attribute model {self.source} reads {self.feature_dim}-d ReID features, got "
                f"{np.shape(inputs)[1]}-d ones: use the ReID model it was trained on"
            )
        chunks = []
        for start in range(0, len(inputs), self.batch_size):
            chunk = inputs[start : start + self.batch_size]
            if self.uses == "crops":
                batch = to_batch(chunk, self.input_size, self.mean, self.std)
            else:
                batch = np.ascontiguousarray(chunk, np.float32)
            chunks.append(np.asarray(self.run(batch)).reshape(len(chunk), -1))
        out = np.concatenate(chunks) if chunks else np.zeros((0, len(self.labels)), np.float32)
        if out.shape[1] != len(self.labels):
            raise ValueError(
                f"attribute model {self.source} gives {out.shape[1]} outputs for '{self.names[0]}', "
                f"which has {len(self.labels)} labels"
            )
        return out

    def read(self, inputs: Sequence[np.ndarray] | np.ndarray) -> dict[str, tuple[list[str], np.ndarray]]:
        p = probabilities(self.outputs(inputs))
        best = p.argmax(axis=1)
        return {self.names[0]: ([self.labels[i] for i in best], p[np.arange(len(p)), best])}


def load_torch_module(path: str | Path, allow_pickle: bool) -> Any:
    """A whole torch module saved with ``torch.save(model)``; refused unless ``allow_pickle``."""
    if not allow_pickle:
        raise ValueError(
            f"{path}: a whole torch module; loading it unpickles the file, which executes code from it. "
            "Set MOT.ATTRIBUTE_ALLOW_PICKLE true only for files you trust, or convert it once with "
            "tools/convert_attribute_model.py --allow-pickle into a safe .onnx file"
        )
    torch = import_backend("torch", "torch")
    log.warning(
        "unpickling attribute model %s (MOT.ATTRIBUTE_ALLOW_PICKLE): this runs code from the file", path
    )
    try:
        module = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as err:  # unpickling raises whatever the pickled classes raise
        raise ValueError(
            f"{path}: cannot unpickle this torch module ({type(err).__name__}: {err}); the classes it "
            "was saved with must be importable"
        ) from err
    if not isinstance(module, torch.nn.Module):
        raise ValueError(
            f"{path}: expected a torch module saved with torch.save(model), got {type(module).__name__}"
        )
    return module.float().eval()


def is_convolutional(module: Any) -> bool:
    """The original's test: a CNN on crops holds a Conv2d, a net on ReID features does not."""
    torch = import_backend("torch", "torch")
    return any(isinstance(m, torch.nn.Conv2d) for m in module.modules())


def torch_attributes(
    name: str, path: str | Path, allow_pickle: bool, batch_size: int = 16
) -> NetworkAttributes:
    """An original-style torch attribute module file as a reader (labels of ``ORIGINAL_LABELS``)."""
    _original_labels(name, path)
    return module_attributes(name, load_torch_module(path, allow_pickle), str(path), batch_size)


def module_attributes(name: str, module: Any, source: str, batch_size: int = 16) -> NetworkAttributes:
    """A loaded torch attribute module as a reader: a CNN on crops or a net on ReID features."""
    torch = import_backend("torch", "torch")
    labels = _original_labels(name, source)

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(batch)).float().numpy()

    uses = "crops" if is_convolutional(module) else "features"
    linear = next((m for m in module.modules() if isinstance(m, torch.nn.Linear)), None)
    dim = int(linear.in_features) if uses == "features" and linear is not None else 0
    return NetworkAttributes(name, run, labels, uses, source, batch_size=batch_size, feature_dim=dim)


def _original_labels(name: str, source: str | Path) -> tuple[str, ...]:
    if name not in ORIGINAL_LABELS:
        raise ValueError(
            f"attribute model {source}: the original project's models read "
            f"{', '.join(ORIGINAL_LABELS)}, not '{name}'"
        )
    return ORIGINAL_LABELS[name]


def onnx_attributes(
    name: str, path: Path, open_model: Callable[..., ModelRunner] = open_runner, batch_size: int = 16
) -> NetworkAttributes:
    """An ONNX attribute model with its labels and input kind in the metadata."""
    runner = open_model(path, "onnxruntime", "cpu", 0)
    if MODEL_FORMAT not in runner.metadata:
        raise ValueError(
            f"{path}: not an attribute model (no {MODEL_FORMAT} metadata, which "
            "tools/convert_attribute_model.py writes)"
        )
    meta = json.loads(runner.metadata[MODEL_FORMAT])
    if meta.get("attribute") not in (None, name):
        raise ValueError(f"{path}: reads '{meta['attribute']}', configured for '{name}'")
    return NetworkAttributes(
        name,
        lambda batch: runner.run(batch)[0],
        meta["labels"],
        meta["uses"],
        str(path),
        meta.get("input_size", CROP_SIZE),
        meta.get("mean", IMAGENET_MEAN),
        meta.get("std", IMAGENET_STD),
        batch_size,
        int(meta.get("feature_dim", 0)),
    )


def build_attribute_readers(
    static_attributes: Sequence[Mapping[str, str]],
    batch_size: int = 16,
    fp16: bool = False,
    open_model: Callable[..., ModelRunner] = open_runner,
    allow_pickle: bool = False,
) -> list[Any]:
    """Readers for ``MOT.STATIC_ATTRIBUTES``; attributes naming the same model share one reader.

    ``allow_pickle`` (``MOT.ATTRIBUTE_ALLOW_PICKLE``) permits whole torch modules.
    """
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
        elif path.suffix in TORCH_SUFFIXES:
            readers += [torch_attributes(name, path, allow_pickle, batch_size) for name in names]
        elif path.suffix == ".onnx":
            readers += [onnx_attributes(name, path, open_model, batch_size) for name in names]
        elif path.suffix == ".xml" and path.stem == OPENVINO_ATTRIBUTES:
            runner = open_model(path, "openvino", "cpu", 0, fp16, dynamic_batch=True)
            readers.append(OpenVinoVehicleAttributes(runner, names, batch_size))
        else:
            raise ValueError(
                f"attribute model {model}: expected an .npz classifier (made by "
                f"tools/train_attribute_classifier.py), an .onnx attribute model (made by "
                f"tools/convert_attribute_model.py), an original torch module (.pt/.pth, with "
                f"MOT.ATTRIBUTE_ALLOW_PICKLE), {OPENVINO_ATTRIBUTES} or '{DETECTOR}'"
            )
    return readers
