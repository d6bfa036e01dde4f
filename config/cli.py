"""Command-line plumbing shared by the runners: arguments, logging, config errors."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from config.interrupts import STOP_SIGNALS, install_stop_handlers, stop_exit_code

if TYPE_CHECKING:  # the config modules import numpy: not needed for --help
    from yacs.config import CfgNode

    from config.verify_config import Mode

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
RESULT_SUFFIXES = (".npz", ".csv", ".txt", ".pkl", ".mp4", ".json")
NOT_RESULTS = ("plan.json", "config.yaml")  # written before any tracking


def build_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", required=True, help="YAML config file (see config/examples/)")
    parser.add_argument(
        "--log-level", default="INFO", choices=LOG_LEVELS, type=str.upper, help="logging verbosity"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="validate the config, resolve models and inputs, print the plan and stop",
    )
    parser.add_argument(
        "opts",
        nargs=argparse.REMAINDER,
        metavar="KEY VALUE",
        help="config overrides, e.g. MOT.TRACKER deepsort OUTPUT_DIR output/run2",
    )
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Like ``parser.parse_args``, but options written after the overrides still count as options.

    The overrides take the rest of the command line (values may start with '-'), so
    ``... OUTPUT_DIR out --dry-run`` would otherwise make '--dry-run' an override value.
    No config value is spelled like one of the runner's options, so every such token is
    taken as the option (``OUTPUT_DIR --dry-run`` then says OUTPUT_DIR has no value).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    options, opts = _split_options(parser, args.opts)
    if not options:
        return args
    front = argv[: len(argv) - len(args.opts)]
    return parser.parse_args(front + options + opts)  # as if written in front: same checks and messages


def _split_options(parser: argparse.ArgumentParser, tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the parser's own options among the override tokens, the KEY VALUE tokens left)."""
    known = {flag: action for action in parser._actions for flag in action.option_strings}
    options: list[str] = []
    opts: list[str] = []
    i = 0
    while i < len(tokens):
        flag = tokens[i].split("=", 1)[0]
        if flag not in known:
            opts.append(tokens[i])
            i += 1
            continue
        takes_value = known[flag].nargs != 0 and "=" not in tokens[i]
        if takes_value and i + 1 == len(tokens):
            parser.error(f"argument {flag}: expected one argument")
        options += tokens[i : i + 1 + takes_value]
        i += 1 + takes_value
    return options, opts


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )


def run_cli(
    description: str,
    mode: Mode,
    body: Callable[[CfgNode, argparse.Namespace], int],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse arguments, load and validate the config, then run ``body``; map errors to exit codes.

    Exit codes: 0 success, 1 run failure, 2 bad configuration or input, 3 finished and saved
    but a video was not fully read (a corrupt stretch skipped, or it ended early), 128 + signal
    after a stop signal (130 SIGINT, 143 SIGTERM, 129 SIGHUP), having saved what was tracked,
    marked incomplete. ``args.signals`` is the process's ``StopSignals`` (the live runner stops by it).
    """
    parser = build_parser(description)
    args = parse_args(parser, argv)
    setup_logging(args.log_level)
    from config.loader import ConfigError, load_config

    log = logging.getLogger(body.__module__)
    try:
        cfg = load_config(args.config, args.opts, mode=mode)
    except ConfigError as err:
        log.error("%s", err)
        return 2
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    args.signals = install_stop_handlers()
    started = time.time()
    try:
        return body(cfg, args)
    except KeyboardInterrupt as err:  # some libraries (Ray) re-raise it as a plain KeyboardInterrupt
        code = stop_exit_code(args.signals.signum if args.signals.signum is not None else err)
        log.warning("%s; %s", stop_reason(code), saved_summary(Path(cfg.OUTPUT_DIR), started))
        return code
    finally:  # a caller in the same process (tests, notebooks) gets its own handlers back
        for sig, handler in previous.items():
            if handler is not None and threading.current_thread() is threading.main_thread():
                signal.signal(sig, handler)


def stop_reason(code: int) -> str:
    return f"stopped by {signal.Signals(code - 128).name}" if 128 < code < 128 + 65 else "interrupted"


def saved_files(out: Path, since: float) -> list[Path]:
    """Result files under ``out`` written at or after ``since`` (the plan and config excluded)."""
    if not out.is_dir():
        return []
    found = []
    for path in out.rglob("*"):
        try:
            fresh = path.is_file() and path.stat().st_mtime >= since - 1.0  # coarse file-system clocks
        except OSError:
            continue
        name = path.name
        if fresh and path.suffix in RESULT_SUFFIXES and name not in NOT_RESULTS and not name.startswith("."):
            found.append(path)
    return sorted(found)


def saved_summary(out: Path, since: float) -> str:
    """What the stopped run saved, from the disk itself: only files really written are named."""
    files = saved_files(out, since)
    canonical = [p for p in files if p.suffix == ".npz"]  # every result set has its canonical file
    if not canonical:
        return f"nothing was tracked yet, so no tracklets were saved in {out}"
    shown = ", ".join(str(p.relative_to(out)) for p in canonical[:8])
    more = f" and {len(files) - len(canonical[:8])} more files" if len(files) > len(canonical[:8]) else ""
    return f"what was tracked so far is saved, marked incomplete, in {out}: {shown}{more}"
