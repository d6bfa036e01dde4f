"""Save a killed live session (kill -9, OOM, power cut) from its checkpoints, without starting a new one.

python tools/recover_live.py OUTPUT_DIR

Every session under OUTPUT_DIR whose state is still ``running`` and whose process is gone is
consolidated from its ``live.journal`` files into the usual result sets, marked incomplete
(``mtmc.live.session.recover``). The next live start on OUTPUT_DIR does the same by itself.
Exit 0 (also when there was nothing to recover), 2 when OUTPUT_DIR is not a folder.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from mtmc.live.session import recover

log = logging.getLogger("tools.recover_live")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Save killed live sessions from their checkpoints.")
    parser.add_argument("output_dir", type=Path, help="the live run's OUTPUT_DIR")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if not args.output_dir.is_dir():
        log.error("%s: not a folder", args.output_dir)
        return 2
    written = recover(args.output_dir)
    canonical = [p for p in written if p.suffix == ".npz"]
    log.info("%s", "recovered " + ", ".join(map(str, canonical)) if canonical else "nothing to recover")
    return 0


if __name__ == "__main__":
    sys.exit(main())
