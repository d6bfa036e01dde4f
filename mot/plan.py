"""What a run will do, worked out before it starts (shown by ``--dry-run`` and saved as plan.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from yacs.config import CfgNode

from config.detector_defaults import value_sources
from config.paths import atomic_write_text
from detection.video import VideoSourceError, probe_video
from models.registry import resolve_model
from models.runtime import detector_backend
from mot.model_checks import OpenModel, model_problems


def camera_plan(mot: CfgNode, name: str, output_dir: Path, models: OpenModel | None = None) -> dict[str, Any]:
    """One camera: its input, models, tracker, the detector-dependent values and where results go.

    With ``models`` (the run's ``ModelCache``), the detector and ReID networks are loaded and
    checked against the config; problems go to ``model_errors`` (see ``plan_errors``).
    """
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
        "detector_defaults": value_sources(mot),
        "model_errors": model_problems(mot, models) if models is not None else [],
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
        f"    track  {plan['tracker']}{' + ALPR' if plan['alpr'] else ''} -> {plan['output_dir']}\n"
        f"    values {format_sources(plan.get('detector_defaults', {}))}"
    )


def format_sources(sources: dict[str, dict[str, Any]]) -> str:
    """``CONF_THRESH 0.1 (detector yolox_nano), ...`` grouped by where the values came from."""
    by_source: dict[str, list[str]] = {}
    for key, item in sources.items():
        by_source.setdefault(item["source"].split(" (")[0], []).append(
            f"{key.split('.')[-1]} {item['value']}"
        )
    return "; ".join(f"{', '.join(values)} from {source}" for source, values in by_source.items())


def save_plan(output_dir: Path, cfg: CfgNode, plan: dict[str, Any]) -> list[Path]:
    """Record the effective config and the plan in ``output_dir`` (config.yaml, plan.json)."""
    paths = [output_dir / "config.yaml", output_dir / "plan.json"]
    atomic_write_text(paths[0], cfg.dump())
    atomic_write_text(paths[1], json.dumps(plan, indent=2) + "\n")
    return paths


def plan_errors(plan: dict[str, Any]) -> list[str]:
    """Unreadable inputs and models that do not fit the config, each naming its camera."""
    models = [f"camera '{c['name']}': {e}" for c in plan["cameras"] for e in c.get("model_errors", [])]
    return video_errors(plan) + models


def video_errors(plan: dict[str, Any]) -> list[str]:
    return [
        f"camera '{c['name']}': {c['video_info']['error']}"
        for c in plan["cameras"]
        if "error" in c["video_info"]
    ]
