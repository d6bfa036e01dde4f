"""Input conventions of ReID models (size, channel order, mean/std), checked against the model.

A crop is fed as ``(pixel / 255 - mean) / std`` per channel, in the model's channel order
(config ``MOT.REID_INPUT_SIZE``, ``MOT.REID_CHANNEL_ORDER``, ``MOT.REID_MEAN``,
``MOT.REID_STD``). A wrong convention gives plausible-looking but poor features, so whatever the
model itself tells is compared with the config before the run:

* a fixed input height/width and the channel count of the model's input shape;
* ONNX metadata ``vehicle_mtmc.input`` (JSON with ``channel_order``, ``mean``, ``std``,
  ``size``), which ``reid/onnx_exporter.py`` writes;
* the documented conventions of known model families: the Open Model Zoo IR
  ``vehicle-reid-0001`` takes BGR pixels in 0..255 (mean 0, std 1/255: normalisation is in
  the IR) at 208 x 208, and its ONNX original ``osnet_ain_x1_0_vehicle_reid.onnx`` RGB pixels in
  0..255 at 208 x 208 (Open Model Zoo ``model.yml`` converts it with no mean/scale, its accuracy
  check feeds plain resized pixels); other OSNet exports (torchreid, a file name containing
  ``osnet``) take RGB with ImageNet mean/std; the vehicle_reid checkpoints take RGB with ImageNet
  mean/std.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RAW_PIXELS_MEAN = (0.0, 0.0, 0.0)
RAW_PIXELS_STD = (1 / 255, 1 / 255, 1 / 255)
CHANNEL_ORDERS = ("rgb", "bgr")
METADATA_KEY = "vehicle_mtmc.input"

# (file-name pattern, suffix, what the model family's documentation says)
KNOWN_FAMILIES: tuple[tuple[re.Pattern[str], str, dict[str, Any]], ...] = (
    (
        re.compile(r"^vehicle-reid-0001"),
        ".xml",
        {"channel_order": "bgr", "mean": RAW_PIXELS_MEAN, "std": RAW_PIXELS_STD, "size": (208, 208)},
    ),
    (
        re.compile(r"osnet", re.IGNORECASE),
        ".onnx",
        {"channel_order": "rgb", "mean": IMAGENET_MEAN, "std": IMAGENET_STD},
    ),
    (  # after the generic OSNet row, so it wins: the Open Model Zoo export normalises inside the graph
        re.compile(r"^osnet_ain_x1_0_vehicle_reid"),
        ".onnx",
        {"channel_order": "rgb", "mean": RAW_PIXELS_MEAN, "std": RAW_PIXELS_STD, "size": (208, 208)},
    ),
)
VEHICLE_REID = {"channel_order": "rgb", "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
CONFIG_KEYS = {
    "size": "MOT.REID_INPUT_SIZE",
    "channel_order": "MOT.REID_CHANNEL_ORDER",
    "mean": "MOT.REID_MEAN",
    "std": "MOT.REID_STD",
}


@dataclass(frozen=True)
class InputConvention:
    """How crops are turned into the model's input."""

    size: tuple[int, int]
    channel_order: str = "rgb"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def as_dict(self) -> dict[str, Any]:
        return {
            "size": list(self.size),
            "channel_order": self.channel_order,
            "mean": list(self.mean),
            "std": list(self.std),
        }


def declared_convention(
    path: Path | None, input_shape: Sequence[int | None], metadata: Mapping[str, str]
) -> dict[str, Any]:
    """What the model file says about its input (only the parts it says)."""
    declared: dict[str, Any] = {}
    if path is not None:
        for pattern, suffix, convention in KNOWN_FAMILIES:
            if path.suffix == suffix and pattern.search(path.stem):
                declared.update(convention)
    if METADATA_KEY in metadata:
        try:
            declared.update(json.loads(metadata[METADATA_KEY]))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: metadata {METADATA_KEY} is not JSON ({err})") from err
    if len(input_shape) != 4 or input_shape[1] not in (None, 3):
        raise ValueError(
            f"{path}: expected an N x 3 x H x W image input, the model takes {list(input_shape)}"
        )
    if isinstance(input_shape[2], int) and isinstance(input_shape[3], int):
        declared["size"] = (input_shape[2], input_shape[3])
    return declared


def convention_problems(configured: InputConvention, declared: Mapping[str, Any], model: str) -> list[str]:
    """One line per config key that disagrees with what the model declares."""
    problems = []
    for field, key in CONFIG_KEYS.items():
        if field not in declared:
            continue
        want, have = declared[field], getattr(configured, field)
        if field == "channel_order":
            same = str(want).lower() == have
        elif field == "size":
            same = [int(v) for v in want] == list(have)
        else:
            same = all(
                abs(float(w) - h) <= 1e-3 * max(abs(float(w)), 1e-3) + 1e-6
                for w, h in zip(want, have, strict=True)
            )
        if not same:
            problems.append(f"{key}: {model} takes {_shown(want)}, the config gives {_shown(have)}")
    return problems


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return str([round(float(v), 6) if isinstance(v, float) else int(v) for v in value])


def check_convention(configured: InputConvention, declared: Mapping[str, Any], model: str) -> None:
    """Raise ``ValueError`` listing every config key that does not fit the model."""
    if problems := convention_problems(configured, declared, model):
        raise ValueError("ReID input convention does not fit the model:\n  " + "\n  ".join(problems))
