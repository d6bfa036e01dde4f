"""The seed's ReID checkpoints: an ``opts.yaml`` of the vehicle_reid training code plus ``net_N.pth``.

``opts.yaml`` keys read: ``model`` (``resnet``, ``resnet_ibn``, ``densenet``, ``efficientnet``,
``hr``, ``swin``; missing means ``resnet_ibn``, as in the training code), ``model_subtype``
(ResNet depth 50/101/152, EfficientNet b0-b7; ``default`` is 50 and b4), ``nclasses``,
``linear_num`` (the feature size; 0 means the backbone's), ``stride`` (ResNet's last stride)
and ``droprate`` (inactive at inference). The state dict holds the backbone under ``model.``
and the head under ``classifier.``: ``classifier.add_block`` (Linear to ``linear_num``, then
BatchNorm1d) and ``classifier.classifier`` (the identity classes of training).

The feature is the ``add_block`` output; the identity classifier and the backbone's ImageNet
head are dropped, every other weight must be present with its shape (the first mismatched key is
named otherwise). ``hr`` (HRNet-W18) and ``swin`` (Swin-B) come from timm when it is installed;
their key names follow the installed timm version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reid.backbones import EFFICIENTNET_PARAMS, RESNET_DEPTHS, DenseNet121, EfficientNet, ResNet

MODELS = ("resnet", "resnet_ibn", "densenet", "efficientnet", "hr", "swin")
TIMM_MODELS = {"hr": ("hrnet_w18", 2048), "swin": ("swin_base_patch4_window7_224", 1024)}
# Weights a checkpoint may hold that the feature never uses: the identity classifier of training
# and the ImageNet heads of the backbones.
DROPPED_PREFIXES = ("classifier.classifier.", "model.fc.", "model.classifier.", "model._fc.", "model.head.")
INPUT_SIZE = (224, 224)  # what the training code resizes every crop to


@dataclass(frozen=True)
class ReidOpts:
    """The architecture part of a vehicle_reid ``opts.yaml``."""

    model: str = "resnet_ibn"
    subtype: str = "default"
    nclasses: int = 0
    linear_num: int = 512
    stride: int = 2

    @classmethod
    def from_mapping(cls, opts: Mapping[str, Any], source: str) -> ReidOpts:
        model = str(opts.get("model", "resnet_ibn"))
        if model not in MODELS:
            raise ValueError(f"{source}: model '{model}' is not supported; supported: {', '.join(MODELS)}")
        try:
            parsed = cls(
                model,
                str(opts.get("model_subtype", "default")),
                int(opts.get("nclasses", 0)),
                int(opts.get("linear_num", 512)),
                int(opts.get("stride", 2)),
            )
        except (TypeError, ValueError) as err:
            raise ValueError(f"{source}: nclasses, linear_num and stride must be integers ({err})") from err
        if parsed.linear_num < 0 or parsed.stride not in (1, 2):
            raise ValueError(f"{source}: expected linear_num >= 0 and stride 1 or 2, got {opts}")
        return parsed


def is_vehicle_reid_opts(opts: Mapping[str, Any]) -> bool:
    """Whether an opts mapping comes from the vehicle_reid training code (it always has these)."""
    return "nclasses" in opts or "linear_num" in opts


class ClassBlock(nn.Module):
    """The training code's head: ``add_block`` (Linear + BatchNorm1d) gives the feature."""

    def __init__(self, input_dim: int, nclasses: int, linear: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Linear(input_dim, linear)] if linear > 0 else []
        self.add_block = nn.Sequential(*blocks, nn.BatchNorm1d(linear or input_dim))
        self.classifier = nn.Sequential(nn.Linear(linear or input_dim, max(nclasses, 1)))


class VehicleReidNet(nn.Module):
    """Backbone (``model``) + pooling + ``classifier.add_block``: crops (N, 3, H, W) -> (N, D)."""

    def __init__(self, backbone: nn.Module, pool: Callable[[Any], Any], dim: int, opts: ReidOpts) -> None:
        super().__init__()
        self.model = backbone
        self.pool = pool
        self.classifier = ClassBlock(dim, opts.nclasses, opts.linear_num)
        self.feature_dim = opts.linear_num or dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier.add_block(self.pool(x))


