#!/usr/bin/env bash
# Live MTMC on the demo cameras (crop views of the intersection clip, looped as if they were
# streams): open http://127.0.0.1:8080/ to watch; Ctrl-C stops and saves the session.
#
#   bash run_live_mtmc.sh [KEY VALUE ...]     # e.g. LIVE.MJPEG_PORT 9000 LIVE.DURATION 60
set -euo pipefail
cd "$(dirname "$0")"

VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e .
if [ ! -f output/demo_cameras/layout.txt ]; then
    "$VENV/bin/python" tools/make_crop_views.py --video ../shared/data/traffic/intersection_960x540.mp4 --out output/demo_cameras
fi
exec "$VENV/bin/python" mtmc/run_live_mtmc.py --config config/examples/live_demo.yaml "$@"
