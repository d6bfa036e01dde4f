"""What a camera's resume fingerprint covers besides its config text: file contents and the code version.

A config names models and inputs by path, so replacing ``reid.onnx`` (or an OpenVINO ``.bin``,
a zone mask, a calibration file) at the same path leaves the config text unchanged; a result
made with the old file must not be reused. Every file a camera's ``MOT`` config refers to (the
MOT keys declared as model or input paths in ``config.defaults`` and the attribute models; the
video is covered by ``mot.result_set.source_signature``) is hashed by content, with OpenVINO's
``.bin`` beside its ``.xml``. Hashes are cached by (path, size, modification time) in
``$VEHICLE_MTMC_CACHE/file_hashes.json`` (default ``~/.cache/vehicle_mtmc``), so a big model
is read once, not at every run. The code version (package version and a digest of the
pipeline's source files) is part of the key too: a fixed bug must not be resumed from.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from importlib import metadata
from pathlib import Path

from yacs.config import CfgNode

from config.defaults import SCHEMA
from config.paths import atomic_write_text
from models.registry import ModelNotFoundError, resolve_model

log = logging.getLogger(__name__)

CACHE_ENV = "VEHICLE_MTMC_CACHE"
REPO = Path(__file__).resolve().parents[1]
CODE_PACKAGES = ("config", "detection", "models", "reid", "mot")  # what decides a camera's tracklets


@functools.cache
def code_version() -> str:
    """The installed version and a digest of the pipeline's Python sources (read once per process)."""
    try:
        version = metadata.version("vehicle-mtmc")
    except metadata.PackageNotFoundError:
        version = "unknown"
    digest = hashlib.sha256()
    for path in sorted(p for pkg in CODE_PACKAGES for p in (REPO / pkg).rglob("*.py")):
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{version}+{digest.hexdigest()[:12]}"


def referenced_files(mot: CfgNode) -> list[Path]:
    """The existing files named by ``mot``'s model and input keys and attribute models, sorted."""
    found: set[Path] = set()
    for value in _file_values(mot):
        try:
            path = resolve_model(value)
        except (ModelNotFoundError, OSError, ValueError):
            continue
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        if path.suffix == ".xml" and path.with_suffix(".bin").is_file():
            files.append(path.with_suffix(".bin"))
        found.update(f.resolve() for f in files)
    return sorted(found)


def _file_values(mot: CfgNode) -> list[str]:
    """Values of the MOT keys declared as model or input paths (``config.defaults``), attribute models."""
    keys = [k.name.split(".", 1)[1] for k in SCHEMA if k.section == "MOT" and k.path in ("model", "input")]
    values = [mot[key] for key in keys if key in mot]
    values += [m for entry in [*mot.STATIC_ATTRIBUTES, *mot.DYNAMIC_ATTRIBUTES] for m in entry.values()]
    return [v for v in values if isinstance(v, str) and v.strip() and "://" not in v]


def files_signature(mot: CfgNode) -> str:
    """``path sha256`` lines of every file ``mot`` refers to, plus the code version."""
    cache = HashCache(cache_file())
    lines = [f"{path} {cache.digest(path)}" for path in referenced_files(mot)]
    cache.save()
    return "\n".join([f"code {code_version()}", *lines])


def cache_file() -> Path:
    base = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "vehicle_mtmc"
    return Path(base) / "file_hashes.json"


class HashCache:
    """SHA-256 of files, remembered by (path, size, mtime) in a JSON file; a broken cache is ignored."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.changed = False
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            self.entries: dict[str, str] = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError, RecursionError):
            self.entries = {}

    def digest(self, path: Path) -> str:
        stat = path.stat()
        key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
        if key not in self.entries:
            digest = hashlib.sha256()
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            self.entries = {k: v for k, v in self.entries.items() if not k.startswith(f"{path}|")}
            self.entries[key] = digest.hexdigest()
            self.changed = True
        return self.entries[key]

    def save(self) -> None:
        """Write the cache if it changed, without files that are gone; a cache that cannot be written
        only costs re-hashing."""
        if not self.changed:
            return
        self.entries = {k: v for k, v in self.entries.items() if Path(k.rsplit("|", 2)[0]).exists()}
        try:
            atomic_write_text(self.path, json.dumps(self.entries, indent=0, sort_keys=True))
        except OSError as err:
            log.debug("hash cache %s not written: %s", self.path, err)
