"""Compute a camera's ground-plane homography from image <-> world point pairs (for speed).

    python tools/calibrate_camera.py --points points.txt --output calibration.txt

``points.txt`` has one pair per line, ``x y X Y``: an image pixel and the same point on the
road in metres (any local frame: measured lane markings, a surveyed plan, map coordinates);
at least 4 pairs, not three on a line. The homography (image -> metres) is fitted by least
squares over all pairs (OpenCV's DLT), written as three lines of three numbers, and the
reprojection error of every pair is reported. Use it with ``MOT.CALIBRATION: calibration.txt``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

from config.paths import atomic_write_text

log = logging.getLogger("tools.calibrate_camera")


def read_points(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].replace(",", " ").split()
        if not text:
            continue
        if len(text) != 4:
            raise ValueError(f"{path}:{number}: expected 'x y X Y', got '{line.strip()}'")
        try:
            rows.append([float(v) for v in text])
        except ValueError:
            raise ValueError(f"{path}:{number}: expected numbers, got '{line.strip()}'") from None
    points = np.array(rows, np.float64).reshape(-1, 4)
    if len(points) < 4:
        raise ValueError(f"{path}: need at least 4 point pairs, got {len(points)}")
    return points[:, :2], points[:, 2:]


def fit_homography(image: np.ndarray, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(3, 3) image -> world homography and each pair's reprojection error in world units."""
    homography, _ = cv2.findHomography(image, world, method=0)
    if homography is None:
        raise ValueError("no homography fits these points (are three or more of them on one line?)")
    projected = cv2.perspectiveTransform(image.reshape(-1, 1, 2), homography).reshape(-1, 2)
    return homography, np.linalg.norm(projected - world, axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", required=True, type=Path, help="lines of 'x y X Y'")
    parser.add_argument("--output", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        image, world = read_points(args.points)
        homography, errors = fit_homography(image, world)
    except (OSError, ValueError) as err:
        log.error("%s", err)
        return 2
    lines = ["# image pixels (x, y, 1) -> ground metres, from tools/calibrate_camera.py"]
    lines += [" ".join(f"{v:.10g}" for v in row) for row in homography]
    atomic_write_text(args.output, "\n".join(lines) + "\n")
    log.info(
        "wrote %s; reprojection error over %d pairs: mean %.3f, max %.3f",
        args.output,
        len(errors),
        errors.mean(),
        errors.max(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
