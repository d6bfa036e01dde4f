"""ReID models with several outputs or non-finite features: the feature output is chosen by rule or refused.

The models are the shared MobileNetV2 feature network with a real ONNX graph edit each: a
classifier head added as the first output, the outputs renamed, NaN features.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from models.checks import embedding_output
from models.runtime import open_runner
from reid.embedder import ModelEmbedder, NonFiniteFeatureError

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "examples" / "mot_intersection.yaml"
FEATURES = "mobilenetv2_imagenet_features.onnx"


def edited(shared: Path, path: Path, nodes: list, outputs: list[tuple[str, int]], weights: dict) -> Path:
    """The shared ReID network with ``nodes`` appended and ``outputs`` (name, width) as its outputs."""
    model = onnx.load(str(shared / "models" / FEATURES))
    graph = model.graph
    graph.node.extend(nodes)
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in weights.items())
    del graph.output[:]
    graph.output.extend(
        helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, ["N", w]) for n, w in outputs
    )
    onnx.save(model, str(path))
    return path


def with_logits_first(shared: Path, path: Path, feature_name: str = "feat") -> Path:
    """Outputs ``logits`` (N x 10, a linear classifier on the feature) then the feature."""
    nodes = [helper.make_node("MatMul", ["feat", "W"], ["logits"])]
    if feature_name != "feat":
        nodes.append(helper.make_node("Identity", ["feat"], [feature_name]))
    weights = {"W": np.random.default_rng(0).normal(size=(1280, 10)).astype(np.float32)}
    return edited(shared, path, nodes, [("logits", 10), (feature_name, 1280)], weights)


def dry_run(tmp_path: Path, reid: Path) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "mot/run_tracker.py", "--config", str(CONFIG), "--dry-run"]
    args += ["OUTPUT_DIR", str(tmp_path / "out"), "MOT.REID_ONNX", str(reid)]
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)


def crops(shared: Path) -> list[np.ndarray]:
    image = cv2.imread(str(shared / "data/images/mercedes.jpg"))
    return [image[300:420, 100:300], image[250:400, 500:700]]


@pytest.mark.parametrize(
    ("names", "shapes", "expected"),
    [
        (["out"], [(None, 3, 8, 8)], 0),  # one output: that one (the shape check comes later)
        (["logits", "feat"], [(None, 10), (None, 1280)], 1),
        (["embedding", "logits"], [(None, 512), (None, 576)], 0),
        (["scores", "x"], [(None, 10), (None, 1, 7, 7)], 0),  # the only feature-shaped one
        (["a", "b"], [(None, 10), (None, 1280)], None),
    ],
)
def test_embedding_output_rule(names: list[str], shapes: list, expected: int | None) -> None:
    assert embedding_output(names, shapes) == expected


def test_feature_output_is_used_when_logits_come_first(shared: Path, tmp_path: Path) -> None:
    two = ModelEmbedder(open_runner(with_logits_first(shared, tmp_path / "two.onnx"), "onnxruntime"))
    one = ModelEmbedder(open_runner(shared / "models" / FEATURES, "onnxruntime"))
    assert two.dim == 1280
    np.testing.assert_allclose(two.embed_crops(crops(shared)), one.embed_crops(crops(shared)), atol=1e-5)


def test_unnamed_outputs_are_refused_at_start_up(shared: Path, tmp_path: Path) -> None:
    model = with_logits_first(shared, tmp_path / "ambiguous.onnx", feature_name="output1")
    proc = dry_run(tmp_path, model)
    assert proc.returncode == 2, proc.stderr
    assert f"MOT.REID_ONNX: {model} has 2 outputs ('logits' [?, 10], 'output1' [?, 1280])" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_nan_features_are_refused_at_start_up_and_at_run_time(shared: Path, tmp_path: Path) -> None:
    nan = np.array([np.nan], np.float32)
    always = edited(
        shared,
        tmp_path / "nan.onnx",
        [helper.make_node("Mul", ["feat", "c"], ["f"])],
        [("f", 1280)],
        {"c": nan},
    )
    proc = dry_run(tmp_path, always)
    assert proc.returncode == 2, proc.stderr
    assert f"MOT.REID_ONNX: {always} gives NaN or infinite features for a blank crop" in proc.stderr
    # sqrt(-mean|x|): 0 for the blank start-up probe, NaN for any real crop
    nodes = [
        helper.make_node("Abs", ["input"], ["a"]),
        helper.make_node("ReduceMean", ["a"], ["m"], keepdims=0),
        helper.make_node("Neg", ["m"], ["n"]),
        helper.make_node("Sqrt", ["n"], ["s"]),
        helper.make_node("Add", ["feat", "s"], ["f"]),
    ]
    later = edited(shared, tmp_path / "later.onnx", nodes, [("f", 1280)], {})
    embedder = ModelEmbedder(open_runner(later, "onnxruntime"))
    with pytest.raises(NonFiniteFeatureError, match="2 of 2 crops gave NaN or infinite features"):
        embedder.embed_crops(crops(shared))
