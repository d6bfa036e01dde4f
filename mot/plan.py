"""What a run will do, worked out before it starts (shown by ``--dry-run`` and saved as plan.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from yacs.config import CfgNode

from config.paths import atomic_write_text
from detection.video import VideoSourceError, probe_video
from models.registry import resolve_model
from models.runtime import detector_backend


def camera_plan(mot: CfgNode, name: str, output_dir: Path) -> dict[str, Any]:
    """One camera: its input, models, tracker and where its results go."""
    try:
        info = probe_video(mot.VIDEO)
        video = {"frames": info.frames, "fps": info.fps, "size": [info.width, info.height]}
    except VideoSourceError as err:
        video = {"error": str(err)}
    backend = detector_backend(mot.DETECTOR, mot.DETECTOR_BACKEND)
    detector = mot.DETECTOR if backend == "ultralytics" else str(resolve_model(mot.DETECTOR))
    reid = {
        "onnxruntime": mot.REID_ONNX,
        "openvino": mot.REID_ONNX,
        "tensorrt": mot.REID_TRT,
    }.get(mot.REID_BACKEND)
    return {
        "name": name,
        "video": mot.VIDEO,
        "video_info": video,
        "detector": {"model": detector, "backend": backend, "classes": list(mot.TRACKED_CLASSES)},
        "reid": {
            "model": str(resolve_model(reid)) if reid else mot.REID_MODEL_CKPT,
            "backend": mot.REID_BACKEND,
        },
        "tracker": mot.TRACKER,
        "alpr": mot.ENABLE_ALPR,
        "output_dir": str(output_dir),
    }


def format_camera(plan: dict[str, Any]) -> str:
    info = plan["video_info"]
    video = (
        info.get("error")
        or f"{info['frames']} frames, {info['fps']:.2f} fps, {info['size'][0]}x{info['size'][1]}"
    )
    detector = plan["detector"]
    return (
        f"camera '{plan['name']}': {plan['video']} ({video})\n"
        f"    detect {detector['model']} [{detector['backend']}] classes {detector['classes']}\n"
        f"    reid   {plan['reid']['model']} [{plan['reid']['backend']}]\n"
        f"    track  {plan['tracker']}{' + ALPR' if plan['alpr'] else ''} -> {plan['output_dir']}"
    )


def save_plan(output_dir: Path, cfg: CfgNode, plan: dict[str, Any]) -> list[Path]:
    """Record the effective config and the plan in ``output_dir`` (config.yaml, plan.json)."""
    paths = [output_dir / "config.yaml", output_dir / "plan.json"]
    atomic_write_text(paths[0], cfg.dump())
    atomic_write_text(paths[1], json.dumps(plan, indent=2) + "\n")
    return paths


def video_errors(plan: dict[str, Any]) -> list[str]:
    return [
        f"camera '{c['name']}': {c['video_info']['error']}"
        for c in plan["cameras"]
        if "error" in c["video_info"]
    ]
