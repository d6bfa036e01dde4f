"""Process lifetime for every runner: stop signals save what was tracked; pool workers die with the driver.

Docker, systemd and Kubernetes stop a program with SIGTERM, and a closed terminal or a dropped
SSH session sends SIGHUP; the default action of both kills the process on the spot, so nothing
tracked so far would be saved. ``StopSignals`` handles SIGINT, SIGTERM and SIGHUP alike:

* the first one starts the shutdown: it raises ``Terminated`` (a ``KeyboardInterrupt``), so
  the code that saves partial results on Ctrl-C runs for all three, or calls ``on_stop``
  (the live runner sets an event and saves from its main loop);
* a second one is ignored, with a warning saying what a third would lose: a user pressing
  Ctrl-C twice, or a supervisor sending SIGTERM right after SIGINT, must not kill the save;
* a third one quits at once (exit 128 + signal), saying what is lost.

``stop_exit_code`` gives the shell convention (128 + signal): 130 SIGINT, 143 SIGTERM, 129 SIGHUP.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCH_INTERVAL = 0.5  # seconds between checks of the parent pid
WORKER_GRACE = 20.0  # seconds a worker may take to save after its driver died
# The signals that stop a run: Ctrl-C, a supervisor's stop, a closed terminal (absent on Windows).
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
NOT_SAVED = "what was tracked and not saved yet"


class Terminated(KeyboardInterrupt):
    """A stop signal arrived: stop as on Ctrl-C (save what was tracked, marked incomplete)."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(f"signal {signal.Signals(signum).name}")
        self.signum = int(signum)


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


@dataclass
class StopSignals:
    """The stop-signal handler of one process: first signal stops, second is ignored, third quits.

    ``on_stop(signum)``: called on the first signal instead of raising ``Terminated``.
    ``losing()``: what a forced quit would lose now, for the messages.
    """

    on_stop: Callable[[int], None] | None = None
    losing: Callable[[], str] = field(default=lambda: NOT_SAVED)
    signum: int | None = None  # the signal that started the shutdown
    stopping: bool = False
    ignored: int = 0

    def install(self, signals: tuple[int, ...] = STOP_SIGNALS) -> StopSignals:
        """Handle ``signals`` in this process (main thread only; elsewhere this does nothing)."""
        if threading.current_thread() is threading.main_thread():
            for sig in signals:
                signal.signal(sig, self.handle)
        return self

    def begin_shutdown(self) -> None:
        """The run is saving of its own accord (its end, LIVE.DURATION): a signal now is a second one."""
        self.stopping = True

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            self.stopping, self.signum = True, int(signum)
            if self.on_stop is None:
                raise Terminated(signum)
            self.on_stop(signum)
            return
        self.ignored += 1
        if self.ignored == 1:
            log.warning(
                "%s: already saving; send it again to force quit, losing %s",
                signal_name(signum),
                self.losing(),
            )
            return
        log.error(
            "%s again: quitting without finishing the save, losing %s", signal_name(signum), self.losing()
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(128 + int(signum))


def install_stop_handlers(on_stop: Callable[[int], None] | None = None) -> StopSignals:
    """SIGINT, SIGTERM and SIGHUP stop the run (see ``StopSignals``); returns the handler."""
    return StopSignals(on_stop).install()


def stop_exit_code(err: KeyboardInterrupt | int) -> int:
    """128 + the signal number: 130 after SIGINT (Ctrl-C), 143 after SIGTERM, 129 after SIGHUP."""
    signum = err if isinstance(err, int) else getattr(err, "signum", signal.SIGINT)
    return 128 + int(signum)


def die_with_driver(driver_pid: int) -> None:
    """Make this worker process stop when ``driver_pid`` (its parent) stops or dies.

    SIGTERM and SIGHUP stop it through ``StopSignals`` (a second one does not abort its save);
    SIGINT is ignored: a Ctrl-C reaches the driver, which sends SIGTERM to its workers, so a
    double Ctrl-C on the terminal is not a third signal to them. The parent's death delivers
    SIGTERM (``PR_SET_PDEATHSIG`` on Linux, and a watchdog thread everywhere). A worker that
    has not exited ``WORKER_GRACE`` seconds after its driver died is ended by the watchdog.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    StopSignals().install(tuple(s for s in STOP_SIGNALS if s != signal.SIGINT))
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