def _subtype(opts: ReidOpts, default: str, choices: Mapping[str, Any], source: str) -> str:
    subtype = default if opts.subtype == "default" else opts.subtype
    if subtype not in choices:
        raise ValueError(
            f"{source}: model_subtype '{opts.subtype}' of {opts.model} is not one of {', '.join(choices)}"
        )
    return subtype


def build_network(opts: ReidOpts, source: str = "opts.yaml") -> VehicleReidNet:
    """The training-layout network for ``opts`` (random weights)."""
    if opts.model in ("resnet", "resnet_ibn"):
        depth = _subtype(opts, "50", RESNET_DEPTHS, source)
        if opts.model == "resnet_ibn" and depth == "152":
            raise ValueError(f"{source}: the training code has no IBN variant of ResNet-152")
        resnet = ResNet(depth, opts.model == "resnet_ibn", opts.stride)
        return VehicleReidNet(resnet, resnet.pooled, resnet.feature_dim, opts)
    if opts.model == "densenet":
        dense = DenseNet121()
        return VehicleReidNet(dense, dense.pooled, dense.feature_dim, opts)
    if opts.model == "efficientnet":
        effnet = EfficientNet(_subtype(opts, "b4", EFFICIENTNET_PARAMS, source))
        return VehicleReidNet(effnet, effnet.pooled, effnet.feature_dim, opts)
    return _timm_network(opts, source)


def _timm_network(opts: ReidOpts, source: str) -> VehicleReidNet:
    from models.runtime import import_backend

    timm = import_backend("timm", "timm")
    name, dim = TIMM_MODELS[opts.model]
    net = timm.create_model(name, pretrained=False)
    if opts.model == "hr":
        net.classifier = nn.Sequential()
    else:
        net.head = nn.Sequential()

    def pool(x: torch.Tensor) -> torch.Tensor:
        f = net.forward_features(x)
        if f.dim() == 3:  # tokens (N, L, C)
            return f.mean(dim=1)
        if opts.model == "swin":  # timm >= 0.9 gives (N, H, W, C)
            return f.mean(dim=(1, 2))
        return f.mean(dim=(2, 3))

    return VehicleReidNet(net, pool, dim, opts)


def first_mismatch(expected: Mapping[str, torch.Tensor], state: Mapping[str, Any]) -> str | None:
    """The first difference between the network's and the checkpoint's weights, in network order."""
    kept = {k: v for k, v in state.items() if not k.startswith(DROPPED_PREFIXES)}
    missing = [k for k in expected if k not in kept]
    shapes = [k for k in expected if k in kept and tuple(kept[k].shape) != tuple(expected[k].shape)]
    unexpected = [k for k in kept if k not in expected]
    summary = f"{len(missing)} missing, {len(shapes)} of another shape, {len(unexpected)} unexpected"
    for key in expected:
        if key in missing:
            return f"first mismatched key '{key}' is missing from the checkpoint ({summary})"
        if key in shapes:
            return (
                f"first mismatched key '{key}' has shape {list(kept[key].shape)} in the checkpoint, "
                f"the network needs {list(expected[key].shape)} ({summary})"
            )
    if unexpected:
        return f"first mismatched key '{unexpected[0]}' is not part of the network ({summary})"
    return None


def load_network(opts_mapping: Mapping[str, Any], opts_path: Path, ckpt_path: Path) -> VehicleReidNet:
    """The feature network of a vehicle_reid checkpoint, weights loaded strictly, in eval mode."""
    opts = ReidOpts.from_mapping(opts_mapping, str(opts_path))
    net = build_network(opts, str(opts_path))
    state = torch.load(str(ckpt_path), map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ValueError(
            f"{ckpt_path}: expected a state dict (a mapping of weights), got {type(state).__name__}"
        )
    state = state.get("state_dict", state) if isinstance(state.get("state_dict"), Mapping) else state
    state = {k.removeprefix("module."): v for k, v in state.items()}
    expected = {k: v for k, v in net.state_dict().items() if not k.startswith(DROPPED_PREFIXES)}
    if problem := first_mismatch(expected, state):
        raise ValueError(f"{ckpt_path}: weights do not fit {_describe(opts)} from {opts_path}: {problem}")
    net.load_state_dict({k: state[k] for k in expected}, strict=False)
    net.classifier.classifier = nn.Sequential()  # the identity classes of training
    return net.eval()


def _describe(opts: ReidOpts) -> str:
    return f"model '{opts.model}' (subtype {opts.subtype}, linear_num {opts.linear_num})"
