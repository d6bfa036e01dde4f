"""Camera names of saved tracklet files, so a layout file may name cameras in an MTMC-only run too.

A file written by this program records its camera's name (``info.camera`` of the canonical
``.npz`` metadata); otherwise the name comes from where the file lies: ``.../0_north/mot.npz``
is camera ``north``, ``north.csv`` is camera ``north``.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

from config.npz_safe import read_members

RESULT_STEMS = ("mot", "mtmc", "live")


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
