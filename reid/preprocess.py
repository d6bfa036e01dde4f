"""Vehicle crops to a normalised NCHW batch, vectorised after the per-crop resize."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def to_batch(
    crops: Sequence[np.ndarray],
    size_hw: Sequence[int],
    mean: Sequence[float],
    std: Sequence[float],
    channel_order: str = "rgb",
) -> np.ndarray:
    """BGR uint8 crops -> (N, 3, H, W) float32 in ``channel_order``, ``(x / 255 - mean) / std``.

    ``mean`` and ``std`` are per output channel (in ``channel_order``). Each output channel is
    written once from the matching BGR plane, straight into the NCHW buffer (no intermediate
    float copies).
    """
    if channel_order not in ("rgb", "bgr"):
        raise ValueError(f"channel order must be 'rgb' or 'bgr', got {channel_order!r}")
    height, width = int(size_hw[0]), int(size_hw[1])
    resized = np.empty((len(crops), height, width, 3), dtype=np.uint8)
    for i, crop in enumerate(crops):
        cv2.resize(crop, (width, height), dst=resized[i], interpolation=cv2.INTER_LINEAR)
    scale = 1.0 / (255.0 * np.asarray(std, np.float32))
    shift = np.asarray(mean, np.float32) / np.asarray(std, np.float32)
    batch = np.empty((len(crops), 3, height, width), dtype=np.float32)
    for channel in range(3):  # BGR input planes: RGB output reverses them
        source = channel if channel_order == "bgr" else 2 - channel
        np.multiply(resized[..., source], scale[channel], out=batch[:, channel], casting="unsafe")
        batch[:, channel] -= shift[channel]
    return batch
