"""Detector-aware defaults: the values measured for the chosen detector, unless the user set them.

The right score floor, ByteTrack thresholds and NMS IoU follow the detector (a YOLOv8 scores
the same car lower than YOLOX, an SSD vehicle model higher), so each detector of
``models/manifest.json`` carries ``recommended`` values for the keys in ``TUNABLE_KEYS``.
For every such key the user's config file or command line does not set, the value is the
detector's recommendation, or the schema default when the detector has none. Which keys the
user set is recorded on the config (``explicit_keys``) by ``config.loader``; ``value_sources``
says for each tunable key where its value came from (for plan.json and the log).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from yacs.config import CfgNode

from config.defaults import SCHEMA_BY_NAME
from models.registry import ModelEntry, manifest_entry

TUNABLE_KEYS = (
    "MOT.DETECTION_CONF_THRESH",
    "MOT.DETECTION_NMS_IOU",
    "MOT.DETECTOR_INPUT_SIZE",
    "MOT.BYTETRACK.TRACK_THRESH",
    "MOT.BYTETRACK.LOW_THRESH",
    "MOT.BYTETRACK.NEW_TRACK_THRESH",
)
_EXPLICIT = "_explicit_keys"  # attribute of the CfgNode (copied by clone and pickling)


def flat_keys(raw: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Dotted names of every leaf of a nested mapping (``{"MOT": {"X": 1}}`` -> ``{"MOT.X"}``)."""
    keys: set[str] = set()
    for name, value in raw.items():
        full = f"{prefix}{name}"
        if isinstance(value, Mapping) and full not in SCHEMA_BY_NAME:
            keys |= flat_keys(value, f"{full}.")
        else:
            keys.add(full)
    return keys


def mark_explicit(cfg: CfgNode, keys: Iterable[str]) -> None:
    """Record the user-set keys on the root and on its MOT node (runners pass ``cfg.MOT`` on)."""
    cfg.__dict__[_EXPLICIT] = frozenset(keys)
    if "MOT" in cfg:
        cfg.MOT.__dict__[_EXPLICIT] = cfg.__dict__[_EXPLICIT]


def explicit_keys(cfg: CfgNode) -> frozenset[str]:
    """Keys (full dotted names) the user's config file or overrides set; empty for a config not
    built by the loader. Works on the root and on its MOT node."""
    return cfg.__dict__.get(_EXPLICIT, frozenset())


def detector_entry(detector: str) -> ModelEntry | None:
    """The manifest entry of a detector given by name, file name or path (None for a value of
    the wrong type: validation reports it)."""
    if not isinstance(detector, str) or not detector:
        return None
    return manifest_entry(detector) or manifest_entry(Path(detector).name)


def recommended_values(detector: str) -> dict[str, Any]:
    entry = detector_entry(detector)
    if entry is None:
        return {}
    return {k: v for k, v in entry.recommended.items() if k in TUNABLE_KEYS}


def apply_detector_defaults(cfg: CfgNode, explicit: Iterable[str]) -> None:
    """Set every unset tunable key of ``cfg`` (not frozen) from ``cfg.MOT.DETECTOR``'s entry."""
    explicit = frozenset(explicit)
    recommended = recommended_values(cfg.MOT.DETECTOR)
    for name in TUNABLE_KEYS:
        if name in explicit:
            continue
        value = recommended.get(name, SCHEMA_BY_NAME[name].default)
        *parents, leaf = name.split(".")
        node = cfg
        for part in parents:
            node = node[part]
        node[leaf] = list(value) if isinstance(value, list) else value
    mark_explicit(cfg, explicit)


def value_sources(mot: CfgNode) -> dict[str, dict[str, Any]]:
    """For each tunable key of ``mot`` (a config's MOT node): its value and why it has it
    (``config``: the user set it; ``detector <name>``: the manifest's value; ``default``)."""
    explicit = explicit_keys(mot)
    entry = detector_entry(mot.DETECTOR)
    recommended = recommended_values(mot.DETECTOR)
    out = {}
    for name in TUNABLE_KEYS:
        node: Any = mot
        for part in name.split(".")[1:]:
            node = node[part]
        if name in explicit:
            source = "config"
        elif name in recommended and entry is not None:
            source = f"detector {entry.name} (models/manifest.json)"
        else:
            source = "default"
        out[name] = {"value": list(node) if isinstance(node, list) else node, "source": source}
    return out
