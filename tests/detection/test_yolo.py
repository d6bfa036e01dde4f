"""Detectors on real images and video, the three output layouts, filters and tiling."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from detection.factory import build_detector
from detection.filters import check_mask_size, filter_detections, load_mask
from detection.tiling import TiledDetector, tile_boxes, tile_origins
from detection.yolo import YoloDetector, grid_cells, infer_output_format
from models.runtime import open_runner

VEHICLES = [2, 3, 5, 7]
CAR, BUS, TRUCK = 2, 5, 7


@pytest.fixture(scope="module")
def detector() -> YoloDetector:
    det = build_detector("yolox_nano.onnx", conf_threshold=0.3, threads=2)
    assert isinstance(det, YoloDetector) and det.format == "yolox"
    return det


def test_mercedes_has_at_least_five_cars(detector: YoloDetector, shared: Path) -> None:
    dets = detector.detect(cv2.imread(str(shared / "data/images/mercedes.jpg")))
    assert int(np.sum(dets.class_id == CAR)) >= 5


def test_bus_photo_has_a_bus(detector: YoloDetector, shared: Path) -> None:
    image = cv2.imread(str(shared / "data/images/bus.jpg"))
    dets = detector.detect(image)
    buses = dets.filter(dets.class_id == BUS)
    assert len(buses) >= 1
    width = buses.xyxy[0, 2] - buses.xyxy[0, 0]
    assert width > image.shape[1] * 0.5  # the bus fills most of the photo's width


def test_vehicles_in_every_one_of_the_first_50_intersection_frames(
    detector: YoloDetector, shared: Path
) -> None:
    cap = cv2.VideoCapture(str(shared / "data/traffic/intersection_960x540.mp4"))
    counts = []
    for _ in range(50):
        ok, frame = cap.read()
        assert ok
        dets = filter_detections(detector.detect(frame), 0.3, VEHICLES)
        counts.append(len(dets))
        assert np.all((dets.xyxy >= 0) & (dets.xyxy <= [960, 540, 960, 540]))
    cap.release()
    assert min(counts) >= 5, counts


def constant_model(
    tmp_path: Path, output: np.ndarray, input_hw: tuple[int, int], metadata: dict | None = None
) -> Path:
    """An ONNX model whose output is ``output`` whatever the image (input consumed with weight 0)."""
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, *input_hw])
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, list(output.shape))
    nodes = [
        helper.make_node("ReduceSum", ["images"], ["s"], keepdims=0),
        helper.make_node("Mul", ["s", "zero"], ["z"]),
        helper.make_node("Add", ["const", "z"], ["output"]),
    ]
    inits = [
        numpy_helper.from_array(output.astype(np.float32), "const"),
        numpy_helper.from_array(np.zeros((), np.float32), "zero"),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "constant", [inp], [out], inits), opset_imports=[helper.make_opsetid("", 17)]
    )
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return path


def test_yolov8_layout_is_decoded(tmp_path: Path) -> None:
    size = (96, 96)
    cells = grid_cells(size)
    raw = np.zeros((84, cells), np.float32)
    raw[:4, 0], raw[4 + CAR, 0] = [30, 40, 20, 10], 0.9  # car at cx 30, cy 40, 20x10
    raw[:4, 1], raw[4 + CAR, 1] = [31, 40, 20, 10], 0.6  # a duplicate: suppressed by NMS
    raw[:4, 2], raw[4 + TRUCK, 2] = [70, 60, 30, 20], 0.8  # a truck
    path = constant_model(tmp_path, raw[None], size, {"names": str({i: f"c{i}" for i in range(80)})})
    det = YoloDetector(open_runner(path, "onnxruntime"), conf_threshold=0.25)
    assert det.format == "yolov8" and det.class_names[7] == "c7"
    # a 192x96 frame: scale 0.5 to fit 96x96, centred vertically with 24 px padding above
    dets = det.detect(np.zeros((96, 192, 3), np.uint8))
    assert dets.class_id.tolist() == [CAR, TRUCK]
    np.testing.assert_allclose(dets.score, [0.9, 0.8], rtol=1e-6)
    np.testing.assert_allclose(dets.xyxy, [[40, 22, 80, 42], [110, 52, 170, 92]], atol=1e-4)


def test_yolov5_layout_is_decoded(tmp_path: Path) -> None:
    size = (64, 64)
    raw = np.zeros((3 * grid_cells(size), 85), np.float32)
    raw[5, :4] = [32, 32, 16, 8]
    raw[5, 4], raw[5, 5 + BUS] = 0.8, 0.5  # score = objectness 0.8 x class 0.5 = 0.4
    det = YoloDetector(
        open_runner(constant_model(tmp_path, raw[None], size), "onnxruntime"), conf_threshold=0.3
    )
    assert det.format == "yolov5"
    dets = det.detect(np.zeros((64, 64, 3), np.uint8))
    assert dets.class_id.tolist() == [BUS]
    np.testing.assert_allclose(dets.score, [0.4], rtol=1e-6)
    np.testing.assert_allclose(dets.xyxy, [[24, 28, 40, 36]], atol=1e-4)


def test_yolox_layout_decodes_grid_offsets_and_log_sizes(tmp_path: Path) -> None:
    size = (64, 64)
    raw = np.zeros((grid_cells(size), 85), np.float32)
    cell = 8 * 3 + 5  # stride-8 grid is 8x8: row 3, column 5
    raw[cell, :4] = [0.5, 0.5, np.log(2.0), np.log(1.0)]  # centre (5.5, 3.5) * 8, size 16 x 8
    raw[cell, 4], raw[cell, 5 + CAR] = 1.0, 0.7
    det = YoloDetector(
        open_runner(constant_model(tmp_path, raw[None], size), "onnxruntime"), conf_threshold=0.3
    )
    assert det.format == "yolox"
    dets = det.detect(np.zeros((32, 64, 3), np.uint8))  # scale 1, top-left placement: no shift
    np.testing.assert_allclose(dets.xyxy, [[36, 24, 52, 32]], atol=1e-4)


def test_unknown_layout_asks_for_the_config_key() -> None:
    with pytest.raises(ValueError, match=r"set MOT\.DETECTOR_OUTPUT_FORMAT"):
        infer_output_format([1, 100, 7], (416, 416))
    assert infer_output_format([1, 3549, 85], (416, 416)) == "yolox"
    assert infer_output_format([1, 84, 8400], (640, 640)) == "yolov8"
    assert infer_output_format([1, 25200, 85], (640, 640)) == "yolov5"


def test_mask_filter_keeps_rows_aligned(detector: YoloDetector, shared: Path, tmp_path: Path) -> None:
    image = cv2.imread(str(shared / "data/images/mercedes.jpg"))
    dets = detector.detect(image)
    mask_image = np.zeros(image.shape[:2], np.uint8)
    mask_image[:, : image.shape[1] // 2] = 255  # keep the left half
    cv2.imwrite(str(tmp_path / "mask.png"), mask_image)
    mask = load_mask(tmp_path / "mask.png")
    check_mask_size(mask, image.shape[:2], tmp_path / "mask.png")
    kept = filter_detections(dets, 0.35, VEHICLES, mask)
    centres_x = (kept.xyxy[:, 0] + kept.xyxy[:, 2]) / 2
    assert 0 < len(kept) < len(dets)
    assert np.all(centres_x < image.shape[1] / 2)
    assert np.all(kept.score >= 0.35) and np.all(np.isin(kept.class_id, VEHICLES))
    original = {
        tuple(b): (s, c) for b, s, c in zip(map(tuple, dets.xyxy), dets.score, dets.class_id, strict=True)
    }
    for box, score, cls in zip(map(tuple, kept.xyxy), kept.score, kept.class_id, strict=True):
        assert original[box] == (score, cls)  # each kept row is an original row, whole
    with pytest.raises(ValueError, match=r"mask is .* but the camera's frames are"):
        check_mask_size(mask, (540, 960), tmp_path / "mask.png")


def test_tiles_cover_the_frame() -> None:
    assert tile_origins(960, 540, 0.2) == [0, 420]
    assert tile_boxes(960, 540, 540, 0.2) == [(0, 0, 540, 540), (420, 0, 960, 540)]
    assert tile_boxes(400, 300, 540, 0.2) == []
    origins = tile_origins(1920, 640, 0.25)
    assert origins[0] == 0 and origins[-1] == 1280
    assert all(b - a <= 640 * 0.75 for a, b in itertools.pairwise(origins))


def test_tiling_finds_more_small_vehicles(detector: YoloDetector, shared: Path) -> None:
    cap = cv2.VideoCapture(str(shared / "data/traffic/intersection_960x540.mp4"))
    frame = cap.read()[1]
    cap.release()
    full = filter_detections(detector.detect(frame), 0.3, VEHICLES)
    tiled = filter_detections(TiledDetector(detector, 540, 0.2, 0.45).detect(frame), 0.3, VEHICLES)
    assert len(tiled) > 1.5 * len(full)
    # merged boxes are not duplicated: no two same-class boxes overlap beyond the NMS threshold
    from detection.boxes import iou_matrix

    iou = iou_matrix(tiled.xyxy, tiled.xyxy)
    same_class = tiled.class_id[:, None] == tiled.class_id[None, :]
    np.fill_diagonal(iou, 0)
    assert np.all(iou[same_class] <= 0.45)
