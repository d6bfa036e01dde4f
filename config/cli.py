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

    Exit codes: 0 success, 1 run failure, 2 bad configuration or input, 130 interrupted
    (SIGINT), 143 terminated (SIGTERM); both save what was tracked, marked incomplete.
    """
    args = build_parser(description).parse_args(argv)
    setup_logging(args.log_level)
    from config.loader import ConfigError, load_config

    log = logging.getLogger(body.__module__)
    try:
        cfg = load_config(args.config, args.opts, mode=mode)
    except ConfigError as err:
        log.error("%s", err)
        return 2
    install_stop_handlers()
    try:
        return body(cfg, args)
    except KeyboardInterrupt as err:
        code = stop_exit_code(err)
        how = "terminated (SIGTERM)" if code == 143 else "interrupted"
        log.warning("%s; what was tracked so far is saved, marked incomplete", how)
        return code
