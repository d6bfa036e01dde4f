"""Constant-velocity Kalman filter on box states, batched over tracks.

State (8-D): ``cx, cy, a, h, vcx, vcy, va, vh``: box centre (pixels), aspect ratio
``a = w / h``, height (pixels), and their velocities per frame. Measurements are
``cx, cy, a, h``. Noise scales with the box height, as in SORT/DeepSORT/ByteTrack:
position noise ``std_position * h``, velocity noise ``std_velocity * h``.

Every method takes stacked tracks: ``mean`` (N, 8), ``cov`` (N, 8, 8), so one call
predicts or updates all tracks of a frame.
"""

from __future__ import annotations

import numpy as np

# 0.95 quantile of the chi-square distribution with 1..4 degrees of freedom: Mahalanobis gates.
CHI2_95 = {1: 3.8415, 2: 5.9915, 3: 7.8147, 4: 9.4877}

NDIM = 4
_MOTION = np.eye(2 * NDIM) + np.eye(2 * NDIM, k=NDIM)  # x_{t+1} = x_t + v_t


def xyxy_to_xyah(xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) corners -> (N, 4) ``cx, cy, w / h, h`` as float64."""
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
    return np.stack([xyxy[:, 0] + w / 2, xyxy[:, 1] + h / 2, w / np.maximum(h, 1e-6), h], axis=1)


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """(N, 4) or (N, 8) states -> (N, 4) corners."""
    xyah = np.asarray(xyah, dtype=np.float64)
    half_h = xyah[:, 3] / 2
    half_w = xyah[:, 2] * half_h
    out = np.empty((len(xyah), 4))
    out[:, 0], out[:, 1] = xyah[:, 0] - half_w, xyah[:, 1] - half_h
    out[:, 2], out[:, 3] = xyah[:, 0] + half_w, xyah[:, 1] + half_h
    return out


class KalmanBoxFilter:
    """The SORT-family box filter; stateless, so one instance serves every track."""

    # velocity components zeroed while a track is lost (the reference freezes the height)
    frozen_when_lost: tuple[int, ...] = (7,)

    def measure(self, xyxy: np.ndarray) -> np.ndarray:
        """(N, 4) corners -> (N, 4) measurements in this filter's space."""
        return xyxy_to_xyah(xyxy)

    def to_xyxy(self, mean: np.ndarray) -> np.ndarray:
        """(N, 8) states or (N, 4) measurements -> (N, 4) corners."""
        return xyah_to_xyxy(mean)

    def __init__(self, std_position: float = 1.0 / 20, std_velocity: float = 1.0 / 160) -> None:
        self.std_position = std_position
        self.std_velocity = std_velocity

    def initiate(self, xyah: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New tracks from measurements (N, 4): zero velocity, uncertainty scaled by height."""
        xyah = np.asarray(xyah, dtype=np.float64).reshape(-1, NDIM)
        mean = np.concatenate([xyah, np.zeros_like(xyah)], axis=1)
        h = xyah[:, 3]
        p, v = self.std_position * h, self.std_velocity * h
        std = np.stack(
            [2 * p, 2 * p, np.full_like(h, 1e-2), 2 * p, 10 * v, 10 * v, np.full_like(h, 1e-5), 10 * v]
        )
        return mean, _diag(std.T**2)

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One frame ahead for every track."""
        h = mean[:, 3]
        p, v = self.std_position * h, self.std_velocity * h
        std = np.stack([p, p, np.full_like(h, 1e-2), p, v, v, np.full_like(h, 1e-5), v])
        mean = mean @ _MOTION.T
        cov = _MOTION @ cov @ _MOTION.T + _diag(std.T**2)
        return mean, cov

    def project(
        self, mean: np.ndarray, cov: np.ndarray, noise_scale: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predicted measurement (N, 4) and its covariance (N, 4, 4), measurement noise included
        (times ``noise_scale`` (N,) when given)."""
        h = mean[:, 3]
        p = self.std_position * h
        std = np.stack([p, p, np.full_like(h, 1e-1), p])
        return mean[:, :NDIM], cov[:, :NDIM, :NDIM] + _scaled(_diag(std.T**2), noise_scale)

    def update(
        self, mean: np.ndarray, cov: np.ndarray, xyah: np.ndarray, noise_scale: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct each track (row i) with its measurement ``xyah[i]``.

        ``noise_scale`` (N,) multiplies each measurement's noise covariance: StrongSORT's NSA
        filter passes ``1 - score``, so a confident box pulls the state harder than a weak one.
        """
        projected, s = self.project(mean, cov, noise_scale)
        # Kalman gain K = P H^T S^-1, from S K^T = (P H^T)^T (S is symmetric).
        gain = np.linalg.solve(s, cov[:, :NDIM, :]).transpose(0, 2, 1)
        innovation = np.asarray(xyah, dtype=np.float64).reshape(-1, NDIM) - projected
        mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        cov = cov - gain @ s @ gain.transpose(0, 2, 1)
        return mean, cov

    def gating_distance(
        self, mean: np.ndarray, cov: np.ndarray, xyah: np.ndarray, only_position: bool = False
    ) -> np.ndarray:
        """(N, M) squared Mahalanobis distance of every measurement to every track's prediction.

        Compare with ``CHI2_95[2]`` (``only_position``) or ``CHI2_95[4]`` to gate.
        """
        projected, s = self.project(mean, cov)
        xyah = np.asarray(xyah, dtype=np.float64).reshape(-1, NDIM)
        dims = 2 if only_position else NDIM
        diff = xyah[None, :, :dims] - projected[:, None, :dims]
        s_inv = np.linalg.inv(s[:, :dims, :dims])
        return np.einsum("nmi,nij,nmj->nm", diff, s_inv, diff)


class KalmanXYWHFilter(KalmanBoxFilter):
    """BoT-SORT's filter: state ``cx, cy, w, h`` and velocities, noise scaled by width and height.

    Width is estimated directly instead of through the aspect ratio, which tracks boxes whose
    shape changes (vehicles turning, entering the frame) more closely.
    """

    frozen_when_lost = (6, 7)

    def measure(self, xyxy: np.ndarray) -> np.ndarray:
        xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        wh = xyxy[:, 2:] - xyxy[:, :2]
        return np.concatenate([xyxy[:, :2] + wh / 2, wh], axis=1)

    def to_xyxy(self, mean: np.ndarray) -> np.ndarray:
        mean = np.asarray(mean, dtype=np.float64)
        half = mean[:, 2:4] / 2
        return np.concatenate([mean[:, :2] - half, mean[:, :2] + half], axis=1)

    def initiate(self, xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xywh = np.asarray(xywh, dtype=np.float64).reshape(-1, NDIM)
        mean = np.concatenate([xywh, np.zeros_like(xywh)], axis=1)
        wh = np.tile(xywh[:, 2:], 2)
        std = np.concatenate([2 * self.std_position * wh, 10 * self.std_velocity * wh], axis=1)
        return mean, _diag(std**2)

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wh = np.tile(mean[:, 2:4], 2)
        std = np.concatenate([self.std_position * wh, self.std_velocity * wh], axis=1)
        return mean @ _MOTION.T, _MOTION @ cov @ _MOTION.T + _diag(std**2)

    def project(
        self, mean: np.ndarray, cov: np.ndarray, noise_scale: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        std = self.std_position * np.tile(mean[:, 2:4], 2)
        return mean[:, :NDIM], cov[:, :NDIM, :NDIM] + _scaled(_diag(std**2), noise_scale)


def _scaled(noise: np.ndarray, scale: np.ndarray | None) -> np.ndarray:
    """(N, D, D) noise covariances, each times its ``scale`` (N,) when given."""
    return noise if scale is None else noise * np.asarray(scale, np.float64)[:, None, None]


def _diag(values: np.ndarray) -> np.ndarray:
    """(N, D) -> (N, D, D) diagonal matrices."""
    out = np.zeros((*values.shape, values.shape[-1]))
    idx = np.arange(values.shape[-1])
    out[:, idx, idx] = values
    return out
