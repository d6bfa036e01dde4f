"""Crop augmentation for ReID training: pad-and-crop, horizontal flip, colour jitter, random erasing.

Works on uint8 BGR crops already resized to the input size; returns float32 CHW normalised as the
exported model expects (RGB, ImageNet mean/std: ``reid.conventions``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reid.conventions import IMAGENET_MEAN, IMAGENET_STD

MEAN = np.asarray(IMAGENET_MEAN, np.float32)
STD = np.asarray(IMAGENET_STD, np.float32)


@dataclass(frozen=True)
class Augment:
    """Probabilities and strengths; ``Augment(enabled=False)`` only normalises."""

    enabled: bool = True
    pad: int = 10
    flip: float = 0.5
    jitter: float = 0.2  # brightness/contrast/saturation change, fraction
    jitter_p: float = 0.8
    erase: float = 0.5
    erase_area: tuple[float, float] = (0.02, 0.3)
    downscale: float = 0.0  # probability of a low-resolution copy (down, then back up)
    downscale_range: tuple[float, float] = (0.25, 1.0)  # its scale factor


def resize(crop: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    return cv2.resize(crop, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_LINEAR)


def normalise(crops: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 BGR -> (N, 3, H, W) float32 RGB, ImageNet mean/std."""
    rgb = crops[..., ::-1].astype(np.float32) / 255.0
    return np.ascontiguousarray(((rgb - MEAN) / STD).transpose(0, 3, 1, 2))


def augment_crop(crop: np.ndarray, aug: Augment, rng: np.random.Generator) -> np.ndarray:
    """One uint8 BGR crop (H, W, 3) -> an augmented uint8 crop of the same size (no erasing yet)."""
    if not aug.enabled:
        return crop
    h, w = crop.shape[:2]
    if aug.downscale > 0 and rng.random() < aug.downscale:
        crop = _low_resolution(crop, rng.uniform(*aug.downscale_range))
    if aug.pad:
        padded = cv2.copyMakeBorder(crop, aug.pad, aug.pad, aug.pad, aug.pad, cv2.BORDER_CONSTANT)
        y, x = rng.integers(0, 2 * aug.pad + 1, size=2)
        crop = padded[y : y + h, x : x + w]
    if rng.random() < aug.flip:
        crop = crop[:, ::-1]
    if rng.random() < aug.jitter_p:
        crop = _jitter(crop, aug.jitter, rng)
    return np.ascontiguousarray(crop)


def _low_resolution(crop: np.ndarray, factor: float) -> np.ndarray:
    """The crop as a camera ``factor`` times farther away sees it: fewer pixels, upscaled back.

    Real cameras see one vehicle large in one view and small in another (vn2cam's train crops are a
    median 99 and 53 px wide in its two cameras), so the feature should not depend on resolution.
    """
    h, w = crop.shape[:2]
    small = cv2.resize(
        crop, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _jitter(crop: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    brightness, contrast, saturation = 1 + rng.uniform(-strength, strength, size=3)
    image = crop.astype(np.float32) * brightness
    image = (image - image.mean()) * contrast + image.mean()
    grey = image.mean(axis=2, keepdims=True)
    image = (image - grey) * saturation + grey
    return np.clip(image, 0, 255).astype(np.uint8)


def random_erase(batch: np.ndarray, aug: Augment, rng: np.random.Generator) -> np.ndarray:
    """Random erasing (Zhong et al. 2020) in place on a normalised (N, 3, H, W) batch."""
    if not aug.enabled:
        return batch
    _, _, h, w = batch.shape
    for image in batch:
        if rng.random() >= aug.erase:
            continue
        area = rng.uniform(*aug.erase_area) * h * w
        aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3)))
        eh, ew = round(float(np.sqrt(area * aspect))), round(float(np.sqrt(area / aspect)))
        if 0 < eh < h and 0 < ew < w:
            y, x = rng.integers(0, h - eh), rng.integers(0, w - ew)
            image[:, y : y + eh, x : x + ew] = rng.normal(size=(3, eh, ew))
    return batch


def training_batch(crops: list[np.ndarray], aug: Augment, rng: np.random.Generator) -> np.ndarray:
    """Resized uint8 crops -> augmented, normalised (N, 3, H, W) float32."""
    return random_erase(normalise(np.stack([augment_crop(c, aug, rng) for c in crops])), aug, rng)
