#!/usr/bin/env bash
# Set up a virtualenv with the test extras (dev, the CPU torch for the ReID exporter, OpenVINO, ALPR, Ray, NNCF),
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
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev,torch,openvino,alpr,ray,int8]"

# The live-page browser test drives Debian's chromium; install it when we can (as root).
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
            > /dev/null 2>&1 || echo "could not install chromium; the browser test will be skipped" >&2
    else
        echo "chromium and chromium-driver are not installed; the browser test will be skipped" >&2
    fi
fi

"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/python" -m pytest "$@"
