"""A live session under stop signals: run until LIVE.DURATION or a signal, then always save.

The first Ctrl-C, SIGTERM or SIGHUP sets the session's stop event; the save that follows runs
with ``StopSignals`` in shutdown mode, so a second signal is ignored (it names what a forced quit
would lose) and only a third quits at once (``config.interrupts``). The journals on disk stay
either way, and the next start consolidates what a forced quit left.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from config.interrupts import StopSignals, signal_name, stop_exit_code
from mtmc.live.run import LiveRun

log = logging.getLogger(__name__)


def run_session(session: LiveRun, signals: StopSignals) -> int:
    """Run until LIVE.DURATION or a stop signal, then save; a second signal does not stop the save.

    Returns 0 after LIVE.DURATION, 128 + signal after a stop signal, 1 when a camera was not saved.
    """
    stop = threading.Event()

    def on_stop(signum: int) -> None:
        log.info(
            "%s: stopping; saving the session (a second signal is ignored until it is saved)",
            signal_name(signum),
        )
        stop.set()

    signals.on_stop, signals.losing = on_stop, session.unsaved
    try:
        session.run(stop)
    finally:
        signals.begin_shutdown()
        start = time.monotonic()
        written = session.shutdown()
        log.info(
            "session %s stopped in %.1f s; %s",
            session.session_id,
            time.monotonic() - start,
            saved_text(session.folder, written),
        )
    if not session.saved:
        log.error("not every camera was saved; their checkpoints stay and the next start saves them")
        return 1
    return stop_exit_code(signals.signum) if signals.signum is not None else 0


def saved_text(folder: Path, written: list[Path]) -> str:
    """The log line's account of the files a session's save wrote into ``folder``."""
    tracklets = [f for f in written if f.suffix == ".npz"]
    if not tracklets:
        return f"nothing was tracked yet; wrote {folder / 'live_ids.json'}"
    return f"saved {', '.join(str(f) for f in tracklets)} and {len(written) - len(tracklets)} more files"
