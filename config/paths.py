"""Atomic file writes, output-folder checks and names safe for folders.

A result file either holds a complete write or does not exist.

The data goes to a hidden temporary file in the target's directory, is flushed to
disk, then renamed over the target (``os.replace`` is atomic on POSIX and Windows).
A writer killed mid-way leaves at most a ``.<name>.<hex>.tmp`` file, never a truncated
file under the real name; ``sweep_temporary`` removes those at the next start. A disk that is
full, read-only or forbidden raises ``StorageError``: one message naming the target path,
the cause and the fix (runners exit 1 with it, no traceback, and do not retry it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
TMP_MARK = ".tmp"
TMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp(\.[A-Za-z0-9]+)?$")
# Storage faults: what the user must fix, not a bug (and not worth retrying).
STORAGE_ERRNOS = {
    errno.ENOSPC: "the disk is full; free space or choose another OUTPUT_DIR",
    errno.EDQUOT: "the disk quota is used up; free space or choose another OUTPUT_DIR",
    errno.EROFS: "the file system is read-only; choose another OUTPUT_DIR",
    errno.EACCES: "no permission to write there; fix the folder's permissions or choose another OUTPUT_DIR",
    errno.EPERM: "no permission to write there; fix the folder's permissions or choose another OUTPUT_DIR",
}


class StorageError(OSError):
    """Results could not be written: disk full, read-only or forbidden. ``str()`` is the whole message."""

    def __str__(self) -> str:
        return str(self.strerror)


# Kernel interfaces, not storage: mkdir there fails or, worse, writes into kernel settings.
PSEUDO_FILESYSTEMS = (Path("/proc"), Path("/sys"))


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing that replaces ``path`` only if the block succeeds."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    tmp = temporary_name(path)
    try:
        with storage_errors(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            # A fresh name opened exclusively: like mkstemp, but the file gets the usual umask permissions.
            f = tmp.open(mode.replace("w", "x"), **open_kwargs)
        with storage_errors(path), f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        with storage_errors(path):
            tmp.replace(path)  # atomic rename over the target
    except BaseException:
        with contextlib.suppress(OSError):  # on a read-only or full disk this may fail too
            tmp.unlink(missing_ok=True)
        raise


def temporary_name(path: Path, suffix: str = "") -> Path:
    """``.<name>.<12 hex>.tmp<suffix>`` beside ``path``: unique per writer, swept at the next start."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{TMP_MARK}{suffix}")


@contextlib.contextmanager
def storage_errors(path: Path) -> Iterator[None]:
    """Turn a full, read-only or forbidden storage error while writing ``path`` into ``StorageError``."""
    try:
        yield
    except StorageError:
        raise
    except OSError as err:
        if err.errno not in STORAGE_ERRNOS:
            raise
        hint = STORAGE_ERRNOS[err.errno]
        raise StorageError(err.errno, f"cannot write {path}: {err.strerror} ({hint})", str(path)) from None


def sweep_temporary(folders: Iterable[Path]) -> list[Path]:
    """Remove the temporary files of killed writes directly in ``folders``.

    Only names this module makes (``temporary_name``) are touched; call it while holding the
    folders' run lock (``config.run_lock``), so no live writer's file is removed.
    """
    removed = []
    for folder in folders:
        for path in folder.iterdir():
            if TMP_NAME.match(path.name) and path.is_file():
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def safe_name(text: str, fallback: str) -> str:
    """``text`` as letters, digits, '_', '-' and '.' only (accents dropped, the rest '_'), else ``fallback``.

    Camera names become folder names and layout tokens, so a file name like
    ``Nord Kreuzung (2).mp4`` gives ``Nord_Kreuzung_2`` rather than an error.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    name = UNSAFE_NAME_CHARS.sub("_", ascii_text).strip("_.")
    return name or fallback


def output_dir_problem(path: str | Path) -> str | None:
    """Why results cannot be written under ``path`` (created if missing), or None when they can.

    Checked before any work, so a long run does not fail at its first write.
    """
    path = Path(path).absolute()
    real = Path(os.path.realpath(path))
    for fs in PSEUDO_FILESYSTEMS:
        if real == fs or fs in real.parents:
            return f"{path} is under {fs}, a kernel interface, not storage; choose a folder on a disk"
    existing = path
    try:
        while not existing.exists():
            if existing.is_symlink():
                return f"{existing} is a broken symbolic link"
            existing = existing.parent
        is_dir = existing.is_dir()
    except OSError as err:  # a parent that may not be entered (EACCES), a name too long, ...
        return f"{path} cannot be reached ({err.strerror})"
    if not is_dir:
        what = "is" if existing == path else f"cannot be created: {existing} is"
        return f"{path} {what} a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == path else f" (its nearest existing parent {existing})"
        return f"{path}{where} is not writable"
    return None
