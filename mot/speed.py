"""Vehicle speed from a ground-plane homography: image points -> metres -> km/h per frame.

Calibration files (``MOT.CALIBRATION``):

* plain: three lines of three numbers, the 3 x 3 homography taking image pixels (x, y, 1)
  to ground-plane metres (X, Y, W); ``tools/calibrate_camera.py`` writes this format;
* Cal_PnP (the AI City ``calibration.txt`` the original project read): a line
  ``Homography matrix: h11 h12 h13;h21 h22 h23;h31 h32 h33`` taking ground points in GPS
  degrees (latitude, longitude) to the image. It is inverted, and degrees become local metres
  on a flat earth about the image centre's ground point (fine over an intersection).

A vehicle's ground position is the bottom centre of its box (where its wheels meet the road).
Speed at frame k: the ground distance travelled between the frames ``window`` seconds apart
centred on k (clipped at the track's ends), over the time between them, in km/h; positions
are first smoothed with a moving average over the same window, which damps box jitter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mot.tracklet import Tracklet

EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class GroundProjection:
    """Maps image pixels to ground-plane metres."""

    image_to_ground: np.ndarray  # (3, 3), for the plain format; or image -> GPS for Cal_PnP
    gps_origin: tuple[float, float] | None = None  # (lat, lon) origin when the ground is in degrees

    def to_metres(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) image points -> (N, 2) ground metres."""
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        p = np.c_[xy, np.ones(len(xy))] @ self.image_to_ground.T
        ground = p[:, :2] / p[:, 2:3]
        if self.gps_origin is None:
            return ground
        lat0, lon0 = np.radians(self.gps_origin)
        lat, lon = np.radians(ground[:, 0]), np.radians(ground[:, 1])
        return np.c_[(lon - lon0) * np.cos(lat0) * EARTH_RADIUS_M, (lat - lat0) * EARTH_RADIUS_M]


class CalibrationError(ValueError):
    """A calibration file that cannot be read; the message names the file."""


def load_calibration(path: str | Path, image_size: tuple[int, int] | None = None) -> GroundProjection:
    """Read either format; ``image_size`` (width, height) places the GPS origin at the image centre."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CalibrationError(f"{path}: cannot read calibration ({err.strerror})") from err
    marker = "Homography matrix:"
    if marker in text:
        line = next(line for line in text.splitlines() if marker in line)
        rows = [r.split() for r in line.split(marker, 1)[1].split(";")]
        ground_to_image = _matrix(rows, path)
        image_to_gps = np.linalg.inv(ground_to_image)
        w, h = image_size or (1920, 1080)
        centre = np.array([w / 2, h, 1.0]) @ image_to_gps.T
        return GroundProjection(image_to_gps, (float(centre[0] / centre[2]), float(centre[1] / centre[2])))
    rows = [line.split("#", 1)[0].replace(",", " ").split() for line in text.splitlines()]
    return GroundProjection(_matrix([r for r in rows if r], path))


def _matrix(rows: list[list[str]], path: Path) -> np.ndarray:
    try:
        matrix = np.array([[float(v) for v in row] for row in rows], np.float64)
    except ValueError:
        raise CalibrationError(f"{path}: expected numbers in the homography") from None
    if matrix.shape != (3, 3):
        raise CalibrationError(
            f"{path}: expected a 3 x 3 homography, got {len(rows)} rows {[len(r) for r in rows]}"
        )
    if abs(np.linalg.det(matrix)) < 1e-12:
        raise CalibrationError(f"{path}: the homography is singular")
    return matrix


def ground_points(bboxes_xywh: np.ndarray) -> np.ndarray:
    """(T, 2) bottom centres of (T, 4) ``x, y, w, h`` boxes."""
    b = np.asarray(bboxes_xywh, np.float64).reshape(-1, 4)
    return np.c_[b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3]]


def track_speed(
    frames: np.ndarray, bboxes_xywh: np.ndarray, fps: float, projection: GroundProjection, window: float = 1.0
) -> np.ndarray:
    """(T,) km/h at each of the track's frames (0 for a track of one box).

    The velocity at frame k is the least-squares slope of ground position against time over
    the boxes within ``window / 2`` seconds of k: jitter averages out, and a vehicle moving
    steadily gets its exact speed, also at the ends of its track and across missed frames.
    """
    frames = np.asarray(frames, np.int64)
    if len(frames) < 2:
        return np.zeros(len(frames))
    ground = projection.to_metres(ground_points(bboxes_xywh))
    t = (frames - frames[0]) / fps
    half = max(1, round(window * fps / 2))
    lo = np.searchsorted(frames, frames - half, side="left")
    hi = np.searchsorted(frames, frames + half, side="right")
    grow = (hi - lo) < 2  # a lone box in its window: widen to its neighbours
    lo[grow], hi[grow] = np.maximum(lo[grow] - 1, 0), np.minimum(hi[grow] + 1, len(frames))

    def window_sum(values: np.ndarray) -> np.ndarray:
        csum = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])
        return csum[hi] - csum[lo]

    n = (hi - lo).astype(np.float64)
    st, stt = window_sum(t), window_sum(t * t)
    sx, stx = window_sum(ground), window_sum(t[:, None] * ground)
    denominator = n * stt - st * st
    velocity = (n[:, None] * stx - st[:, None] * sx) / np.where(denominator > 0, denominator, np.inf)[:, None]
    return np.linalg.norm(velocity, axis=1) * 3.6


def apply_speed(
    tracklets: Sequence[Tracklet], projection: GroundProjection, fps: float, window: float = 1.0
) -> list[Tracklet]:
    """Tracklets with per-frame ``speed`` (km/h) and ``speed_mean`` / ``speed_max`` attributes."""
    out = []
    for t in tracklets:
        speed = track_speed(t.frames, t.bboxes, fps, projection, window)
        attributes = {
            **t.attributes,
            "speed_mean": round(float(speed.mean()), 2),
            "speed_max": round(float(speed.max()), 2),
        }
        out.append(replace(t, frame_attributes={**t.frame_attributes, "speed": speed}, attributes=attributes))
    return out
