"""Runtime session options (SYSTEM.ORT_*, SYSTEM.OPENVINO_HINT): applied, validated, harmless to results."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from config import defaults
from config.defaults import get_cfg_defaults
from detection.yolo import letterbox
from models.runtime import (
    OPENVINO_HINTS,
    ORT_EXECUTION_MODES,
    ORT_GRAPH_OPTIMIZATIONS,
    SessionOptions,
    open_runner,
    ort_session_options,
)
from mot.model_cache import model_cache, session_options


def test_config_choices_are_the_runtime_choices() -> None:
    assert defaults.ORT_EXECUTION_MODES == ORT_EXECUTION_MODES
    assert defaults.ORT_GRAPH_OPTIMIZATIONS == ORT_GRAPH_OPTIMIZATIONS
    assert defaults.OPENVINO_HINTS == OPENVINO_HINTS


def test_system_keys_reach_the_model_cache() -> None:
    cfg = get_cfg_defaults()
    cfg.SYSTEM.ORT_GRAPH_OPTIMIZATION = "basic"
    cfg.SYSTEM.ORT_EXECUTION_MODE = "parallel"
    cfg.SYSTEM.OPENVINO_HINT = "throughput"
    assert session_options(cfg.SYSTEM) == SessionOptions("parallel", "basic", "throughput")
    assert model_cache(cfg, threads=1).options == SessionOptions("parallel", "basic", "throughput")


def test_ort_session_options_set_what_they_say() -> None:
    ort = pytest.importorskip("onnxruntime")
    plain = ort_session_options(ort, SessionOptions(), threads=2, parallel=1)
    assert plain.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert plain.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert plain.intra_op_num_threads == 2 and plain.inter_op_num_threads == 1
    branchy = ort_session_options(ort, SessionOptions("parallel", "basic"), threads=2, parallel=1)
    assert branchy.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    assert branchy.execution_mode == ort.ExecutionMode.ORT_PARALLEL and branchy.inter_op_num_threads == 2
    requests = ort_session_options(ort, SessionOptions(), threads=2, parallel=2)
    assert requests.intra_op_num_threads == 1


def bus_photo_reference(shared: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """YOLOX-Nano, the bus photo as its input batch, and its single-threaded ONNX Runtime output."""
    model = shared / "models" / "yolox_nano.onnx"
    frame = cv2.imread(str(shared / "data" / "images" / "bus.jpg"))
    batch = letterbox(frame, (416, 416), centre=False)[0][None]
    return model, batch, open_runner(model, "onnxruntime", threads=1).run(batch)[0]


@pytest.mark.parametrize(
    ("backend", "options"),
    [
        ("onnxruntime", SessionOptions("sequential", "disable")),
        ("onnxruntime", SessionOptions("parallel", "extended")),
        ("openvino", SessionOptions(openvino_hint="throughput")),
        ("openvino", SessionOptions(openvino_hint="latency")),
    ],
)
def test_options_change_speed_not_results_on_a_real_frame(
    shared: Path, backend: str, options: SessionOptions
) -> None:
    if backend == "openvino":
        pytest.importorskip("openvino")
    model, batch, reference = bus_photo_reference(shared)
    out = open_runner(model, backend, threads=1, options=options).run(batch)[0]
    assert out.shape == reference.shape == (1, 3549, 85)
    np.testing.assert_allclose(out, reference, atol=2e-3, rtol=1e-3)
    assert reference[0, :, 4].max() > 0.5  # the bus photo has confident objects


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_concurrent_callers_split_the_cores_and_agree_on_a_real_frame(shared: Path, backend: str) -> None:
    """MOT.DETECTION_WORKERS 2: two threads detect at once, each on its share of the cores."""
    if backend == "openvino":
        pytest.importorskip("openvino")
    from concurrent.futures import ThreadPoolExecutor

    model, batch, reference = bus_photo_reference(shared)
    runner = open_runner(model, backend, threads=2, concurrent=2)
    if backend == "onnxruntime":
        assert runner.session.get_session_options().intra_op_num_threads == 1
    else:
        assert int(runner.compiled.get_property("NUM_STREAMS")) == 2
    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda _: runner.run(batch)[0], range(4)))
    for out in outs:
        np.testing.assert_allclose(out, reference, atol=2e-3, rtol=1e-3)
