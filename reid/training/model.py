"""MobileNetV2 backbone (ImageNet weights) with a BNNeck embedding head (Luo et al. 2019, "Bag of Tricks").

Training sees the pooled feature (triplet loss) and the classifier's logits over the training
identities (ID loss) computed after a bias-free BatchNorm (the BNNeck); inference and the ONNX
export give the BatchNorm'd feature, compared by cosine. Only the last ``trainable_blocks`` of the
19 backbone stages (stem, 17 inverted residuals, last 1x1 conv) learn; earlier ones keep their
ImageNet weights and BatchNorm statistics, which is what makes a CPU run of minutes work.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from reid.mobilenetv2 import MobileNetV2Features

FEATURE_DIM = 1280
STAGES = 19


def load_backbone(weights: Path | None) -> MobileNetV2Features:
    """MobileNetV2 features with the ``features.*`` state dict of ``weights`` (strict), or random."""
    backbone = MobileNetV2Features()
    if weights is not None:
        state = torch.load(str(weights), map_location="cpu", weights_only=True)
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        backbone.load_state_dict({k.removeprefix("module."): v for k, v in state.items()}, strict=True)
    return backbone


class ReidNet(nn.Module):
    """Backbone + BNNeck + ID classifier; ``forward`` gives (pooled feature, logits)."""

    def __init__(self, backbone: MobileNetV2Features, num_classes: int, trainable_blocks: int = 5) -> None:
        super().__init__()
        if not 1 <= trainable_blocks <= STAGES:
            raise ValueError(f"trainable_blocks must be 1..{STAGES}, got {trainable_blocks}")
        self.backbone = backbone
        self.split = STAGES - trainable_blocks
        for stage in backbone.features[: self.split]:
            stage.requires_grad_(False)
        self.neck = nn.BatchNorm1d(FEATURE_DIM)
        self.neck.bias.requires_grad_(False)
        self.classifier = nn.Linear(FEATURE_DIM, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)

    def train(self, mode: bool = True) -> ReidNet:
        """Frozen stages stay in eval mode, so their BatchNorm statistics stay ImageNet's."""
        super().train(mode)
        for stage in self.backbone.features[: self.split]:
            stage.eval()
        return self

    @property
    def trunk(self) -> nn.Sequential:
        """The frozen stages: images -> the maps the trainable stages start from."""
        return self.backbone.features[: self.split]

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            x = self.trunk(x)
        return self.backbone.features[self.split :](x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.pooled(x))

    def forward_maps(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward`` from the frozen trunk's output (``reid.training.bank``) instead of images."""
        return self.head(self.backbone.features[self.split :](maps).mean(dim=(2, 3)))

    def head(self, feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return feature, self.classifier(self.neck(feature))


class Embedding(nn.Module):
    """The inference network: images (N, 3, H, W) -> BNNeck features (N, 1280), not normalised."""

    def __init__(self, backbone: MobileNetV2Features, neck: nn.BatchNorm1d) -> None:
        super().__init__()
        self.backbone, self.neck = backbone, neck

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neck(self.backbone(x))


def embedding_of(net: ReidNet) -> Embedding:
    return Embedding(net.backbone, net.neck).eval()
