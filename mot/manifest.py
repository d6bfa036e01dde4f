"""Crash-consistent result sets: a manifest, written last, lists the files of one run with their hashes.

A run that writes a result set (``mot.*`` of a camera, ``mtmc.*`` of all cameras) first
removes the set's old manifest, then writes its files (each canonical ``.npz`` carries the
run id and config fingerprint in its metadata), and writes ``<stem>.manifest.json``
atomically at the very end::

    {"format": "vehicle_mtmc.manifest", "version": 1, "stem": "mtmc", "run_id": "...",
     "command": "express", "fingerprint": "...", "complete": true,
     "files": {"0_far/mtmc.npz": {"bytes": 123, "sha256": "..."}, ...},
     "inputs": {"0_far/mot.npz": {"bytes": 456, "sha256": "..."}}, "config": "<yaml>"}

Paths are relative to the manifest's folder (absolute for inputs elsewhere). So a set
whose run was killed has no manifest, and a set that another run changed in part no longer
matches its manifest; readers (``check_result_file``) refuse both with a message naming the
file and the fix, instead of reading a mix of two runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from config.npz_safe import read_members
from config.paths import atomic_write_text, storage_errors

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "vehicle_mtmc.manifest"
MANIFEST_VERSION = 1
RERUN_HINT = (
    "Run the command that wrote it again with the same config (an express run reuses the cameras "
    "that finished), or use the files of a run that completed"
)


class ResultSetError(ValueError):
    """A result file whose set is incomplete or mixed; the message names the file and the fix."""


def new_run_id() -> str:
    """A readable, unique id: UTC start time and a random suffix."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def manifest_path(directory: str | Path, stem: str) -> Path:
    return Path(directory) / f"{stem}.manifest.json"


def file_digest(path: str | Path) -> dict[str, Any]:
    """Size and SHA-256 of a file."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": Path(path).stat().st_size, "sha256": digest.hexdigest()}


def _key(path: Path, directory: Path) -> str:
    try:
        return path.resolve().relative_to(directory.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def _resolve(key: str, directory: Path) -> Path:
    path = Path(key)
    return path if path.is_absolute() else directory / path


def remove_manifest(directory: str | Path, stem: str) -> None:
    """Mark the set as being rewritten: without its manifest no reader accepts it."""
    path = manifest_path(directory, stem)
    with storage_errors(path):  # a read-only folder refuses even to unlink a missing file
        path.unlink(missing_ok=True)


def remove_set(directory: str | Path, stem: str) -> list[Path]:
    """Remove the set's manifest, then the files it lists (nothing else: a user's own
    ``mtmc.csv`` in a camera folder is not ours to delete)."""
    directory = Path(directory)
    path = manifest_path(directory, stem)
    try:
        listed = read_manifest(path).get("files", {}) if path.is_file() else {}
    except ResultSetError as err:
        log.warning("%s; removing only the manifest", err)
        listed = {}
    remove_manifest(directory, stem)
    removed = []
    for key in listed:
        target = _resolve(key, directory)
        if target.name.startswith(f"{stem}.") and target.is_file():  # an edited manifest names no other file
            target.unlink()
            removed.append(target)
    if removed:
        log.info("removed %d %s.* files of an earlier run", len(removed), stem)
    return removed


def write_manifest(
    directory: str | Path,
    stem: str,
    files: Iterable[str | Path],
    *,
    run_id: str,
    command: str,
    fingerprint: str,
    complete: bool,
    inputs: Iterable[str | Path] = (),
    extra: dict[str, Any] | None = None,
) -> Path:
    """Hash ``files`` (and the ``inputs`` they were made from) and write the manifest atomically."""
    directory = Path(directory)
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "stem": stem,
        "run_id": run_id,
        "command": command,
        "fingerprint": fingerprint,
        "complete": bool(complete),
        "files": {_key(Path(p), directory): file_digest(p) for p in files},
        "inputs": {_key(Path(p), directory): file_digest(p) for p in inputs},
        **(extra or {}),
    }
    path = manifest_path(directory, stem)
    atomic_write_text(path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return path


def add_files(directory: str | Path, stem: str, files: Iterable[str | Path]) -> Path:
    """Add files written after the manifest (videos) to it; everything else it says stays."""
    directory = Path(directory)
    path = manifest_path(directory, stem)
    manifest = read_manifest(path)
    manifest["files"].update({_key(Path(p), directory): file_digest(p) for p in files})
    atomic_write_text(path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return path


def read_manifest(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ResultSetError(f"{path}: unreadable result manifest ({err}). {RERUN_HINT}.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ResultSetError(f"{path}: not a result manifest (format {MANIFEST_FORMAT!r} expected)")
    if manifest.get("version", 0) > MANIFEST_VERSION:
        raise ResultSetError(f"{path}: manifest version {manifest['version']} is newer than this program")
    return manifest


def verify_manifest(path: str | Path, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest, after checking that every file and input it lists is there and unchanged."""
    path = Path(path)
    manifest = manifest if manifest is not None else read_manifest(path)
    for group in ("files", "inputs"):
        for key, expected in manifest.get(group, {}).items():
            target = _resolve(key, path.parent)
            if not target.is_file():
                raise ResultSetError(
                    f"{target}: listed in {path} but missing; the result set is incomplete. {RERUN_HINT}."
                )
            if file_digest(target) != expected:
                what = "was changed by another run" if group == "files" else "(an input of this set) changed"
                raise ResultSetError(
                    f"{target}: {what} after {path} was written, so the set mixes files of different "
                    f"runs. {RERUN_HINT}."
                )
    return manifest


def covering_manifest(path: str | Path, stem: str | None = None) -> Path | None:
    """The manifest that lists ``path``: ``<stem>.manifest.json`` in its folder or the folder above."""
    path = Path(path)
    stem = stem or path.stem
    for folder in (path.parent, path.parent.parent):
        candidate = manifest_path(folder, stem)
        if candidate.is_file() and _key(path, folder) in read_manifest(candidate).get("files", {}):
            return candidate
    return None


def written_by_a_run(path: str | Path) -> bool:
    """Whether ``path`` belongs to a set of this program: its canonical ``.npz`` carries a run id."""
    path = Path(path)
    canonical = path if path.suffix == ".npz" else path.with_suffix(".npz")
    if not canonical.is_file():
        return False
    try:
        meta = read_members(canonical, ["meta"]).get("meta")
    except (OSError, ValueError, zipfile.BadZipFile):
        return False
    text = b"" if meta is None else meta.tobytes()
    return b'"run_id"' in text


def check_result_file(path: str | Path) -> dict[str, Any] | None:
    """The verified manifest of the set ``path`` belongs to; None for a file from elsewhere.

    Raises ``ResultSetError`` when the file was written by a run of this program that did
    not finish (no manifest lists it) or when its set no longer matches its manifest.
    """
    path = Path(path)
    manifest = covering_manifest(path)
    if manifest is None:
        if written_by_a_run(path):
            raise ResultSetError(
                f"{path}: no {path.stem}.manifest.json beside it (or in the folder above) lists it: the run "
                f"that wrote it was stopped before it finished, so its result set may be incomplete or "
                f"mixed with an earlier run's. {RERUN_HINT}."
            )
        return None
    found = verify_manifest(manifest)
    if not found.get("complete", True):
        log.warning("%s: results of an interrupted run (%s), complete up to where it stopped", path, manifest)
    return found
