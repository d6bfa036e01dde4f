"""Export an ultralytics detector (``yolov8s``, ``*.pt``) to ONNX for the default onnxruntime backend.

    python tools/export_detector.py --model yolov8s.pt --imgsz 640 [--half] [--output models/yolov8s.onnx]

The exported model has the YOLOv8 layout ``[1, 4+C, N]`` and its class names in its metadata;
use it with ``MOT.DETECTOR: yolov8s.onnx``. Needs the ``ultralytics`` extra and local weights
(or ``VEHICLE_MTMC_ALLOW_DOWNLOADS=1`` on a machine with internet access).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path

from detection.ultralytics_yolo import ALLOW_DOWNLOADS_ENV, resolve_weights
from models.runtime import BackendUnavailableError, import_backend

log = logging.getLogger("tools.export_detector")


def export(model: str, imgsz: int, half: bool, output: Path | None) -> Path:
    weights = resolve_weights(model)
    if os.environ.get(ALLOW_DOWNLOADS_ENV) != "1":
        os.environ["YOLO_OFFLINE"] = "1"
    ultralytics = import_backend("ultralytics", "ultralytics")
    ultralytics.settings.update({"sync": False})
    exported = Path(ultralytics.YOLO(weights).export(format="onnx", imgsz=imgsz, half=half, dynamic=False))
    if output is not None and exported != output:
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(exported, output)
        return output
    return exported


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export an ultralytics detector to ONNX.")
    parser.add_argument("--model", required=True, help="weights file or name (yolov8s, yolo11n.pt, ...)")
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--half", action="store_true", help="fp16 weights (GPU inference only)")
    parser.add_argument("--output", type=Path, help="where to put the .onnx (default: beside the weights)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        path = export(args.model, args.imgsz, args.half, args.output)
    except (BackendUnavailableError, OSError) as err:
        log.error("%s", err)
        return 2
    log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
