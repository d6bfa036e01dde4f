"""One camera's view of an express config: its name and its MOT keys with the entry's overrides applied.

Both the loader's validation (``config.verify_config``) and the runners need these, so they
live apart from the loader: the loader imports the validator, never the other way round.
"""

from __future__ import annotations

from pathlib import Path

from yacs.config import CfgNode

from config.defaults import CAMERA_ONLY_KEYS
from config.detector_defaults import apply_detector_defaults, explicit_keys
from config.paths import safe_name
from config.reid_defaults import apply_reid_defaults


def camera_config(cfg: CfgNode, index: int) -> CfgNode:
    """The config for camera ``index`` of EXPRESS.CAMERAS: MOT keys overridden by the entry."""
    entry = cfg.EXPRESS.CAMERAS[index]
    cam = cfg.clone()
    cam.defrost()
    for key, value in entry.items():
        if key in CAMERA_ONLY_KEYS:
            continue
        *parents, leaf = f"MOT.{key.upper()}".split(".")
        node = cam
        for part in parents:
            node = node[part]
        node[leaf] = value
    camera_keys = {f"MOT.{str(k).upper()}" for k in entry if k not in CAMERA_ONLY_KEYS}
    apply_detector_defaults(cam, explicit_keys(cfg) | camera_keys)
    apply_reid_defaults(cam, explicit_keys(cfg) | camera_keys)
    cam.freeze()
    return cam


def camera_name(cfg: CfgNode, index: int) -> str:
    """The camera's ``name``, or a safe name made from its video's stem when none is given."""
    entry = cfg.EXPRESS.CAMERAS[index]
    if entry.get("name"):
        return str(entry["name"])
    return safe_name(Path(str(entry.get("video", ""))).stem, f"cam{index}")
