"""Which ReID model a run uses when the config does not say, and its input convention.

Rule (docs/reid.md, "Which model is used"), for the backends that read ``MOT.REID_ONNX`` (ONNX Runtime,
OpenVINO): when it is not set by the user's config
file or command line, a vehicle ReID model downloaded by ``mtmc-download-models`` (a manifest entry
with ``prefer_when_present``, found with its manifest size in ``models/`` or a ``$VEHICLE_MTMC_MODELS``
directory) is used instead of the shipped default: a network trained for vehicles beats generic
features. Otherwise the schema default is used. Whichever model is chosen (or set by the user), its
manifest ``recommended`` input convention (``MOT.REID_INPUT_SIZE``, ``MOT.REID_CHANNEL_ORDER``,
``MOT.REID_MEAN``, ``MOT.REID_STD``) fills every such key the user left unset, so naming a model
is enough. ``reid_choice`` says what was chosen and why, for the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from yacs.config import CfgNode

from config.defaults import SCHEMA_BY_NAME
from models.registry import ModelEntry, downloaded_copy, load_manifest, manifest_entry

MODEL_KEY = "MOT.REID_ONNX"
CONVENTION_KEYS = ("MOT.REID_INPUT_SIZE", "MOT.REID_CHANNEL_ORDER", "MOT.REID_MEAN", "MOT.REID_STD")
ONNX_BACKENDS = ("onnxruntime", "openvino")  # the backends that load MOT.REID_ONNX
_CHOICE = "_reid_choice"  # attribute of the MOT node: why this model


def preferred_download() -> tuple[ModelEntry, Path] | None:
    """The first manifest ReID model marked ``prefer_when_present`` that has been downloaded."""
    for entry in load_manifest().values():
        if entry.role == "reid" and entry.prefer_when_present and (path := downloaded_copy(entry)):
            return entry, path
    return None


def _entry_of(model: Any) -> ModelEntry | None:
    if not isinstance(model, str) or not model:
        return None
    return manifest_entry(model) or manifest_entry(Path(model).name)


def apply_reid_defaults(cfg: CfgNode, explicit: Iterable[str]) -> None:
    """Choose ``cfg.MOT.REID_ONNX`` (not frozen) by the rule above and fill its unset convention keys."""
    explicit = frozenset(explicit)
    mot = cfg.MOT
    if mot.REID_BACKEND not in ONNX_BACKENDS:
        mot.__dict__[_CHOICE] = f"MOT.REID_BACKEND {mot.REID_BACKEND} does not use {MODEL_KEY}"
        return
    if MODEL_KEY in explicit:
        reason = "set in the config"
    elif found := preferred_download():
        entry, path = found
        mot.REID_ONNX = str(path)
        reason = (
            f"downloaded {entry.name} ({path}) is preferred over the shipped default "
            f"{SCHEMA_BY_NAME[MODEL_KEY].default}; set {MODEL_KEY} to choose another"
        )
    else:
        mot.REID_ONNX = SCHEMA_BY_NAME[MODEL_KEY].default
        reason = "the shipped default (no downloaded vehicle ReID model found)"
    entry = _entry_of(mot.REID_ONNX)
    if entry is not None and entry.licence.startswith("research"):
        reason += (
            f"; licence: {entry.licence}; set {MODEL_KEY} vehicle_reid_mnv2_vn2cam.onnx for the variant "
            "trained on open data only"
        )
    recommended = entry.recommended if entry is not None and entry.role == "reid" else {}
    for name in CONVENTION_KEYS:
        if name not in explicit:
            value = recommended.get(name, SCHEMA_BY_NAME[name].default)
            mot[name.split(".", 1)[1]] = list(value) if isinstance(value, list) else value
    mot.__dict__[_CHOICE] = reason


def reid_choice(mot: CfgNode) -> str:
    """Why ``mot.REID_ONNX`` is the model it is (empty for a config not built by the loader)."""
    return str(mot.__dict__.get(_CHOICE, ""))
