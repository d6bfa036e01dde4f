"""Colour and type of real vehicles, the embedding classifier and its training tool, votes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detection.factory import build_detector
from detection.filters import filter_detections
from mot.enrich import Enricher, FinishedTrack, Sample, vote
from mot.tracklet import Tracklet
from reid.attributes import EmbeddingClassifier, build_attribute_readers
from tools.train_attribute_classifier import main as train_main

OPENVINO_MODEL = "vehicle-attributes-recognition-barrier-0039"


def vehicle_crops(image: np.ndarray, classes: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    dets = filter_detections(
        build_detector("yolox_nano.onnx", conf_threshold=0.4).detect(image), 0.4, classes
    )
    return [(box, image[int(box[1]) : int(box[3]), int(box[0]) : int(box[2])]) for box in dets.xyxy]


def crop_at(crops: list[tuple[np.ndarray, np.ndarray]], x: float, y: float) -> np.ndarray:
    """The crop whose box holds the point (x, y), the smallest if several do."""
    inside = [(b, c) for b, c in crops if b[0] <= x <= b[2] and b[1] <= y <= b[3]]
    assert inside, f"no vehicle at ({x}, {y})"
    return min(inside, key=lambda bc: (bc[0][2] - bc[0][0]) * (bc[0][3] - bc[0][1]))[1]


def test_clearly_coloured_real_vehicles_get_their_colour(shared: Path) -> None:
    pytest.importorskip("openvino")
    (reader,) = build_attribute_readers([{"color": OPENVINO_MODEL}, {"type": OPENVINO_MODEL}])
    mercedes = cv2.imread(str(shared / "data/images/mercedes.jpg"))
    bus = cv2.imread(str(shared / "data/images/bus.jpg"))
    cars = vehicle_crops(mercedes, [2])
    crops = [
        crop_at(cars, 350, 550),  # the dark blue Mercedes in front
        crop_at(cars, 250, 230),  # the red car parked on the left
        crop_at(vehicle_crops(bus, [5]), 400, 400),  # the blue bus
    ]
    result = reader.read(crops)
    assert result["color"][0] == ["blue", "red", "blue"]
    assert np.all(result["color"][1] > 0.5)
    assert len(result["type"][0]) == 3  # the model's own type guess is read too (docs/attributes.md: type)


def test_type_defaults_to_the_detector_class_and_votes_weigh_confidence() -> None:
    assert vote(["red", "blue", "red"], [0.3, 0.9, 0.4]) == ("blue", pytest.approx(0.9 / 1.6))
    assert vote(["", ""], [1.0, 1.0]) is None
    bus = Tracklet(1, 0, [0], [[0, 0, 10, 10]], [1.0], class_id=5)
    (out,) = Enricher()([FinishedTrack(bus, [Sample(0, 1.0, 100.0)])])
    assert out.attributes["type"] == "bus"
    named = Tracklet(2, 0, [0], [[0, 0, 10, 10]], [1.0], class_id=0)
    (out,) = Enricher(class_names=["forklift"])([FinishedTrack(named, [])])
    assert out.attributes["type"] == "forklift"  # a custom detector's own class names


@pytest.fixture(scope="module")
def teacher_dataset(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real crops of the intersection clip, labelled by the OpenVINO colour model where it is sure."""
    pytest.importorskip("openvino")
    (reader,) = build_attribute_readers([{"color": OPENVINO_MODEL}])
    root = tmp_path_factory.mktemp("colours")
    cap = cv2.VideoCapture(str(shared / "data/traffic/intersection_960x540.mp4"))
    count = 0
    for index in range(0, 252, 6):
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        frame = cap.read()[1]
        crops = [c for _, c in vehicle_crops(frame, [2, 5, 7]) if min(c.shape[:2]) >= 24]
        labels, conf = reader.read(crops)["color"]
        for crop, label, p in zip(crops, labels, conf, strict=True):
            if p >= 0.9 and label in ("white", "black", "gray", "red"):
                (root / label).mkdir(exist_ok=True)
                cv2.imwrite(str(root / label / f"{count}.png"), crop)
                count += 1
    cap.release()
    return root


def test_training_tool_writes_a_pickle_free_classifier_that_learns(
    teacher_dataset: Path, tmp_path: Path
) -> None:
    output = tmp_path / "color.npz"
    assert train_main(["--attribute", "color", "--data", str(teacher_dataset), "--output", str(output)]) == 0
    with np.load(output, allow_pickle=False) as z:  # plain arrays only
        assert set(z.files) == {"coef", "intercept", "classes", "meta"}
    (reader,) = build_attribute_readers([{"color": str(output)}])
    assert isinstance(reader, EmbeddingClassifier) and reader.uses == "features"
    from reid.factory import build_embedder

    embedder = build_embedder()
    paths = sorted(teacher_dataset.glob("*/*.png"))
    features = embedder.embed_crops([cv2.imread(str(p)) for p in paths])
    labels, conf = reader.read(features)["color"]
    truth = [p.parent.name for p in paths]
    assert np.mean(np.array(labels) == np.array(truth)) > 0.9  # fits what it was trained on
    assert np.all((conf > 0) & (conf <= 1))
    with pytest.raises(ValueError, match="was trained on 1280-d features"):
        reader.read(np.zeros((1, 64), np.float32))
