"""Find model files by explicit path or by name, never by downloading.

Search order for a name or relative path:
1. as given (absolute, or relative to the working directory);
2. this ``models/`` directory;
3. each directory in ``$VEHICLE_MTMC_MODELS`` (``os.pathsep``-separated);
4. ``../shared/models`` beside the repository, when present.

A manifest name (``yolox_nano``) also matches its file (``yolox_nano.onnx``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

MODELS_DIR = Path(__file__).resolve().parent
MANIFEST_PATH = MODELS_DIR / "manifest.json"
ENV_VAR = "VEHICLE_MTMC_MODELS"
SHARED_MODELS_DIR = MODELS_DIR.parent.parent / "shared" / "models"


class ModelNotFoundError(FileNotFoundError):
    """No file for a model name; the message lists every place looked and how to get it."""


@dataclass(frozen=True)
class Download:
    """One file to fetch and the checksums its publisher gives (sha256 and/or sha384, and its size)."""

    file: str
    sha256: str
    url: str
    sha384: str = ""
    size: int | None = None

    @property
    def digests(self) -> dict[str, str]:
        """Expected hex digest by ``hashlib`` algorithm name, for every checksum given."""
        return {name: value for name, value in (("sha256", self.sha256), ("sha384", self.sha384)) if value}


@dataclass(frozen=True)
class ModelEntry:
    """One manifest row: a model file plus the files it needs beside it (e.g. OpenVINO ``.bin``).

    Detectors also carry ``class_map`` (model label -> class id, for SSD models) and
    ``recommended``: config key -> value measured for this detector (score floor, ByteTrack
    thresholds, NMS IoU, input size; evidence in README "Detector-aware defaults"), applied by
    ``config.detector_defaults`` to every such key the user's config leaves unset.
    """

    name: str
    file: str
    sha256: str
    licence: str
    url: str
    description: str
    export: str = ""
    companions: tuple[Download, ...] = field(default_factory=tuple)
    class_map: tuple[int, ...] = ()
    recommended: dict[str, Any] = field(default_factory=dict)
    sha384: str = ""
    size: int | None = None
    role: str = ""  # "reid" for appearance models
    prefer_when_present: bool = False  # a downloaded copy replaces the shipped default (config.reid_defaults)

    @property
    def downloads(self) -> tuple[Download, ...]:
        return (Download(self.file, self.sha256, self.url, self.sha384, self.size), *self.companions)


@lru_cache(maxsize=1)
def load_manifest() -> dict[str, ModelEntry]:
    data = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    entries = {}
    for row in data["models"]:
        companions = tuple(
            Download(c["file"], c.get("sha256", ""), c["url"], c.get("sha384", ""), c.get("size"))
            for c in row.get("companions", [])
        )
        entries[row["name"]] = ModelEntry(
            name=row["name"],
            file=row["file"],
            sha256=row.get("sha256", ""),
            licence=row["licence"],
            url=row["url"],
            description=row["description"],
            export=row.get("export", ""),
            companions=companions,
            class_map=tuple(int(c) for c in row.get("class_map", [])),
            recommended=dict(row.get("recommended", {})),
            sha384=row.get("sha384", ""),
            size=row.get("size"),
            role=row.get("role", ""),
            prefer_when_present=bool(row.get("prefer_when_present", False)),
        )
    return entries


def search_dirs() -> list[Path]:
    dirs = download_dirs()
    if SHARED_MODELS_DIR.is_dir():
        dirs.append(SHARED_MODELS_DIR)
    return dirs


def manifest_entry(name: str) -> ModelEntry | None:
    """The manifest row for a model name, file name or manifest file path."""
    manifest = load_manifest()
    if name in manifest:
        return manifest[name]
    return next((e for e in manifest.values() if name in (e.file, Path(e.file).name)), None)


def resolve_model(name: str) -> Path:
    """The existing file for ``name``; raises ``ModelNotFoundError`` listing where it looked."""
    given = Path(os.path.expandvars(name)).expanduser()
    if given.is_absolute():
        if given.exists():
            return given
        raise ModelNotFoundError(f"model file {given} does not exist")
    if given.exists():
        return given.resolve()
    entry = manifest_entry(name)
    relative = [given] + ([Path(entry.file)] if entry and Path(entry.file) != given else [])
    looked = []
    for directory in search_dirs():
        for rel in relative:
            candidate = directory / rel
            if candidate.exists():
                return candidate
            looked.append(str(candidate))
    raise ModelNotFoundError(_not_found_message(name, looked, entry))


def _not_found_message(name: str, looked: list[str], entry: ModelEntry | None) -> str:
    lines = [f"model '{name}' not found; looked in:"] + [f"    {p}" for p in looked]
    lines.append(f"  (set ${ENV_VAR} to a directory holding your models, or give an absolute path)")
    if entry is not None and entry.url:
        lines.append(f"  to download it: python tools/download_models.py {entry.name}")
    elif entry is not None and entry.export:
        lines.append(f"  to create it: {entry.export}")
    return "\n".join(lines)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    return digest_of(path, "sha256", chunk)


def digest_of(path: Path, algorithm: str, chunk: int = 1 << 20) -> str:
    """Hex digest of a file by a ``hashlib`` algorithm name (sha256, sha384)."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def download_dirs() -> list[Path]:
    """Where ``mtmc-download-models`` puts models (``models/`` or ``--dest``, which users list in
    ``$VEHICLE_MTMC_MODELS``): the places a downloaded model is looked for."""
    return [MODELS_DIR] + [Path(p).expanduser() for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]


def downloaded_copy(entry: ModelEntry) -> Path | None:
    """The entry's file in a download directory, when present with the manifest's size (a cheap check
    against a partial copy; ``mtmc-download-models`` verifies the checksums when it fetches)."""
    for directory in download_dirs():
        path = directory / entry.file
        if path.is_file() and (entry.size is None or path.stat().st_size == entry.size):
            return path
    return None
