"""Process lifetime for the batch runners: SIGTERM stops a run like Ctrl-C; pool workers die with the driver.

Docker, systemd and Kubernetes stop a program with SIGTERM, whose default action kills the
process on the spot, so nothing tracked so far would be saved. ``install_stop_handlers``
turns SIGTERM into ``Terminated``, a ``KeyboardInterrupt``, so the code that saves partial
results on Ctrl-C runs for both; ``stop_exit_code`` gives the shell convention (128 + signal):
130 for SIGINT, 143 for SIGTERM.

Pool workers call ``die_with_driver``: on Linux the kernel sends them SIGTERM when the driver
dies (``PR_SET_PDEATHSIG``), and on every system a watchdog thread notices that the parent
pid changed; either way the worker saves what it tracked and exits, so no orphan keeps
running, writes results that race a re-run, or holds the driver's stderr open.
Stdlib only: imported before any heavy module.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from types import FrameType

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCH_INTERVAL = 0.5  # seconds between checks of the parent pid
WORKER_GRACE = 20.0  # seconds a worker may take to save after its driver died


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as on Ctrl-C (save what was tracked, marked incomplete)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signal.Signals(signum).name}")


def install_stop_handlers() -> None:
    """SIGTERM raises ``Terminated`` in the main thread (SIGINT keeps raising KeyboardInterrupt)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def stop_exit_code(err: KeyboardInterrupt) -> int:
    """128 + the signal number: 143 after SIGTERM, 130 after SIGINT (Ctrl-C)."""
    return 128 + (signal.SIGTERM if isinstance(err, Terminated) else signal.SIGINT)


def _raise_once(signum: int, frame: FrameType | None) -> None:
    """A worker stops on the first SIGINT/SIGTERM; later ones must not abort saving its results."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(f"signal {signal.Signals(signum).name}")


def die_with_driver(driver_pid: int) -> None:
    """Make this worker process stop when ``driver_pid`` (its parent) stops or dies.

    SIGINT and SIGTERM raise ``Terminated`` once; the parent's death delivers SIGTERM
    (``PR_SET_PDEATHSIG`` on Linux, and a watchdog thread everywhere). A worker that has not
    exited ``WORKER_GRACE`` seconds after its driver died is ended by the watchdog.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _raise_once)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
                log.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        except (OSError, AttributeError) as err:
            log.debug("no parent-death signal: %s", err)
    if os.getppid() != driver_pid:  # the driver died before the signal was armed
        os._exit(128 + signal.SIGTERM)
    threading.Thread(target=_watch_parent, args=(driver_pid,), name="driver-watchdog", daemon=True).start()


def driver_alive(driver_pid: int) -> bool:
    return os.getppid() == driver_pid


def _watch_parent(driver_pid: int) -> None:
    while driver_alive(driver_pid):
        time.sleep(WATCH_INTERVAL)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(WORKER_GRACE)
    os._exit(128 + signal.SIGTERM)
