"""Backbones of the vehicle_reid training code in plain torch, in the state-dict layouts it saves.

The seed's ReID checkpoints (``net_N.pth``) hold these networks under ``model.``; the names
here reproduce the libraries the training code built them with, so such a file loads strictly:

* ResNet 50/101/152: torchvision's layout (``conv1``, ``bn1``, ``layer1.0.conv1`` ...,
  ``fc``). IBN-a (Pan et al. 2018, the ``XingangPan/IBN-Net`` hub models): the first norm of
  every bottleneck in ``layer1``-``layer3`` is half InstanceNorm (``bn1.IN``), half
  BatchNorm (``bn1.BN``). A last stride of 1 (``stride: 1`` in opts.yaml) keeps layer4 at
  1/16 scale.
* DenseNet-121: torchvision's layout (``features.denseblock1.denselayer1.norm1`` ...). The
  training code pools straight after ``features.norm5`` (no ReLU, unlike torchvision's
  classifier path), and so do we.
* EfficientNet b0-b7: the ``efficientnet_pytorch`` layout (``_conv_stem``, ``_blocks.N``,
  ``_conv_head``, ``_fc``) with TensorFlow "same" padding fixed at construction for the
  variant's nominal image size, as ``EfficientNet.from_pretrained`` builds it, so features
  match that library also on the 224 x 224 crops the training code used.

Each backbone's ``pooled(x)`` maps (N, 3, H, W) to pooled (N, C) features; its ImageNet head
(``fc``, ``classifier``, ``_fc``) is kept only so that checkpoints load strictly.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

RESNET_DEPTHS = {"50": (3, 4, 6, 3), "101": (3, 4, 23, 3), "152": (3, 8, 36, 3)}
IMAGENET_CLASSES = 1000


class IBN(nn.Module):
    """Instance norm on the first half of the channels, batch norm on the rest."""

    def __init__(self, planes: int) -> None:
        super().__init__()
        self.half = planes // 2
        self.IN = nn.InstanceNorm2d(self.half, affine=True)
        self.BN = nn.BatchNorm2d(planes - self.half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = torch.split(x, [self.half, x.shape[1] - self.half], 1)
        return torch.cat((self.IN(first.contiguous()), self.BN(second.contiguous())), 1)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int, ibn: bool) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1: nn.Module = IBN(planes) if ibn else nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet (v1.5: stride on the 3x3 conv), optionally IBN-a; ``pooled`` gives (N, 2048)."""

    feature_dim = 2048

    def __init__(self, depth: str = "50", ibn: bool = False, last_stride: int = 2) -> None:
        super().__init__()
        if depth not in RESNET_DEPTHS:
            raise ValueError(f"ResNet depth {depth!r} is not one of {', '.join(RESNET_DEPTHS)}")
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for index, (planes, blocks) in enumerate(zip((64, 128, 256, 512), RESNET_DEPTHS[depth], strict=True)):
            stride = 1 if index == 0 else (last_stride if index == 3 else 2)
            layers = []
            for b in range(blocks):
                layers.append(Bottleneck(inplanes, planes, stride if b == 0 else 1, ibn and index < 3))
                inplanes = planes * Bottleneck.expansion
            setattr(self, f"layer{index + 1}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.feature_dim, IMAGENET_CLASSES)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


class DenseLayer(nn.Module):
    def __init__(self, inplanes: int, growth: int = 32, bottleneck: int = 4) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(inplanes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(inplanes, bottleneck * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bottleneck * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bottleneck * growth, growth, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseBlock(nn.ModuleDict):
    def __init__(self, layers: int, inplanes: int, growth: int = 32) -> None:
        super().__init__()
        for i in range(layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(inplanes + i * growth, growth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        outputs = [x]
        for layer in self.values():
            outputs.append(layer(torch.cat(outputs, 1)))
        return torch.cat(outputs, 1)


def _transition(inplanes: int, out: int) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(
            norm=nn.BatchNorm2d(inplanes),
            relu=nn.ReLU(inplace=True),
            conv=nn.Conv2d(inplanes, out, 1, bias=False),
            pool=nn.AvgPool2d(2, 2),
        )
    )


class DenseNet121(nn.Module):
    """DenseNet-121 (growth 32, blocks 6/12/24/16); ``features`` ends with the training code's pool."""

    feature_dim = 1024

    def __init__(self) -> None:
        super().__init__()
        stem = OrderedDict(
            conv0=nn.Conv2d(3, 64, 7, 2, 3, bias=False),
            norm0=nn.BatchNorm2d(64),
            relu0=nn.ReLU(inplace=True),
            pool0=nn.MaxPool2d(3, 2, 1),
        )
        self.features = nn.Sequential(stem)
        channels = 64
        for i, layers in enumerate((6, 12, 24, 16)):
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(layers, channels))
            channels += layers * 32
            if i < 3:
                self.features.add_module(f"transition{i + 1}", _transition(channels, channels // 2))
                channels //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.features.add_module("avgpool", nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Linear(channels, IMAGENET_CLASSES)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.features(x), 1)


# ---------------------------------------------------------------- EfficientNet (efficientnet_pytorch)


class StageArgs(NamedTuple):
    repeats: int
    kernel: int
    stride: int
    expand: int
    inp: int
    out: int


# The b0 stages; wider and deeper variants scale channels and repeats.
EFFICIENTNET_STAGES = (
    StageArgs(1, 3, 1, 1, 32, 16),
    StageArgs(2, 3, 2, 6, 16, 24),
    StageArgs(2, 5, 2, 6, 24, 40),
    StageArgs(3, 3, 2, 6, 40, 80),
    StageArgs(3, 5, 1, 6, 80, 112),
    StageArgs(4, 5, 2, 6, 112, 192),
    StageArgs(1, 3, 1, 6, 192, 320),
)
# variant: (width multiplier, depth multiplier, nominal image size)
EFFICIENTNET_PARAMS = {
    "b0": (1.0, 1.0, 224),
    "b1": (1.0, 1.1, 240),
    "b2": (1.1, 1.2, 260),
    "b3": (1.2, 1.4, 300),
    "b4": (1.4, 1.8, 380),
    "b5": (1.6, 2.2, 456),
    "b6": (1.8, 2.6, 528),
    "b7": (2.0, 3.1, 600),
}
SE_RATIO = 0.25
BN_EPS = 1e-3


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def round_repeats(repeats: int, depth: float) -> int:
    return math.ceil(depth * repeats)


class SamePadConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "same" padding computed once for a fixed input size."""

    def __init__(
        self,
        inp: int,
        out: int,
        kernel: int,
        image_size: int,
        stride: int = 1,
        groups: int = 1,
        bias: bool = False,
    ) -> None:
        super().__init__(inp, out, kernel, stride, groups=groups, bias=bias)
        pad = max((math.ceil(image_size / stride) - 1) * stride + kernel - image_size, 0)
        self.static_padding: nn.Module = (
            nn.ZeroPad2d((pad // 2, pad - pad // 2, pad // 2, pad - pad // 2)) if pad else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.static_padding(x))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, momentum=0.01, eps=BN_EPS)


class MBConvBlock(nn.Module):
    """Inverted residual with squeeze-excitation and swish (names as in efficientnet_pytorch)."""

    def __init__(self, inp: int, out: int, kernel: int, stride: int, expand: int, image_size: int) -> None:
        super().__init__()
        hidden = inp * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SamePadConv2d(inp, hidden, 1, image_size)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SamePadConv2d(hidden, hidden, kernel, image_size, stride, groups=hidden)
        self._bn1 = _bn(hidden)
        squeezed = max(1, int(inp * SE_RATIO))
        self._se_reduce = SamePadConv2d(hidden, squeezed, 1, 1, bias=True)
        self._se_expand = SamePadConv2d(squeezed, hidden, 1, 1, bias=True)
        self._project_conv = SamePadConv2d(hidden, out, 1, math.ceil(image_size / stride))
        self._bn2 = _bn(out)
        self.skip = stride == 1 and inp == out

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = F.silu(self._bn0(self._expand_conv(inputs))) if self.expand else inputs
        x = F.silu(self._bn1(self._depthwise_conv(x)))
        squeezed = self._se_expand(F.silu(self._se_reduce(F.adaptive_avg_pool2d(x, 1))))
        x = self._bn2(self._project_conv(torch.sigmoid(squeezed) * x))
        return x + inputs if self.skip else x


class EfficientNet(nn.Module):
    """EfficientNet b0-b7; ``extract_features`` is the last feature map, ``pooled`` its average."""

    def __init__(self, variant: str = "b0") -> None:
        super().__init__()
        if variant not in EFFICIENTNET_PARAMS:
            raise ValueError(
                f"EfficientNet variant {variant!r} is not one of {', '.join(EFFICIENTNET_PARAMS)}"
            )
        width, depth, size = EFFICIENTNET_PARAMS[variant]
        stem = round_filters(32, width)
        self._conv_stem = SamePadConv2d(3, stem, 3, size, stride=2)
        self._bn0 = _bn(stem)
        size = math.ceil(size / 2)
        blocks = []
        for stage in EFFICIENTNET_STAGES:
            inp, out = round_filters(stage.inp, width), round_filters(stage.out, width)
            for i in range(round_repeats(stage.repeats, depth)):
                stride = stage.stride if i == 0 else 1
                blocks.append(
                    MBConvBlock(inp if i == 0 else out, out, stage.kernel, stride, stage.expand, size)
                )
                size = math.ceil(size / stride)
        self._blocks = nn.ModuleList(blocks)
        self.feature_dim = round_filters(1280, width)
        self._conv_head = SamePadConv2d(round_filters(320, width), self.feature_dim, 1, size)
        self._bn1 = _bn(self.feature_dim)
        self._fc = nn.Linear(self.feature_dim, IMAGENET_CLASSES)

    def extract_features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.silu(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.silu(self._bn1(self._conv_head(x)))

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        return self.extract_features(x).mean(dim=(2, 3))
