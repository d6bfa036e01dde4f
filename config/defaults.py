"""Every configuration key: its default, what it accepts and what it means.

The schema (the keys of ``config.keys_runs``, ``config.keys_detection`` and
``config.keys_tracking``, in that order) is the single source of truth: ``get_cfg_defaults()`` builds the
yacs tree from it, ``config.verify_config`` checks values against it, and the
The configuration reference in docs/configuration.md is generated from it (``tools/config_reference.py``).

Path kinds (``path=``) say how a relative path is resolved by ``config.loader``:

* ``input``: relative to the directory of the YAML file that set it (CLI overrides:
  relative to the working directory). Must exist when its stage runs.
* ``model``: like ``input`` if such a file exists, otherwise a model *name* looked up
  by ``models.registry.resolve_model`` (``models/``, ``$VEHICLE_MTMC_MODELS``,
  ``../shared/models``).
* ``video``: like ``input``, but URLs (``rtsp://``, ``http://``, ...) are kept as they are.
* ``output``: relative to the working directory, created on demand.
"""

from __future__ import annotations

from typing import Any

from yacs.config import CfgNode

from config import checks as ck
from config.key import (  # re-exported: the schema's types and choices are used with it
    COCO_VEHICLES,
    OPENVINO_HINTS,
    ORT_EXECUTION_MODES,
    ORT_GRAPH_OPTIMIZATIONS,
    Key,
    PathKind,
)
from config.keys_detection import DETECTION_KEYS
from config.keys_runs import RUN_KEYS, SYSTEM_KEYS
from config.keys_tracking import TRACKING_KEYS

__all__ = [
    "CAMERA_ONLY_KEYS",
    "COCO_VEHICLES",
    "OPENVINO_HINTS",
    "ORT_EXECUTION_MODES",
    "ORT_GRAPH_OPTIMIZATIONS",
    "SCHEMA",
    "SCHEMA_BY_NAME",
    "Key",
    "PathKind",
    "get_cfg_defaults",
]

SCHEMA: tuple[Key, ...] = (*SYSTEM_KEYS, *DETECTION_KEYS, *TRACKING_KEYS, *RUN_KEYS)

SCHEMA_BY_NAME: dict[str, Key] = {k.name: k for k in SCHEMA}

# Keys a camera entry may set besides the MOT overrides.
CAMERA_ONLY_KEYS = {"name": ck.is_str()}


def get_cfg_defaults() -> CfgNode:
    """A fresh, mutable yacs tree holding every default."""
    root = CfgNode()
    for key in SCHEMA:
        *parents, leaf = key.name.split(".")
        node = root
        for part in parents:
            if part not in node:
                node[part] = CfgNode()
            node = node[part]
        node[leaf] = _copy(key.default)
    return root


def _copy(value: Any) -> Any:
    return [_copy(v) for v in value] if isinstance(value, list) else value
