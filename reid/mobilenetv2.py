"""MobileNetV2 feature network in plain torch, matching the ``features.*`` checkpoint layout.

Blocks follow Sandler et al. 2018 (width 1.0): a stride-2 stem, 17 inverted residual
blocks, a 1x1 conv to 1280 channels, then global average pooling gives the embedding.
Inverted residual ``conv`` indices: 0 pointwise expand, 1 BN, 3 depthwise, 4 BN, 6 pointwise
project, 7 BN (expansion 1 drops the expand step: 0 depthwise, 1 BN, 3 project, 4 BN).
"""

from __future__ import annotations

import torch
from torch import nn

# (expansion t, output channels c, repeats n, first stride s)
SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _conv_bn(
    inp: int, out: int, kernel: int, stride: int, groups: int = 1, relu: bool = True
) -> list[nn.Module]:
    layers: list[nn.Module] = [
        nn.Conv2d(inp, out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out),
    ]
    return [*layers, nn.ReLU6(inplace=True)] if relu else layers


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, out: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = inp * expansion
        self.use_residual = stride == 1 and inp == out
        expand = _conv_bn(inp, hidden, 1, 1) if expansion != 1 else []
        self.conv = nn.Sequential(
            *expand,
            *_conv_bn(hidden, hidden, 3, stride, groups=hidden),
            *_conv_bn(hidden, out, 1, 1, relu=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2Features(nn.Module):
    """Images (N, 3, H, W), ImageNet-normalised RGB -> (N, 1280) pooled features (not normalised)."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Sequential(*_conv_bn(3, 32, 3, 2))]
        channels = 32
        for expansion, out, repeats, stride in SETTINGS:
            for i in range(repeats):
                layers.append(InvertedResidual(channels, out, stride if i == 0 else 1, expansion))
                channels = out
        layers.append(nn.Sequential(*_conv_bn(channels, 1280, 1, 1)))
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).mean(dim=(2, 3))
