"""Open Model Zoo SSD detectors: our decoding against OpenVINO's own raw output on real frames."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from detection.factory import build_detector
from detection.ssd import SsdDetector, decode_ssd
from models.runtime import open_runner

pytest.importorskip("openvino")


def raw_openvino(xml: Path, frame: np.ndarray) -> np.ndarray:
    """The model's [1, 1, N, 7] output computed with OpenVINO directly, as Open Model Zoo demos feed it.

    In f32, as our runner asks: on CPUs with AVX512-BF16/AMX OpenVINO's default is bf16, whose
    scores differ from f32 by up to 0.01.
    """
    sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(xml))
    h, w = (d.get_length() for d in model.inputs[0].get_partial_shape()[2:])
    blob = cv2.resize(frame, (w, h)).transpose(2, 0, 1)[None].astype(np.float32)
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled({0: blob})[compiled.outputs[0]]


@pytest.fixture(scope="module")
def c010_frame(shared: Path) -> np.ndarray:
    ok, frame = cv2.VideoCapture(str(shared / "data" / "aic_s03_c010" / "c010_first100.mp4")).read()
    assert ok
    return frame


@pytest.mark.parametrize("name", ["vehicle-detection-0202", "vehicle-detection-0200"])
def test_decoding_matches_openvino_raw_output(shared: Path, c010_frame: np.ndarray, name: str) -> None:
    xml = shared / "models" / "openvino" / f"{name}.xml"
    raw = raw_openvino(xml, c010_frame)
    assert raw.shape[:2] == (1, 1) and raw.shape[3] == 7
    rows = raw[0, 0]
    rows = rows[: np.flatnonzero(rows[:, 0] < 0)[0]] if (rows[:, 0] < 0).any() else rows
    rows = rows[rows[:, 2] >= 0.3]
    assert len(rows) >= 3  # parked cars of c010
    h, w = c010_frame.shape[:2]
    expected = np.clip(rows[:, 3:7] * [w, h, w, h], 0, [w, h, w, h])
    detector = build_detector(name, conf_threshold=0.3, nms_iou=1.0)
    assert isinstance(detector, SsdDetector)
    dets = detector.detect(c010_frame)
    assert len(dets) == len(rows)
    order = np.argsort(-rows[:, 2], kind="stable")
    np.testing.assert_allclose(dets.score, rows[order, 2], atol=1e-4)
    np.testing.assert_allclose(dets.xyxy, expected[order], atol=0.5)  # pixels
    assert (dets.class_id == 2).all()  # label 0 'vehicle' -> COCO car through the manifest's class map


def test_class_map_drops_plates(shared: Path) -> None:
    frame = cv2.imread(str(shared / "data" / "images" / "mercedes.jpg"))
    xml = shared / "models" / "openvino" / "vehicle-license-plate-detection-barrier-0106.xml"
    raw = raw_openvino(xml, frame)
    _, _, labels = decode_ssd(raw[0], frame.shape[:2], 0.3)
    assert 2 in labels.tolist()  # the plate (label 2) of the nearest car
    _, _, class_id = decode_ssd(raw[0], frame.shape[:2], 0.3, [-1, 2, -1])
    assert len(class_id) == int((labels == 1).sum()) and (class_id == 2).all()  # vehicles only, as cars


def test_rows_after_the_end_marker_are_ignored() -> None:
    rows = np.array(
        [[0, 0, 0.9, 0.1, 0.1, 0.2, 0.2], [-1, 0, 0.0, 0, 0, 0, 0], [0, 0, 0.9, 0.5, 0.5, 0.6, 0.6]]
    )
    xyxy, _, _ = decode_ssd(rows[None, None], (100, 200), 0.5)
    np.testing.assert_allclose(xyxy, [[20, 10, 40, 20]])


def test_an_ssd_runner_is_recognised_by_auto(shared: Path) -> None:
    runner = open_runner(shared / "models" / "openvino" / "vehicle-detection-0200.xml", "openvino")
    assert runner.output_shapes[0][-1] == 7
    assert build_detector(str(shared / "models" / "openvino" / "vehicle-detection-0200.xml")).format == "ssd"


def test_a_full_path_to_a_manifest_model_gets_its_class_map(shared: Path, c010_frame: np.ndarray) -> None:
    """MOT.DETECTOR given as the file's path, not its name: still 'vehicle' -> car, not label 0."""
    detector = build_detector(str(shared / "models" / "openvino" / "vehicle-detection-0202.xml"))
    dets = detector.detect(c010_frame)
    assert len(dets) >= 3 and (dets.class_id == 2).all()


def test_the_input_is_contiguous_and_shared_in_place_with_the_same_results(
    shared: Path, c010_frame: np.ndarray
) -> None:
    """The hot path's layout and zero-copy changes keep every value and every detection."""
    from models.runtime import OpenVinoRunner

    detector = build_detector("vehicle-detection-0202", conf_threshold=0.1)
    assert isinstance(detector, SsdDetector) and isinstance(detector.runner, OpenVinoRunner)
    h, w = detector.size_hw
    strided = cv2.resize(c010_frame, (w, h), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    strided = strided.astype(np.float32)  # the former layout: HWC order in memory
    blob = detector.preprocess(c010_frame)
    assert blob.flags.c_contiguous and not strided.flags.c_contiguous and np.array_equal(blob, strided)
    cap = cv2.VideoCapture(str(shared / "data" / "aic_s03_c010" / "c010_first100.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 60)
    ok, later = cap.read()
    assert ok
    request = detector.runner.compiled.create_infer_request()  # copies its input: the reference
    for frame in (c010_frame, later, c010_frame):  # the shared input never leaks into the next frame
        inputs = detector.preprocess(frame)[None]
        request.infer({0: inputs.copy()})
        expected = detector.postprocess(np.array(request.get_output_tensor(0).data), frame.shape[:2])
        found = detector.detect(frame)
        assert len(found) >= 3 and np.array_equal(found.xyxy, expected.xyxy)
        assert np.array_equal(found.score, expected.score) and np.array_equal(
            found.class_id, expected.class_id
        )
