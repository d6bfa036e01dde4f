"""ONNX export of a trained embedding with its input convention and recipe in the metadata.

``reid.onnx_exporter.export_onnx`` writes the graph and the input convention
(``vehicle_mtmc.input``: size, RGB, ImageNet mean/std) that the config checks read. ``fp16`` then
stores every large weight as float16 with a Cast back to float32 in the graph: half the file, the
same float32 arithmetic and inputs/outputs, features within about 1e-3 of the float32 model.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from config.paths import atomic_write
from reid.onnx_exporter import export_onnx

TRAINING_KEY = "vehicle_mtmc.training"
MIN_FP16_ELEMENTS = 64  # small tensors (BN folded biases etc.) stay float32


def fp16_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """Store float32 initializers of at least ``MIN_FP16_ELEMENTS`` values as float16 + Cast nodes."""
    casts, kept = [], []
    for tensor in model.graph.initializer:
        values = numpy_helper.to_array(tensor)
        if tensor.data_type != TensorProto.FLOAT or values.size < MIN_FP16_ELEMENTS:
            kept.append(tensor)
            continue
        half = numpy_helper.from_array(values.astype(np.float16), tensor.name + "_fp16")
        kept.append(half)
        casts.append(helper.make_node("Cast", [half.name], [tensor.name], to=TensorProto.FLOAT))
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    nodes = [*casts, *model.graph.node]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def export_embedding(
    module: Any, output: Path, input_size: tuple[int, int], fp16: bool, recipe: Mapping[str, Any]
) -> None:
    """Write ``module`` (images -> features) as ONNX at ``output``, atomically."""
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "model.onnx"
        export_onnx(module.eval(), plain, input_size)
        model = onnx.load(str(plain))
        if fp16:
            model = fp16_weights(model)
        entry = model.metadata_props.add()
        entry.key, entry.value = TRAINING_KEY, json.dumps(dict(recipe), sort_keys=True)
        onnx.checker.check_model(model)
        with atomic_write(output) as handle:
            handle.write(model.SerializeToString())
