"""What a run will do, worked out before it starts (shown by ``--dry-run`` and saved as plan.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from yacs.config import CfgNode

from config.detector_defaults import value_sources
from config.paths import atomic_write_text
from config.reid_defaults import reid_choice
from detection.filters import check_mask_size, load_mask
from detection.video import VideoInfo, VideoSourceError, probe_video
from models.registry import resolve_model
from models.runtime import detector_backend
from mot.model_checks import OpenModel, model_problems


def camera_plan(mot: CfgNode, name: str, output_dir: Path, models: OpenModel | None = None) -> dict[str, Any]:
    """One camera: its input, models, tracker, the detector-dependent values and where results go.

    With ``models`` (the run's ``ModelCache``), the detector and ReID networks are loaded and
    checked against the config once the input is known to be usable; problems go to
    ``model_errors`` (see ``plan_errors``).
    """
    try:
        info = probe_video(mot.VIDEO)
        frames = (
            info.frames if info.frames > 0 else None
        )  # null: unknown (a stream, or a file that does not say)
        video = {"frames": frames, "fps": info.fps, "size": [info.width, info.height]}
        input_errors = frame_input_errors(mot, info)
    except VideoSourceError as err:
        video = {"error": str(err)}
        input_errors = []
    usable = "error" not in video and not input_errors
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
            "why": reid_choice(mot),
        },
        "tracker": mot.TRACKER,
        "alpr": mot.ENABLE_ALPR,
        "output_dir": str(output_dir),
        "input_errors": input_errors,
        "detector_defaults": value_sources(mot),
        # models load only for a usable input: a bad video or side file costs seconds, not a model load
        "model_errors": model_problems(mot, models) if models is not None and usable else [],
    }


def frame_input_errors(mot: CfgNode, info: VideoInfo) -> list[str]:
    """The inputs read beside the video (detection mask, zone masks, calibration), loaded and
    compared with the frame size now, so a bad file stops the run before any model loads."""
    from mot.speed import load_calibration
    from mot.zones import ZoneError, load_zones

    checks = []
    if mot.DETECTION_MASK:
        checks.append(
            lambda: check_mask_size(
                load_mask(mot.DETECTION_MASK), (info.height, info.width), mot.DETECTION_MASK
            )
        )
    if mot.ZONE_MASK_DIR:

        def zones() -> None:
            shape = load_zones(mot.ZONE_MASK_DIR).shape
            if shape != (info.height, info.width):
                raise ZoneError(
                    f"{mot.ZONE_MASK_DIR}: zone masks are {shape[1]}x{shape[0]}, the camera's frames "
                    f"{info.width}x{info.height}"
                )

        checks.append(zones)
    if mot.CALIBRATION:
        checks.append(lambda: load_calibration(mot.CALIBRATION, (info.width, info.height)))
    errors = []
    for check in checks:
        try:
            check()
        except (ValueError, OSError) as err:  # the loaders raise ValueError subclasses naming the file
            errors.append(str(err))
    return errors


def format_camera(plan: dict[str, Any]) -> str:
    info = plan["video_info"]
    video = (
        info.get("error")
        or f"{info['frames'] or 'unknown number of'} frames, {info['fps']:.2f} fps, "
        f"{info['size'][0]}x{info['size'][1]}"
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
    ] + [f"camera '{c['name']}': {e}" for c in plan["cameras"] for e in c.get("input_errors", [])]
