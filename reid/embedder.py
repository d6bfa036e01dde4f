"""Appearance embedders: crops in, L2-normalised (N, D) float32 features out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from detection.boxes import crop_boxes
from models.checks import embedding_output
from models.runtime import ModelRunner
from reid.preprocess import to_batch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Embedder(Protocol):
    dim: int

    def embed(self, image: np.ndarray, xyxy: np.ndarray) -> np.ndarray: ...


def l2_normalise(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.maximum(norms, 1e-12)).astype(np.float32)


class NonFiniteFeatureError(ValueError):
    """The model gave NaN or infinite features: matching on them would be silently wrong."""


def check_finite(features: np.ndarray) -> None:
    """Refuse (N, D) features with NaN or infinite rows, saying how many crops gave them."""
    bad = ~np.isfinite(features).all(axis=1)
    if bad.any():
        raise NonFiniteFeatureError(
            f"{int(bad.sum())} of {len(features)} crops gave NaN or infinite features (first: crop "
            f"{int(np.flatnonzero(bad)[0])}); the model is broken for these inputs"
        )


class ModelEmbedder:
    """A feature model on any ``ModelRunner`` (ONNX Runtime, OpenVINO, TensorRT, torch).

    With ``flip`` each crop's feature is the sum of the features of the crop and of its mirror
    image (then L2-normalised), as the original project's feature extraction did. Of several
    outputs the feature one is used (``models.checks.embedding_output``); a batch with a NaN or
    infinite feature raises ``NonFiniteFeatureError`` (the run saves its tracks without features).
    """

    def __init__(
        self,
        runner: ModelRunner,
        input_size: Sequence[int] = (224, 224),
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        batch_size: int = 32,
        channel_order: str = "rgb",
        flip: bool = False,
    ) -> None:
        self.runner, self.input_size, self.mean, self.std = runner, tuple(input_size), tuple(mean), tuple(std)
        self.channel_order, self.flip = channel_order, flip
        self._fixed_batch = runner.input_shape[0] == 1
        self.batch_size = 1 if self._fixed_batch else batch_size
        output = embedding_output(runner.output_names, runner.output_shapes)
        if output is None:  # the start-up check (models.checks) explains why
            raise ValueError(f"cannot tell which of the outputs {runner.output_names} is the feature")
        self.output = output
        out_dim = runner.output_shapes[output][-1]
        if out_dim is None:  # dynamic output: ask the model once
            probe = np.zeros((1, 3, *self.input_size), np.float32)
            out_dim = int(runner.run(probe)[output].reshape(1, -1).shape[1])
        self.dim = int(out_dim)

    def embed(self, image: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        """Features of the boxes ``xyxy`` (N, 4, frame pixels) of one BGR frame."""
        return self.embed_crops(crop_boxes(image, xyxy))

    def embed_crops(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        if not crops:
            return np.zeros((0, self.dim), np.float32)
        out = np.empty((len(crops), self.dim), np.float32)
        for start in range(0, len(crops), self.batch_size):
            chunk = crops[start : start + self.batch_size]
            batch = to_batch(chunk, self.input_size, self.mean, self.std, self.channel_order)
            features = self.runner.run(batch)[self.output].reshape(len(chunk), -1)
            if self.flip:
                mirrored = self.runner.run(np.ascontiguousarray(batch[..., ::-1]))[self.output]
                features = features + mirrored.reshape(len(chunk), -1)
            out[start : start + len(chunk)] = features
        check_finite(out)
        return l2_normalise(out)
