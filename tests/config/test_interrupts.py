"""Stop signals (``config.interrupts.StopSignals``) in a real child process: a second signal never
kills the save, a third quits at once naming what is lost, SIGHUP stops like SIGTERM.

The child is a few lines around the real handler: it "saves" (a loop that writes a file)
after the first signal, so the test sends further signals while the save runs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.cli import saved_summary
from tests.conftest import REPO

CHILD = """
import logging, sys, time
from pathlib import Path
from config.interrupts import StopSignals, Terminated, stop_exit_code
logging.basicConfig(level=logging.INFO)
out = Path(sys.argv[1])
signals = StopSignals(losing=lambda: "3 open tracks").install()
try:
    print("ready", flush=True)
    while True:
        time.sleep(0.01)
except Terminated as err:
    for i in range(40):  # the save: 2 s, interruptible between its steps
        time.sleep(0.05)
    out.write_text("saved")
    sys.exit(stop_exit_code(err))
"""


def start(out: Path) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(out)],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    return child


@pytest.mark.parametrize(
    ("first", "second", "code"),
    [
        (signal.SIGINT, signal.SIGINT, 130),
        (signal.SIGINT, signal.SIGTERM, 130),
        (signal.SIGHUP, signal.SIGTERM, 129),
    ],
)
def test_a_second_signal_during_the_save_is_ignored(
    first: int, second: int, code: int, tmp_path: Path
) -> None:
    child = start(tmp_path / "result")
    child.send_signal(first)
    time.sleep(0.2)
    child.send_signal(second)
    _, err = child.communicate(timeout=60)
    assert child.returncode == code, err
    assert (tmp_path / "result").read_text() == "saved"
    assert (
        f"{signal.Signals(second).name}: already saving; send it again to force quit, losing 3 open tracks"
        in err
    )


def test_a_third_signal_quits_at_once_saying_what_is_lost(tmp_path: Path) -> None:
    child = start(tmp_path / "result")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGINT):
        child.send_signal(sig)
        time.sleep(0.2)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "SIGINT again: quitting without finishing the save, losing 3 open tracks" in err
    assert not (tmp_path / "result").exists()


def test_the_stop_message_names_only_what_was_really_saved(tmp_path: Path) -> None:
    started = time.time()
    assert saved_summary(tmp_path / "missing", started).startswith("nothing was tracked yet")
    (tmp_path / "plan.json").write_text("{}")  # written before tracking: not a result
    (tmp_path / "live_session.json").write_text("{}")  # nor is a session record
    assert saved_summary(tmp_path, started).startswith("nothing was tracked yet")
    (tmp_path / "0_far").mkdir()
    (tmp_path / "0_far" / "mot.npz").write_bytes(b"x")
    (tmp_path / "0_far" / "mot.csv").write_text("x")
    summary = saved_summary(tmp_path, started)
    assert "is saved" in summary and "0_far/mot.npz and 2 more files" in summary
