"""Convert an original-style attribute model (a whole pickled torch module) into a safe file, once.

    python tools/convert_attribute_model.py --input color_net.pt --attribute color \
        --output models/color.onnx --allow-pickle [--feature-dim 512]

The original project saved its colour and type models with ``torch.save(model)``; loading such
a file unpickles it, which executes code from it, so this tool does it only with
``--allow-pickle`` (and the classes the module was saved with must be importable). It writes:

* ``.onnx`` for either kind: a CNN on crops (input N x 3 x 224 x 224, RGB, ImageNet mean/std,
  as the original fed it) or a net on ReID features (input N x D); the labels, the input kind
  and the input convention go into the metadata ``vehicle_mtmc.attribute_model``;
* ``.npz`` (the embedding-classifier format of ``tools/train_attribute_classifier.py``) for a
  net on features that is a single Linear layer (Dropout, Identity and Softmax around it allowed).

It then runs the original and the converted model on the same inputs and fails (exit 1) unless
every label agrees. Use the result as ``MOT.STATIC_ATTRIBUTES: [{color: models/color.onnx}]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from config.paths import atomic_write
from models.runtime import BackendUnavailableError, import_backend
from reid.attributes import (
    CROP_SIZE,
    MODEL_FORMAT,
    ORIGINAL_LABELS,
    EmbeddingClassifier,
    NetworkAttributes,
    load_torch_module,
    module_attributes,
    onnx_attributes,
)
from reid.conventions import IMAGENET_MEAN, IMAGENET_STD

log = logging.getLogger("tools.convert_attribute_model")
PASSIVE = ("Dropout", "Identity", "Softmax", "LogSoftmax", "Flatten")


def feature_dim(module: Any) -> int:
    """Input size of a net on features: the first Linear layer's."""
    torch = import_backend("torch", "torch")
    for layer in module.modules():
        if isinstance(layer, torch.nn.Linear):
            return int(layer.in_features)
    raise ValueError(
        "the module has neither a Conv2d (a CNN on crops) nor a Linear layer (a net on features)"
    )


def single_linear(module: Any) -> Any:
    """The one Linear layer of an affine net on features, or None when it does more."""
    torch = import_backend("torch", "torch")
    leaves = [m for m in module.modules() if not list(m.children())]
    active = [m for m in leaves if type(m).__name__ not in PASSIVE]
    return active[0] if len(active) == 1 and isinstance(active[0], torch.nn.Linear) else None


def write_onnx(module: Any, output: Path, attribute: str, uses: str, dim: int) -> None:
    torch = import_backend("torch", "torch")
    onnx = import_backend("onnx", "torch")
    shape = (2, 3, *CROP_SIZE) if uses == "crops" else (2, dim)
    meta = {
        "format": MODEL_FORMAT,
        "version": 1,
        "attribute": attribute,
        "labels": list(ORIGINAL_LABELS[attribute]),
    }
    meta["uses"] = uses
    if uses == "crops":
        meta.update(input_size=list(CROP_SIZE), mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD))
    else:
        meta["feature_dim"] = dim
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                module,
                (torch.zeros(shape),),
                str(path),
                input_names=["input"],
                output_names=["scores"],
                dynamic_axes={"input": {0: "n"}, "scores": {0: "n"}},
                opset_version=17,
                dynamo=False,
            )
        model = onnx.load(str(path))
        entry = model.metadata_props.add()
        entry.key, entry.value = MODEL_FORMAT, json.dumps(meta)
        with atomic_write(output) as f:
            f.write(model.SerializeToString())


def write_npz(module: Any, output: Path, attribute: str, dim: int, source: Path) -> None:
    linear = single_linear(module)
    if linear is None:
        raise ValueError(
            f"{source}: this net on features is more than one Linear layer, so it has no .npz form; "
            "write .onnx instead"
        )
    weight = linear.weight.detach().double().numpy()
    bias = linear.bias.detach().double().numpy() if linear.bias is not None else np.zeros(len(weight))
    meta = {"feature_dim": dim, "source": source.name, "attribute": attribute}
    EmbeddingClassifier(attribute, weight, bias, ORIGINAL_LABELS[attribute], meta).save(output)


def sample_inputs(uses: str, dim: int, count: int = 32) -> list[np.ndarray] | np.ndarray:
    """Check inputs: random crops, or random unit-length features (ReID features are normalised)."""
    rng = np.random.default_rng(0)
    if uses == "crops":
        return [
            rng.integers(0, 256, (int(rng.integers(40, 160)), int(rng.integers(40, 160)), 3), np.uint8)
            for _ in range(count)
        ]
    x = rng.normal(size=(count, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def convert(source: Path, attribute: str, output: Path, allow_pickle: bool) -> tuple[int, float]:
    """Write the safe file; returns (checked inputs, largest probability difference)."""
    if attribute not in ORIGINAL_LABELS:
        raise ValueError(
            f"--attribute: the original models read {', '.join(ORIGINAL_LABELS)}, not '{attribute}'"
        )
    if output.suffix not in (".onnx", ".npz"):
        raise ValueError(f"--output: expected a .onnx or .npz file, got {output}")
    module = load_torch_module(source, allow_pickle)
    original: NetworkAttributes = module_attributes(attribute, module, str(source))
    uses = original.uses
    dim = 0 if uses == "crops" else feature_dim(module)
    if output.suffix == ".npz":
        if uses == "crops":
            raise ValueError(f"{source}: a CNN on crops has no .npz form; write .onnx instead")
        write_npz(module, output, attribute, dim, source)
        converted: Any = EmbeddingClassifier.load(output, attribute)
    else:
        write_onnx(module, output, attribute, uses, dim)
        converted = onnx_attributes(attribute, output)
    inputs = sample_inputs(uses, dim)
    before, after = original.read(inputs), converted.read(inputs)
    labels_before, p_before = before[attribute]
    labels_after, p_after = after[attribute]
    if labels_before != labels_after:
        wrong = sum(a != b for a, b in zip(labels_before, labels_after, strict=True))
        raise RuntimeError(f"{output}: {wrong} of {len(inputs)} labels differ from the original module")
    return len(inputs), float(np.abs(p_before - p_after).max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert a pickled torch attribute module to .onnx or .npz.")
    parser.add_argument("--input", required=True, type=Path, help="the module saved with torch.save(model)")
    parser.add_argument("--attribute", required=True, choices=sorted(ORIGINAL_LABELS))
    parser.add_argument("--output", required=True, type=Path, help=".onnx (any module) or .npz (one Linear)")
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="unpickle the input (executes code from it): trusted files only",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        checked, diff = convert(args.input, args.attribute, args.output, args.allow_pickle)
    except (BackendUnavailableError, ValueError, OSError) as err:
        log.error("%s", err)
        return 2
    except RuntimeError as err:
        log.error("%s", err)
        return 1
    log.info(
        "wrote %s; %d check inputs give the same labels (largest probability difference %.2g)",
        args.output,
        checked,
        diff,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
