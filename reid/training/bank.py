"""A bank of frozen-trunk feature maps of pre-augmented views: training steps that skip the trunk.

The frozen stages of ``ReidNet`` (ImageNet weights, eval-mode BatchNorm) give the same output for the
same input on every step, and they cost most of a step's arithmetic. So each crop is augmented
``views`` times once (pad-and-crop, flip, colour jitter, random erasing: ``reid.training.augment``),
the frozen stages run once per view, and their maps are kept in memory as float16. A step then draws
one random view of each crop of its P x K batch and only runs (and back-propagates through) the
trainable stages. A finite sample of augmentations replaces fresh ones; random erasing can also be
applied to the cached map at every step (``map_erase``), which the bank cannot fix in advance.

The trunk runs in ONNX Runtime, exported once from the frozen stages: on a CPU it runs MobileNetV2's
depthwise stages about 5x faster than eager torch (64 crops at 224 x 224 through stages 0-7: 0.22 s
against 1.2 s on one thread), with the same maps to float32 rounding.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.runtime import open_runner
from reid.onnx_exporter import export_onnx
from reid.training.augment import Augment, training_batch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureBank:
    """``maps[i, v]``: the frozen trunk's (C, h, w) output for view ``v`` of crop ``i`` (float16)."""

    maps: torch.Tensor

    @property
    def views(self) -> int:
        return int(self.maps.shape[1])

    def batch(self, rows: np.ndarray, rng: np.random.Generator, map_erase: float = 0.0) -> torch.Tensor:
        """float32 (len(rows), C, h, w): one random view of each row's crop, optionally erased."""
        picked = self.maps[torch.from_numpy(rows), torch.from_numpy(rng.integers(0, self.views, len(rows)))]
        maps = picked.float()
        if map_erase > 0:
            erase_maps(maps, map_erase, rng)
        return maps


def build_bank(
    trunk: nn.Module,
    crops: np.ndarray,
    views: int,
    aug: Augment,
    rng: np.random.Generator,
    chunk: int = 64,
) -> FeatureBank:
    """Run ``trunk`` (eval mode, no gradients) on ``views`` augmented copies of every crop (N, H, W, 3)."""
    if views < 1:
        raise ValueError(f"a feature bank needs at least one view per crop, got {views}")
    run = frozen_runner(trunk, crops.shape[1:3])
    maps: torch.Tensor | None = None
    jobs = [(i, v) for v in range(views) for i in range(len(crops))]
    with torch.inference_mode():
        for start in range(0, len(jobs), chunk):
            part = jobs[start : start + chunk]
            batch = training_batch([crops[i] for i, _ in part], aug, rng)
            out = torch.from_numpy(run(batch)).to(torch.float16)
            if maps is None:
                maps = torch.empty((len(crops), views, *out.shape[1:]), dtype=torch.float16)
                log.info("feature bank: %d crops x %d views of %s (%.0f MB)", len(crops), views,
                         tuple(out.shape[1:]), maps.numel() * 2 / 1e6)  # fmt: skip
            index = torch.tensor(part)
            maps[index[:, 0], index[:, 1]] = out
            if part[-1][1] != part[0][1] or start + chunk >= len(jobs):
                log.info("feature bank: view %d of %d done", part[0][1] + 1, views)
    assert maps is not None, "no crops to bank"
    return FeatureBank(maps)


def frozen_runner(trunk: nn.Module, input_hw: tuple[int, int]) -> Callable[[np.ndarray], np.ndarray]:
    """``trunk`` (eval mode) as an ONNX Runtime session with torch's thread count: (N, 3, H, W) float32
    images -> its (N, C, h, w) maps."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trunk.onnx"
        export_onnx(trunk.eval(), path, tuple(input_hw))
        runner = open_runner(path, "onnxruntime", threads=torch.get_num_threads())
    return lambda batch: runner.run(batch)[0]


def erase_maps(maps: torch.Tensor, p: float, rng: np.random.Generator) -> torch.Tensor:
    """Zero a random rectangle (2-30 % of the area, aspect 0.3-3.3) of each map with probability ``p``."""
    _, _, h, w = maps.shape
    for m in maps:
        if rng.random() >= p:
            continue
        area = rng.uniform(0.02, 0.3) * h * w
        aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3)))
        eh = min(h - 1, max(1, round(float(np.sqrt(area * aspect)))))
        ew = min(w - 1, max(1, round(float(np.sqrt(area / aspect)))))
        y, x = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
        m[:, y : y + eh, x : x + ew] = 0.0
    return maps
