#!/usr/bin/env bash
# Set up a virtualenv with the test extras (dev, the CPU torch for the ReID exporter, OpenVINO, ALPR, Ray),
# then lint and run the whole test suite.
#
#   bash run_tests.sh [PYTEST ARGS]
#
# Reference data is read from ../shared (override with VEHICLE_MTMC_SHARED).
set -euo pipefail
cd "$(dirname "$0")"

VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev,torch,openvino,alpr,ray]"

"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/python" -m pytest "$@"
