"""ReID checkpoints in the original project's style: an ``opts.yaml`` naming the architecture, plus weights.

Two kinds of ``opts.yaml``:

* the vehicle_reid training code's (the seed's checkpoints: ``model``, ``model_subtype``,
  ``nclasses``, ``linear_num``, ``stride``, ``droprate``), loaded by ``reid.vehicle_reid``:
  ResNet 50/101/152 with or without IBN-a, DenseNet-121, EfficientNet b0-b7, and HRNet/Swin
  through timm;
* ``model: mobilenetv2`` (our MobileNetV2 feature network with global average pooling), with
  optionally ``input_size`` (an int or [height, width]); its checkpoint is a state dict (or a
  dict holding one under ``state_dict``/``model``) whose ``module.``/``model.`` prefixes are
  stripped.

Needs the ``torch`` extra.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from config.yaml_safe import read_yaml_file
from models.runtime import import_backend


def _architectures() -> dict[str, Callable[[], Any]]:
    from reid.mobilenetv2 import MobileNetV2Features

    return {"mobilenetv2": MobileNetV2Features}


class TorchRunner:
    """A torch module behind the ``ModelRunner`` interface (CPU, inference mode).

    ``threads`` > 0 sets torch's intra-op threads (``SYSTEM.NUM_THREADS``; process-wide in torch).
    """

    def __init__(
        self, module: Any, input_size: tuple[int, int], fp16: bool = False, threads: int = 0
    ) -> None:
        self.torch = import_backend("torch", "torch")
        if threads > 0:
            self.torch.set_num_threads(threads)
        self.module = module.eval()
        self.input_shape = (None, 3, *input_size)
        with self.torch.inference_mode():
            dim = module(self.torch.zeros(1, 3, *input_size)).shape[1]
        self.output_shapes = [(None, int(dim))]
        self.output_names = ["feat"]
        self.metadata: dict[str, str] = {}

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        with self.torch.inference_mode():
            return [self.module(self.torch.from_numpy(np.ascontiguousarray(batch, np.float32))).numpy()]


def read_opts(path: str | Path) -> dict[str, Any]:
    opts = read_yaml_file(path) or {}
    if not isinstance(opts, dict) or not ("model" in opts or "nclasses" in opts):
        raise ValueError(f"{path}: expected a mapping with a 'model' key naming the architecture")
    opts.setdefault("model", "resnet_ibn")  # what the vehicle_reid training code assumes
    return opts


def input_size_from_opts(opts: dict[str, Any], default: tuple[int, int]) -> tuple[int, int]:
    size = opts.get("input_size")
    if size is None:
        return default
    return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))


def load_checkpoint_module(opts_path: str | Path, ckpt_path: str | Path) -> Any:
    """Build the architecture named in ``opts_path`` and load ``ckpt_path`` into it (strict)."""
    torch = import_backend("torch", "torch")
    opts = read_opts(opts_path)
    from reid.vehicle_reid import MODELS, is_vehicle_reid_opts, load_network

    if is_vehicle_reid_opts(opts) or str(opts["model"]) in MODELS:
        return load_network(opts, Path(opts_path), Path(ckpt_path))
    builders = _architectures()
    name = str(opts["model"]).lower()
    if name not in builders:
        raise ValueError(
            f"{opts_path}: architecture '{opts['model']}' is not supported; supported: "
            f"{', '.join([*builders, *MODELS])}"
        )
    module = builders[name]()
    state = torch.load(str(ckpt_path), map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    state = {_strip_prefix(k): v for k, v in state.items()}
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{ckpt_path}: weights do not fit the '{name}' architecture ({err})") from err
    return module.eval()


def _strip_prefix(key: str) -> str:
    for prefix in ("module.", "model."):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key
