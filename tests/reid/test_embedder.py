"""ReID on real crops: appearance separates cars, features are unit length, backends agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from detection.boxes import crop_boxes
from detection.factory import build_detector
from detection.filters import filter_detections
from reid.embedder import ModelEmbedder
from reid.factory import build_embedder
from reid.preprocess import to_batch

CAR = 2


@pytest.fixture(scope="module")
def cars(shared: Path) -> tuple[np.ndarray, np.ndarray]:
    """The mercedes photo and its car boxes (detector output, largest first)."""
    image = cv2.imread(str(shared / "data/images/mercedes.jpg"))
    dets = filter_detections(build_detector("yolox_nano.onnx").detect(image), 0.5, [CAR])
    order = np.argsort(-(dets.xyxy[:, 2] - dets.xyxy[:, 0]))
    assert len(order) >= 5
    return image, dets.xyxy[order]


@pytest.fixture(scope="module")
def embedder() -> ModelEmbedder:
    return build_embedder("onnxruntime", "mobilenetv2_imagenet_features.onnx", batch_size=8)


def test_same_car_shifted_or_brighter_is_closer_than_any_other_car(
    cars: tuple[np.ndarray, np.ndarray], embedder: ModelEmbedder
) -> None:
    image, boxes = cars
    base = embedder.embed(image, boxes)
    size = np.hstack([boxes[:, 2:] - boxes[:, :2]] * 2)
    shifted = embedder.embed(image, boxes + 0.05 * size)  # 5 % shift of the box
    brighter = embedder.embed(cv2.convertScaleAbs(image, alpha=1.0, beta=40), boxes)
    others = base @ base.T
    np.fill_diagonal(others, -1)
    closest_other = others.max(axis=1)
    assert np.all(np.sum(base * shifted, axis=1) > closest_other)
    assert np.all(np.sum(base * brighter, axis=1) > closest_other)


def test_features_are_unit_length_float32_and_batch_independent(
    cars: tuple[np.ndarray, np.ndarray], embedder: ModelEmbedder
) -> None:
    image, boxes = cars
    feats = embedder.embed(image, boxes)
    assert feats.dtype == np.float32 and feats.shape == (len(boxes), 1280)
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)
    alone = np.vstack([embedder.embed(image, boxes[i : i + 1]) for i in range(len(boxes))])
    np.testing.assert_allclose(alone, feats, atol=1e-5)
    assert embedder.embed(image, np.zeros((0, 4))).shape == (0, 1280)


def test_crops_are_clipped_and_aligned_with_boxes() -> None:
    image = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    crops = crop_boxes(image, np.array([[-5, -5, 10, 10], [25, 15, 40, 40], [50, 50, 60, 60]], np.float32))
    assert [c.shape[:2] for c in crops] == [(10, 10), (5, 5), (1, 1)]
    np.testing.assert_array_equal(crops[1], image[15:20, 25:30])
    batch = to_batch(crops, (8, 4), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert batch.shape == (3, 3, 8, 4) and batch.dtype == np.float32
    # channel 0 is red = BGR channel 2, normalised
    one = to_batch([np.full((2, 2, 3), (0, 0, 255), np.uint8)], (2, 2), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    np.testing.assert_allclose(one[0, :, 0, 0], [2.0, -2.0, -2.0])


def test_onnx_export_matches_torch_and_the_reference_model(shared: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from reid.onnx_exporter import main as export_main
    from reid.onnx_exporter import max_abs_difference
    from reid.torch_backend import load_checkpoint_module

    opts = tmp_path / "opts.yaml"
    opts.write_text("model: mobilenetv2\ninput_size: 224\n")
    out = tmp_path / "mnv2.onnx"
    image = shared / "data/images/mercedes.jpg"
    code = export_main(
        [
            "--checkpoint",
            str(shared / "models/mobilenetv2_imagenet_features.pt"),
            "--opts",
            str(opts),
            "--output",
            str(out),
            "--verify-images",
            str(image),
        ]
    )
    assert code == 0 and out.is_file()
    module = load_checkpoint_module(opts, shared / "models/mobilenetv2_imagenet_features.pt")
    from reid.onnx_exporter import verification_batch

    batch = verification_batch([image], (224, 224))
    assert max_abs_difference(module, out, batch) < 1e-4
    ours = build_embedder("onnxruntime", str(out))
    reference = build_embedder("onnxruntime", str(shared / "models/mobilenetv2_imagenet_features.onnx"))
    raw_ours = ours.runner.run(batch)[0]
    raw_reference = reference.runner.run(batch)[0]
    assert np.abs(raw_ours - raw_reference).max() < 1e-4


def test_torch_backend_reads_opts_and_checkpoint(
    shared: Path, tmp_path: Path, cars: tuple[np.ndarray, np.ndarray], embedder: ModelEmbedder
) -> None:
    pytest.importorskip("torch")
    opts = tmp_path / "opts.yaml"
    opts.write_text("model: mobilenetv2\n")
    torch_embedder = build_embedder(
        "torch", opts=str(opts), checkpoint=str(shared / "models/mobilenetv2_imagenet_features.pt")
    )
    image, boxes = cars
    np.testing.assert_allclose(torch_embedder.embed(image, boxes), embedder.embed(image, boxes), atol=1e-4)
    opts.write_text("model: resnet50_ibn_a\n")
    with pytest.raises(
        ValueError, match="architecture 'resnet50_ibn_a' is not supported; supported: mobilenetv2"
    ):
        build_embedder(
            "torch", opts=str(opts), checkpoint=str(shared / "models/mobilenetv2_imagenet_features.pt")
        )


def test_openvino_backend_agrees_with_onnxruntime(
    cars: tuple[np.ndarray, np.ndarray], embedder: ModelEmbedder
) -> None:
    pytest.importorskip("openvino")
    vino = build_embedder("openvino", "mobilenetv2_imagenet_features.onnx")
    image, boxes = cars
    np.testing.assert_allclose(vino.embed(image, boxes), embedder.embed(image, boxes), atol=1e-3)
    half = build_embedder("openvino", "mobilenetv2_imagenet_features.onnx", fp16=True)
    cosine = np.sum(half.embed(image, boxes) * embedder.embed(image, boxes), axis=1)
    assert cosine.min() > 0.98 and cosine.mean() > 0.99  # bf16/f16 stays close to fp32
    det = build_detector("yolox_nano.onnx", backend="openvino", conf_threshold=0.5)
    ort = build_detector("yolox_nano.onnx", conf_threshold=0.5)
    a, b = det.detect(image), ort.detect(image)
    assert a.class_id.tolist() == b.class_id.tolist()
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=0.5)


def test_openvino_sends_no_telemetry(shared: Path) -> None:
    """A plain ``import openvino`` loads its telemetry sender; our loader never does."""
    pytest.importorskip("openvino")
    plain = "import sys, openvino; print(sys.modules.get('openvino_telemetry') is not None)"
    if subprocess.run([sys.executable, "-c", plain], capture_output=True, text=True).stdout.strip() != "True":
        pytest.skip("openvino-telemetry is not installed: nothing to block")
    ours = (
        "import sys\n"
        "from models.runtime import open_runner\n"
        f"open_runner({str(shared / 'models/mobilenetv2_imagenet_features.onnx')!r}, 'openvino')\n"
        "from openvino.tools.ovc import telemetry_utils\n"
        "print(sys.modules['openvino_telemetry'] is None, telemetry_utils.tm.__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", ours], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "openvino.tools.ovc.telemetry_stub"]
