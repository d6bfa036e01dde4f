"""Colour histograms (reid/color.py) and the per-camera centring of the colour part, on real vn2cam crops."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from reid.color import HistogramSpec, border_white_balance, central_region, color_histogram, histogram_spec
from reid.fusion import FusionOptions, color_rows, sqrt_histograms
from reid.retrieval import cross_camera_retrieval, read_labels_csv


@pytest.fixture(scope="module")
def vn2cam(shared: Path) -> Path:
    return shared / "data" / "reid_vn2cam" / "images" / "test"


def bhattacharyya(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(a * b).sum())


@pytest.mark.parametrize("margin", [0.0, 0.2])
def test_plain_bins_are_opencvs_histogram(vn2cam: Path, margin: float) -> None:
    """Without grey bins the numpy binning is exactly cv2.calcHist's (the histogram before this change)."""
    spec = HistogramSpec((8, 4, 4), margin, 0)
    for path in sorted(vn2cam.iterdir())[:8]:
        crop = cv2.imread(str(path))
        hsv = cv2.cvtColor(central_region(crop, margin), cv2.COLOR_BGR2HSV)
        expected = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).reshape(-1)
        np.testing.assert_allclose(color_histogram(crop, spec), expected / expected.sum(), atol=1e-7)


def test_white_and_black_cars_land_in_different_grey_levels(vn2cam: Path) -> None:
    white1, white2, black = (
        color_histogram(cv2.imread(str(vn2cam / name)))
        for name in ("car_0041_cam1.jpg", "car_0041_cam2.jpg", "car_0038_cam1.jpg")
    )
    spec = HistogramSpec()
    grey = slice(spec.size - spec.grey_bins, spec.size)
    upper = slice(spec.size - spec.grey_bins // 2, spec.size)
    assert white1.shape == (spec.size,) and white1.sum() == pytest.approx(1.0)
    assert white1[grey].sum() > 0.9 and black[grey].sum() > 0.6  # mostly achromatic pixels, both
    assert white1[upper].sum() > 0.8  # the white car is bright grey ...
    assert black[upper].sum() < 0.3  # ... the black one dark grey
    # the same white car in the other camera is far closer to it than the black car is
    assert bhattacharyya(white1, white2) > bhattacharyya(white1, black) + 0.2


def test_the_margin_cuts_the_borders(vn2cam: Path) -> None:
    crop = cv2.imread(str(vn2cam / "car_0041_cam1.jpg"))
    framed = cv2.copyMakeBorder(crop, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=(0, 0, 255))  # red frame
    saturated_red = 15  # hue bin 0, top saturation and value bins of 8x4x4
    whole = HistogramSpec((8, 4, 4), 0.0, 0)
    assert color_histogram(framed, whole)[saturated_red] > 0.3
    central = HistogramSpec((8, 4, 4), 0.25, 0)
    assert color_histogram(framed, central)[saturated_red] < 0.02


def test_colour_centring_per_camera_helps_cross_camera_colour_retrieval(shared: Path) -> None:
    labels = read_labels_csv(shared / "data" / "reid_vn2cam" / "labels.csv", split="test")
    n = 60  # 30 vehicles, each seen once by each camera
    hist = np.stack([color_histogram(cv2.imread(str(p))) for p in labels.paths[:n]])
    ids, cams = labels.vehicle_ids[:n], labels.camera_ids[:n]
    plain = cross_camera_retrieval(sqrt_histograms(hist), ids, cams)
    rows = color_rows(hist, cams, FusionOptions(camera_shrinkage=1.0, color_camera_norm=True))
    centred = cross_camera_retrieval(rows, ids, cams)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-9)
    assert centred.mAP > plain.mAP + 0.05


def test_colour_rows_without_histogram_stay_zero_and_leave_the_means_alone(vn2cam: Path) -> None:
    hist = np.stack([color_histogram(cv2.imread(str(p))) for p in sorted(vn2cam.iterdir())[:6]])
    cams = np.array(["a", "a", "a", "b", "b", "b"])
    options = FusionOptions(camera_shrinkage=1.0, color_camera_norm=True)
    with_gap = hist.copy()
    with_gap[2] = 0.0  # a tracklet without histogram
    rows = color_rows(with_gap, cams, options)
    assert np.all(rows[2] == 0.0)
    keep = np.arange(6) != 2
    np.testing.assert_allclose(rows[keep], color_rows(hist[keep], cams[keep], options), atol=1e-12)
    # off: plain square roots
    np.testing.assert_allclose(color_rows(hist, cams, FusionOptions()), sqrt_histograms(hist))


def test_histogram_keys_are_read_and_validated() -> None:
    from config.loader import ConfigError, load_config

    spec = histogram_spec(load_config(None).MOT)
    assert spec == HistogramSpec() and spec.size == 16 * 3 * 3 + 16
    cfg = load_config(None, ["MOT.COLOR_HIST_BINS", "[8, 4, 4]", "MOT.COLOR_HIST_GREY_BINS", "0"])
    assert histogram_spec(cfg.MOT).size == 128
    for key, value in (
        ("MOT.COLOR_HIST_BINS", "[8, 4]"),
        ("MOT.COLOR_HIST_BINS", "[0, 4, 4]"),
        ("MOT.COLOR_HIST_MARGIN", "0.5"),
        ("MOT.COLOR_HIST_GREY_BINS", "-1"),
        ("MTMC.COLOR_CAMERA_NORM", "maybe"),
    ):
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            load_config(None, [key, value])


def test_border_white_balance_cancels_a_cameras_colour_cast(vn2cam: Path) -> None:
    """A real crop under a bluish cast (B x1.15, R x0.85): plain histograms of the two renderings
    differ, white-balanced on the road around the car they nearly agree."""
    crop = cv2.imread(str(vn2cam / "car_0032_cam1.jpg"))  # a green car on grey road
    cast = np.clip(crop * np.array([1.15, 1.0, 0.85]), 0, 255).astype(np.uint8)
    plain, balanced = HistogramSpec(), HistogramSpec(white_balance=True)
    before = bhattacharyya(color_histogram(crop, plain), color_histogram(cast, plain))
    after = bhattacharyya(color_histogram(crop, balanced), color_histogram(cast, balanced))
    assert after > 0.95 and after > before + 0.1
    border = np.ones(crop.shape[:2], bool)
    h, w = crop.shape[:2]
    border[int(h * 0.25) : int(h * 0.75), int(w * 0.25) : int(w * 0.75)] = False
    road = border_white_balance(cast, 0.25)[border].reshape(-1, 3).mean(axis=0)
    assert np.ptp(road) < 3.0  # the border's mean colour is grey after balancing
    assert border_white_balance(crop, 0.0) is crop  # no border, nothing to balance on
