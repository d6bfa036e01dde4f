#!/usr/bin/env bash
# Bench-only environment for bench/bench_peers.py: ultralytics (with its torch) beside the project's core deps.
# Never a test dependency. Usage: bench/setup_ultra_venv.sh [VENV_DIR]   (default /work/ultra-venv)
# The torch wheel from PyPI pulls its CUDA runtime packages too (several GB); it runs on the CPU all the same.
set -euo pipefail
VENV="${1:-/work/ultra-venv}"
PY="${PYTHON:-python3.11}"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install "torch==2.14.1" "torchvision==0.29.1"
"$VENV/bin/pip" install ultralytics psutil lap \
  "numpy>=1.24" "scipy>=1.10" "opencv-python-headless>=4.8" "onnxruntime>=1.17" "yacs>=0.1.8" "PyYAML>=6.0" \
  "pandas>=2.0" "scikit-learn>=1.3" "tqdm>=4.60" "trackeval>=1.3.0"
# Optional peers for the trackers-alone part; the bench skips whichever is missing.
"$VENV/bin/pip" install "supervision==0.27" || echo "supervision not installed"
"$VENV/bin/pip" install boxmot || echo "boxmot not installed"
YOLO_OFFLINE=1 "$VENV/bin/yolo" settings sync=False >/dev/null || true
echo "bench venv ready: $VENV (run the benches with YOLO_OFFLINE=1)"
