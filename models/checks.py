"""Start-up check of a feature-extractor network (ReID) against the configured crop size.

A ReID model takes ``N x 3 x H x W`` crops and gives one vector per crop (``N x D``, or
``N x D x 1 x 1`` before flattening), finite for a blank crop. A model with several outputs
must say which is the feature (``embedding_output``). A fixed input size must equal ``MOT.REID_INPUT_SIZE``;
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


FEATURE_NAME_HINTS = ("feat", "emb", "descriptor")  # output names that say "appearance vector"


def embedding_output(names: Sequence[str], shapes: Sequence[Sequence[int | None]]) -> int | None:
    """Which output of a ReID model is the appearance feature; None when that cannot be told.

    One output: that one. Several (a classifier's logits beside the feature, in any order): the
    one feature-shaped output whose name contains ``feat``, ``emb`` or ``descriptor``, else the
    only feature-shaped output. Logits are feature-shaped too, so two unnamed ones are ambiguous.
    """
    if len(shapes) == 1:
        return 0
    candidates = [i for i, shape in enumerate(shapes) if is_feature_shape(shape)]
    named = [i for i in candidates if any(h in names[i].lower() for h in FEATURE_NAME_HINTS)]
    if len(named) == 1:
        return named[0]
    return candidates[0] if len(candidates) == 1 else None


def output_choice_problem(runner: ModelRunner, path: Path, model_key: str = "MOT.REID_ONNX") -> str | None:
    """Why the feature output of ``runner`` cannot be chosen (``embedding_output``), or None."""
    if embedding_output(runner.output_names, runner.output_shapes) is not None:
        return None
    outputs = ", ".join(
        f"'{n}' {_dims(s)}" for n, s in zip(runner.output_names, runner.output_shapes, strict=True)
    )
    return (
        f"{model_key}: {path} has {len(runner.output_shapes)} outputs ({outputs}) and none is named as the "
        "appearance feature (a name containing 'feat', 'emb' or 'descriptor'); export the model with its "
        "feature output only, or give that output such a name"
    )


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
    if problem := output_choice_problem(runner, path, model_key):
        return [problem]
    index = embedding_output(runner.output_names, runner.output_shapes) or 0
    output = runner.output_shapes[index] if runner.output_shapes else ()
    if output and None not in output[1:] and not is_feature_shape(output):
        return [
            f"{model_key}: {path} gives output {_dims(output)}, but a ReID model gives one feature "
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
        probe = runner.run(np.zeros((1, 3, *size), np.float32))[index]
    except Exception as err:  # runtimes raise their own types
        return [f"{size_key}: {path} cannot run on crops of {list(size)} ({str(err).splitlines()[0][:200]})"]
    if not is_feature_shape(probe.shape):
        return [
            f"{model_key}: {path} gives output {_dims(probe.shape)} for one crop of {list(size)}, but a ReID "
            "model gives one feature vector per crop ([N, D])"
        ]
    if not np.isfinite(probe).all():
        return [
            f"{model_key}: {path} gives NaN or infinite features for a blank crop of {list(size)}; "
            "a broken export, or an FP16 model overflowing (MOT.REID_FP16)?"
        ]
    return []
