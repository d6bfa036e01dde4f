"""Backends that cannot run here fail fast with a message that says what to do."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from detection.factory import build_detector
from detection.ultralytics_yolo import resolve_weights
from models.runtime import BackendUnavailableError, open_runner
from reid.tensorrt_exporter import main as tensorrt_export
from tools.export_detector import main as export_detector

NO_TENSORRT = importlib.util.find_spec("tensorrt") is None


@pytest.mark.skipif(not NO_TENSORRT, reason="TensorRT is installed here")
def test_tensorrt_engine_without_tensorrt(tmp_path: Path) -> None:
    engine = tmp_path / "reid.engine"
    engine.write_bytes(b"\0")
    with pytest.raises(
        BackendUnavailableError, match=r"'tensorrt' package .* pip install 'vehicle-mtmc\[gpu\]'"
    ):
        open_runner(engine, "tensorrt")


@pytest.mark.skipif(not NO_TENSORRT, reason="TensorRT is installed here")
def test_tensorrt_exporter_without_tensorrt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, shared: Path
) -> None:
    code = tensorrt_export(
        [
            "--onnx",
            str(shared / "models/mobilenetv2_imagenet_features.onnx"),
            "--output",
            str(tmp_path / "x.engine"),
        ]
    )
    assert code == 2 and "vehicle-mtmc[gpu]" in caplog.text
    assert not (tmp_path / "x.engine").exists()


def test_cuda_without_a_cuda_provider(shared: Path) -> None:
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("a CUDA provider is available here")
    with pytest.raises(
        BackendUnavailableError, match=r"SYSTEM\.DEVICE 'cuda' needs ONNX Runtime's CUDAExecutionProvider"
    ):
        build_detector("yolox_nano.onnx", device="cuda")


def test_ultralytics_name_without_local_weights_fails_without_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VEHICLE_MTMC_ALLOW_DOWNLOADS", raising=False)
    with pytest.raises(
        BackendUnavailableError, match=r"weights 'yolov8s\.pt' are not on this machine"
    ) as info:
        resolve_weights("yolov8s")
    assert "VEHICLE_MTMC_ALLOW_DOWNLOADS=1" in str(info.value)
    with pytest.raises(BackendUnavailableError, match="not on this machine"):
        build_detector("yolov8s")  # 'auto' picks ultralytics for a bare name


def test_ultralytics_local_weights_need_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("ultralytics") is not None:
        pytest.skip("ultralytics is installed here")
    weights = tmp_path / "custom.pt"
    weights.write_bytes(b"\0")
    assert resolve_weights(str(weights)) == str(weights)
    with pytest.raises(BackendUnavailableError, match=r"pip install 'vehicle-mtmc\[ultralytics\]'"):
        build_detector(str(weights))


def test_export_detector_reports_missing_weights(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VEHICLE_MTMC_ALLOW_DOWNLOADS", raising=False)
    assert export_detector(["--model", "yolov8n"]) == 2
    assert "yolov8n.pt" in caplog.text and "not on this machine" in caplog.text
