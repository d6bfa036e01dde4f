"""Camera names and views: one camera's MOT keys with its express entry's overrides applied, and
the camera names of saved tracklet files.

Both the loader's validation (``config.verify_config``) and the runners need these, so they
live apart from the loader: the loader imports the validator, never the other way round.

A tracklet file written by this program records its camera's name (``info.camera`` of the
canonical ``.npz`` metadata); otherwise the name comes from where the file lies:
``.../0_north/mot.npz`` is camera ``north``, ``north.csv`` is camera ``north``. So a layout file
may name cameras in an MTMC-only run too.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

from yacs.config import CfgNode

from config.defaults import CAMERA_ONLY_KEYS
from config.detector_defaults import apply_detector_defaults, explicit_keys
from config.npz_safe import read_members
from config.paths import safe_name
from config.reid_defaults import apply_reid_defaults

RESULT_STEMS = ("mot", "mtmc", "live")


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


def name_from_path(path: str | Path) -> str:
    """``north`` for ``.../0_north/mot.npz`` or ``.../north.csv``."""
    p = Path(path)
    name = p.parent.name if p.stem in RESULT_STEMS else p.stem
    return re.sub(r"^[0-9]+_", "", name)


def recorded_name(path: str | Path) -> str | None:
    """The camera name in a canonical file's metadata, None when there is none (or no readable file)."""
    if Path(path).suffix.lower() != ".npz":
        return None
    try:
        meta = read_members(path, ["meta"]).get("meta")
        info = json.loads(meta.tobytes().decode("utf-8")).get("info", {}) if meta is not None else {}
    except (OSError, ValueError, RecursionError, zipfile.BadZipFile, AttributeError):
        return None
    name = info.get("camera") if isinstance(info, dict) else None
    return str(name) if name else None


def tracklet_camera_names(files: Sequence[str | Path]) -> list[str] | None:
    """One name per file (recorded, else from its path); None when they are not distinct."""
    names = [recorded_name(f) or name_from_path(f) for f in files]
    return names if len(set(names)) == len(names) and all(names) else None
