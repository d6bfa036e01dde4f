"""Build ``report.html`` for an existing multi-camera output folder (express or MTMC-only run).

mtmc-report OUTPUT_DIR [--max-vehicles N]

The page shows each camera with its tracklet count, every vehicle seen by several cameras
with one crop per camera, times, colour/type/plate and match similarity, a timeline, and
the single-camera vehicles in a collapsed section. Stages are imported when it runs, so
``--help`` is fast. Exit codes: 0 written, 2 the folder holds no readable multi-camera result.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import yaml

log = logging.getLogger("mtmc.report")


def configured_limit(output_dir: Path) -> int | None:
    """``MTMC.REPORT_MAX_VEHICLES`` of the run's config.yaml, if it sets one."""
    try:
        config = yaml.safe_load((output_dir / "config.yaml").read_text(encoding="utf-8")) or {}
        value = (config.get("MTMC") or {}).get("REPORT_MAX_VEHICLES")
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    return value if isinstance(value, int) and value > 0 else None


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of vehicles, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path, help="OUTPUT_DIR of an express or MTMC-only run")
    parser.add_argument(
        "--max-vehicles",
        type=positive,
        help="vehicles shown with crops, multi-camera ones first (default: the run's "
        "MTMC.REPORT_MAX_VEHICLES, else 200)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    from mtmc.report.build import DEFAULT_MAX_VEHICLES, write_report
    from mtmc.report.inputs import ReportInputError

    limit = args.max_vehicles or configured_limit(args.output_dir) or DEFAULT_MAX_VEHICLES
    try:
        write_report(args.output_dir, limit)  # logs where it wrote the page
    except ReportInputError as err:
        log.error("%s", err)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
