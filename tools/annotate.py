"""Draw saved tracklets onto their video (the drawing itself is ``mot.video_output``).

python tools/annotate.py --video in.mp4 --tracklets output/run/mot.npz --output out.mp4
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from detection.video import VideoSourceError
from mot.storage import load_tracklets
from mot.tracklet_file import TrackletFileError
from mot.video_output import render_tracklets

log = logging.getLogger("tools.annotate")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw saved tracklets onto their video.")
    parser.add_argument("--video", required=True)
    parser.add_argument("--tracklets", required=True, type=Path, help=".npz, .csv or .txt tracklet file")
    parser.add_argument("--output", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        table = load_tracklets(args.tracklets)
        frames = render_tracklets(args.video, table.tracklets, args.output, table.global_ids)
    except (TrackletFileError, VideoSourceError, OSError) as err:
        log.error("%s", err)
        return 2
    log.info("wrote %s (%d frames)", args.output, frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
