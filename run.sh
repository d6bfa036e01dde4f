#!/usr/bin/env bash
# The main job on the embedded demo: set up a virtualenv, install the project, cut the
# intersection clip into crop-view "cameras", and run the express MTMC pipeline on them.
#
#   bash run.sh [VIDEO]        # default video: ../shared/data/traffic/intersection_960x540.mp4
#
# Outputs: output/demo_cameras/ (the camera videos and layout.txt) and output/demo/ (report.html, the run
# report; per camera mot.* and mtmc.* results and annotated videos, mtmc.npz for all cameras, config.yaml, plan.json).
set -euo pipefail
cd "$(dirname "$0")"

VENV=${VENV:-.venv}
VIDEO=${1:-../shared/data/traffic/intersection_960x540.mp4}

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e .

"$VENV/bin/python" tools/make_crop_views.py --video "$VIDEO" --out output/demo_cameras
"$VENV/bin/python" mtmc/run_express_mtmc.py --config config/examples/express_demo.yaml
echo "demo outputs: output/demo/report.html (open it in a browser), output/demo_cameras/ (camera videos, layout.txt) and output/demo/ (per-camera mot.* and mtmc.*, annotated mot.mp4 and mtmc.mp4)"
