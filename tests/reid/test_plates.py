"""Licence plates read from a real photo and from rendered plates, normalised and voted."""

from __future__ import annotations

import importlib.util
import string
from pathlib import Path

import cv2
import numpy as np
import pytest

from reid.plates import RapidOcrPlateReader, build_plate_reader, normalise_plate, plausible

LETTERS = [
    c for c in string.ascii_uppercase if c not in "IOQ"
]  # left out by most plate systems: 1/0 look-alikes


@pytest.fixture(scope="module")
def reader() -> RapidOcrPlateReader:
    pytest.importorskip("rapidocr")
    plates = build_plate_reader("rapidocr", "text")
    assert isinstance(plates, RapidOcrPlateReader)
    return plates


def test_the_nearest_car_of_the_mercedes_photo(reader: RapidOcrPlateReader, shared: Path) -> None:
    from detection.factory import build_detector
    from detection.filters import filter_detections

    image = cv2.imread(str(shared / "data/images/mercedes.jpg"))
    cars = filter_detections(build_detector("yolox_nano.onnx").detect(image), 0.5, [2])
    x1, y1, x2, y2 = cars.xyxy[np.argmax(cars.xyxy[:, 3])].astype(int)  # lowest in the picture: nearest
    (plate, conf) = reader.read([image[y1:y2, x1:x2]])[0]
    assert plate == "DHLV8H" and conf > 0.8


def render(text: str, width: int, angle: float, background: np.ndarray) -> np.ndarray:
    """A white plate with a black border and black text on a vehicle-like crop, slightly rotated."""
    height = int(width / 4.5)
    plate = np.full((height, width, 3), 255, np.uint8)
    cv2.rectangle(plate, (0, 0), (width - 1, height - 1), (0, 0, 0), max(1, width // 100))
    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, 2
    scale = cv2.getFontScaleFromHeight(font, int(height * 0.6), thickness)
    text_width = cv2.getTextSize(text, font, scale, thickness)[0][0]
    scale *= min(1.0, 0.9 * width / text_width)
    (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    cv2.putText(
        plate, text, ((width - tw) // 2, (height + th) // 2), font, scale, (0, 0, 0), thickness, cv2.LINE_AA
    )
    car = cv2.resize(background, (int(width * 1.6), int(width * 1.2)))
    h, w = car.shape[:2]
    x0, y0 = (w - width) // 2, int(h * 0.7) - height // 2
    car[y0 : y0 + height, x0 : x0 + width] = plate
    rotation = cv2.getRotationMatrix2D((w / 2, y0 + height / 2), angle, 1.0)
    return cv2.warpAffine(car, rotation, (w, h), borderMode=cv2.BORDER_REPLICATE)


def test_rendered_plates_of_several_sizes_and_angles(reader: RapidOcrPlateReader, shared: Path) -> None:
    rng = np.random.default_rng(0)
    photo = cv2.imread(str(shared / "data/images/mercedes.jpg"))
    background = photo[370:600, 120:560]  # the front of a real car
    cases = [(w, a) for w in (90, 130, 180, 250) for a in (-6, -3, 0, 3, 6)] * 2
    truth, crops = [], []
    for width, angle in cases:
        text = f"{''.join(rng.choice(LETTERS, 2))} {''.join(rng.choice(LETTERS, 2))} {rng.integers(10, 9999)}"
        truth.append(normalise_plate(text))
        crops.append(render(text, width, angle, background))
    reads = [plate for plate, _ in reader.read(crops)]
    correct = np.mean([r == t for r, t in zip(reads, truth, strict=True)])
    assert correct >= 0.9, list(zip(truth, reads, strict=True))


def test_normalisation_and_plausibility() -> None:
    assert normalise_plate("dh·lv 8h") == "DHLV8H"
    assert normalise_plate("AB-123 CD") == "AB123CD"
    assert plausible("DHLV8H") and not plausible("ABC") and not plausible("MERCEDES")


def test_fast_alpr_that_cannot_run_means_no_plates_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    if importlib.util.find_spec("fast_alpr") is not None:
        pytest.skip("fast-alpr is installed here")
    assert build_plate_reader("fast_alpr") is None
    assert "licence plates will not be read" in caplog.text and "fast" in caplog.text
