"""Speed from a known homography, calibration files and tool, zones and the valid-path filter."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mot.speed import CalibrationError, GroundProjection, load_calibration, track_speed
from mot.tracklet import Tracklet
from mot.zones import ZoneError, apply_zones, load_zones, path_matches, zone_path
from tools.calibrate_camera import main as calibrate_main

# ground metres -> image pixels of a camera looking down a road at an angle (a true perspective)
WORLD_TO_IMAGE = np.array([[40.0, 12.0, 300.0], [0.0, 18.0, 120.0], [0.0, 0.025, 1.0]])


def moving_vehicle(speed_kmh: float, fps: float, frames: int, jitter: float, seed: int = 0) -> np.ndarray:
    """(T, 4) boxes whose bottom centres follow a vehicle driving along the road at a known speed."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    world = np.c_[2.0 + 0.3 * t * speed_kmh / 3.6, 5.0 + (speed_kmh / 3.6) * t * np.sqrt(1 - 0.09)]
    image = cv2.perspectiveTransform(world.reshape(-1, 1, 2), WORLD_TO_IMAGE).reshape(-1, 2)
    image += rng.normal(0, jitter, image.shape)
    w, h = 60.0, 45.0
    return np.c_[image[:, 0] - w / 2, image[:, 1] - h, np.full(frames, w), np.full(frames, h)]


@pytest.mark.parametrize("speed_kmh", [15.0, 50.0, 90.0])
def test_speed_of_a_box_moving_at_a_known_ground_speed(speed_kmh: float, tmp_path: Path) -> None:
    fps = 25.0
    boxes = moving_vehicle(speed_kmh, fps, 60, jitter=0.5)
    path = tmp_path / "calibration.txt"
    path.write_text("\n".join(" ".join(map(str, row)) for row in np.linalg.inv(WORLD_TO_IMAGE)))
    speed = track_speed(np.arange(60), boxes, fps, load_calibration(path), window=1.0)
    assert abs(np.median(speed) / speed_kmh - 1) < 0.02
    assert abs(speed.mean() / speed_kmh - 1) < 0.02
    # frames missed by the tracker do not bias it
    keep = np.r_[0:20, 28:60]
    gappy = track_speed(np.arange(60)[keep], boxes[keep], fps, load_calibration(path))
    assert abs(np.median(gappy) / speed_kmh - 1) < 0.02


def test_cal_pnp_files_map_gps_degrees(tmp_path: Path) -> None:
    """A Cal_PnP homography from (latitude, longitude) to the image gives the same speed."""
    lat0, lon0, radius = 42.49, -90.72, 6_371_000.0
    # degrees -> local metres (x east, y north) as an affine map, composed with the camera
    east, north = np.radians(1) * np.cos(np.radians(lat0)) * radius, np.radians(1) * radius
    to_metres = np.array([[0, east, -lon0 * east], [north, 0, -lat0 * north], [0, 0, 1]])
    gps_to_image = WORLD_TO_IMAGE @ to_metres
    row = ";".join(" ".join(f"{v:.15g}" for v in r) for r in gps_to_image)
    path = tmp_path / "calibration.txt"
    path.write_text(f"Homography matrix: {row}\nReprojection error: 0.5\n")
    boxes = moving_vehicle(60.0, 10.0, 40, jitter=0.0)
    speed = track_speed(np.arange(40), boxes, 10.0, load_calibration(path, (1920, 1080)))
    assert abs(np.median(speed) / 60.0 - 1) < 0.02


def test_bad_calibration_files_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "cal.txt"
    bad.write_text("1 0 0\n0 1 0\n")
    with pytest.raises(CalibrationError, match=r"cal\.txt: expected a 3 x 3 homography"):
        load_calibration(bad)
    assert track_speed(np.array([5]), np.zeros((1, 4)), 10.0, GroundProjection(np.eye(3))).tolist() == [0.0]


def test_calibration_tool_fits_point_pairs(tmp_path: Path) -> None:
    world = np.array([[0, 0], [3.5, 0], [0, 20], [3.5, 20], [7, 10], [1, 30]], float)
    image = cv2.perspectiveTransform(world.reshape(-1, 1, 2), WORLD_TO_IMAGE).reshape(-1, 2)
    points = tmp_path / "points.txt"
    points.write_text(
        "# x y X Y\n" + "\n".join(f"{a} {b} {c} {d}" for (a, b), (c, d) in zip(image, world, strict=True))
    )
    assert calibrate_main(["--points", str(points), "--output", str(tmp_path / "cal.txt")]) == 0
    projection = load_calibration(tmp_path / "cal.txt")
    np.testing.assert_allclose(projection.to_metres(image), world, atol=1e-6)
    points.write_text("1 2 3 4\n5 6 7 8\n")
    assert calibrate_main(["--points", str(points), "--output", str(tmp_path / "x.txt")]) == 2


def zone_track(xs: list[float], y: float = 80) -> Tracklet:
    boxes = [[x - 10, y - 20, 20, 20] for x in xs]  # bottom centre at (x, y)
    return Tracklet(1, 0, list(range(len(xs))), boxes, [1.0] * len(xs))


def test_zone_masks_give_paths_and_the_filter_keeps_valid_ones(tmp_path: Path) -> None:
    left, right = np.zeros((100, 200), np.uint8), np.zeros((100, 200), np.uint8)
    left[:, :80] = 255
    right[:, 120:] = 255
    cv2.imwrite(str(tmp_path / "zone1.png"), left)
    cv2.imwrite(str(tmp_path / "zone2.png"), right)
    labels = load_zones(tmp_path)
    track = zone_track([20, 50, 100, 100, 150, 190])  # zone 1, 1, none, none, 2, 2
    (out,) = apply_zones([track], labels)
    assert out.frame_attributes["zone"].tolist() == [1, 1, 0, 0, 2, 2] and out.zone_path == [1, 2]
    assert apply_zones([track], labels, [[1, 2]]) and apply_zones([track], labels, ["1,.*"])
    assert apply_zones([track], labels, [[2, 1], "2,.*"]) == []
    assert track.zone_path == []  # the input is not modified


def test_one_grey_level_zone_image_and_bad_masks(tmp_path: Path) -> None:
    image = np.zeros((100, 200), np.uint8)
    image[:, 100:] = 3
    cv2.imwrite(str(tmp_path / "zones.png"), image)
    assert load_zones(tmp_path)[50, 150] == 3
    assert zone_path(np.array([0, 3, 3, 0, 1, 1, 3])) == [3, 1, 3]
    assert path_matches([3, 1], ["3,1"]) and not path_matches([3, 1, 2], ["3,1"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ZoneError, match="no zone masks"):
        load_zones(empty)
