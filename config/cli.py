"""Command-line plumbing shared by the runners: arguments, logging, config errors."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from config.interrupts import install_stop_handlers, stop_exit_code

if TYPE_CHECKING:  # the config modules import numpy: not needed for --help
    from yacs.config import CfgNode

    from config.verify_config import Mode

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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

    Exit codes: 0 success, 1 run failure (also results that cannot be written: disk full,
    read-only), 2 bad configuration or input (also OUTPUT_DIR in use by another run, see
    ``config.run_lock``), 130 interrupted (SIGINT), 143 terminated (SIGTERM); both save what
    was tracked, marked incomplete.
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
    from config.paths import StorageError
    from config.run_lock import RunLockError, run_locked

    install_stop_handlers()
    try:
        return run_locked(cfg.OUTPUT_DIR, mode, lambda: body(cfg, args))
    except RunLockError as err:
        log.error("%s", err)
        return 2
    except StorageError as err:  # disk full, read-only, forbidden: one line, no traceback
        log.error("%s", err)
        return 1
    except KeyboardInterrupt as err:
        code = stop_exit_code(err)
        how = "terminated (SIGTERM)" if code == 143 else "interrupted"
        log.warning("%s; what was tracked so far is saved, marked incomplete", how)
        return code
