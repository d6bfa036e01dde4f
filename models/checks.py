"""Start-up check of a feature-extractor network (ReID) against the configured crop size.

A ReID model takes ``N x 3 x H x W`` crops and gives one vector per crop (``N x D``, or
``N x D x 1 x 1`` before flattening). A fixed input size must equal ``MOT.REID_INPUT_SIZE``;
a dynamic one is probed once with that size, so a size the network cannot take, or a
detector given as ReID model, fails at start-up naming the key, the file, what the model
expects and what was configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.runtime import ModelRunner


def _dims(shape: Sequence[int | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def is_feature_shape(shape: Sequence[int | None]) -> bool:
    """``[N, D]`` or ``[N, D, 1, 1]``."""
    return len(shape) == 2 or (len(shape) == 4 and tuple(shape[2:]) == (1, 1))


def embedder_problems(
    runner: ModelRunner,
    path: Path,
    input_size: Sequence[int],
    model_key: str = "MOT.REID_ONNX",
    size_key: str = "MOT.REID_INPUT_SIZE",
) -> list[str]:
    """Problems of ``runner`` as a ReID model for crops of ``input_size`` [height, width]."""
    shape = runner.input_shape
    if len(shape) != 4 or shape[1] not in (3, None):
        return [f"{model_key}: {path} takes input {_dims(shape)}, but a ReID model takes Nx3xHxW crops"]
    outputs = runner.output_shapes
    if outputs and None not in outputs[0][1:] and not is_feature_shape(outputs[0]):
        return [
            f"{model_key}: {path} gives output {_dims(outputs[0])}, but a ReID model gives one feature "
            "vector per crop ([N, D]); a detector given as ReID model?"
        ]
    size = tuple(int(v) for v in input_size)
    model_hw = shape[2:]
    if None not in model_hw and tuple(model_hw) != size:
        return [
            f"{size_key}: {path} expects crops of [{model_hw[0]}, {model_hw[1]}] (fixed in the model), "
            f"configured {list(size)}"
        ]
    try:
        probe = runner.run(np.zeros((1, 3, *size), np.float32))[0]
    except Exception as err:  # runtimes raise their own types
        return [f"{size_key}: {path} cannot run on crops of {list(size)} ({str(err).splitlines()[0][:200]})"]
    if not is_feature_shape(probe.shape):
        return [
            f"{model_key}: {path} gives output {_dims(probe.shape)} for one crop of {list(size)}, but a ReID "
            "model gives one feature vector per crop ([N, D])"
        ]
    return []
