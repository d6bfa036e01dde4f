"""One run per OUTPUT_DIR: a lock file that names its holder, taken over when its holder is gone.

Two runs writing one folder mix their results (one clusters the other's tracklets, each
overwrites the other's files). ``output_lock`` takes an exclusive ``flock`` on
``OUTPUT_DIR/.run.lock`` for the whole run and writes the holder's pid, host, command and
start time into it. The kernel drops the lock when its process dies, even by SIGKILL, so a
lock left by a killed run is stale by construction: the next run takes it over and says
whose it was. A second run while the first is alive is refused naming the holder's pid.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from config.paths import storage_errors, sweep_temporary

log = logging.getLogger(__name__)

LOCK_NAME = ".run.lock"


class RunLockError(RuntimeError):
    """OUTPUT_DIR is in use by another run; the message names it."""


@contextlib.contextmanager
def output_lock(output_dir: str | Path, command: str) -> Iterator[Path]:
    """Hold ``output_dir``'s run lock for the block; ``RunLockError`` when another live run holds it."""
    path = Path(output_dir) / LOCK_NAME
    with storage_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockError(busy_message(Path(output_dir), read_holder(fd))) from None
        previous = read_holder(fd)
        if previous.get("pid"):
            log.warning(
                "%s: taking over the lock of an earlier run (pid %s, %s, started %s) that ended without "
                "releasing it",
                output_dir,
                previous["pid"],
                previous.get("command", "?"),
                previous.get("started", "?"),
            )
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": command}
        holder["started"] = time.strftime("%Y-%m-%d %H:%M:%S")
        _write(fd, json.dumps(holder) + "\n")
        yield path
    finally:
        with contextlib.suppress(OSError):
            _write(fd, "")  # released: an empty lock file is not "an earlier run"
        os.close(fd)  # also releases the flock


def read_holder(fd: int) -> dict[str, Any]:
    """What the lock file says about its holder; empty when it says nothing readable."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        holder = json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
    except (OSError, ValueError, RecursionError):
        return {}
    return holder if isinstance(holder, dict) else {}


def busy_message(output_dir: Path, holder: dict[str, Any]) -> str:
    who = f"pid {holder.get('pid', '?')}"
    if holder.get("host") and holder["host"] != socket.gethostname():
        who += f" on {holder['host']}"
    return (
        f"OUTPUT_DIR {output_dir} is in use by another run ({who}, {holder.get('command', '?')}, started "
        f"{holder.get('started', '?')}); wait for it to finish or choose another OUTPUT_DIR"
    )


def _write(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode("utf-8"))


def run_locked(output_dir: str, command: str, body: Callable[[], int]) -> int:
    """``body()`` holding ``output_dir``'s lock, after sweeping temporary files of killed writes."""
    if not output_dir:  # commands that write no results (evaluation without OUTPUT_DIR)
        return body()
    with output_lock(output_dir, command):
        if swept := sweep_temporary(run_folders(Path(output_dir))):
            log.info("removed %d temporary files of an interrupted write (%s, ...)", len(swept), swept[0])
        return body()


def run_folders(output_dir: Path) -> list[Path]:
    """``output_dir`` and its sub-folders (camera folders), except those that are another run's OUTPUT_DIR."""
    subs = [p for p in output_dir.iterdir() if p.is_dir() and not (p / LOCK_NAME).exists()]
    return [output_dir, *subs]
