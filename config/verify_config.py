"""Validate a merged config once, before any work starts, and report every problem.

Each problem is one line ``KEY.PATH: expected ..., got ...`` (or ``...: file not found``).
Which keys are required and which files must exist depends on the runner (``mode``):

========  ==========================================================================
mode      requires
========  ==========================================================================
mot       MOT.VIDEO, OUTPUT_DIR, a resolvable detector and ReID model
express   EXPRESS.CAMERAS, MTMC.CAMERA_LAYOUT (one camera per entry), OUTPUT_DIR, models
live      as express
mtmc      MTMC.CAMERA_LAYOUT, MTMC.TRACKLETS or MTMC.PICKLED_TRACKLETS, OUTPUT_DIR
eval      EVAL.GROUND_TRUTHS and EVAL.PREDICTIONS of equal length
any       value types and ranges only
========  ==========================================================================
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from yacs.config import CfgNode

from config.cameras import camera_config, camera_name
from config.defaults import CAMERA_ONLY_KEYS, SCHEMA, SCHEMA_BY_NAME, Key
from config.layout import LayoutError, parse_layout
from config.paths import output_dir_problem, safe_name
from models.registry import ModelNotFoundError, resolve_model
from models.runtime import detector_backend

Mode = Literal["mot", "express", "live", "mtmc", "eval", "any"]
MODES: tuple[str, ...] = ("mot", "express", "live", "mtmc", "eval", "any")
CAMERA_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")

# Backends and the package each needs; checked only when selected.
BACKEND_PACKAGES = {
    "openvino": ("openvino", "pip install 'vehicle-mtmc[openvino]'"),
    "rapidocr": ("rapidocr", "pip install 'vehicle-mtmc[alpr]'"),
    "fast_alpr": ("fast_alpr", "pip install 'fast-alpr[onnx]'"),
    "ray": ("ray", "pip install 'vehicle-mtmc[ray]'"),
    "ultralytics": ("ultralytics", "pip install 'vehicle-mtmc[ultralytics]'"),
    "tensorrt": ("tensorrt", "pip install 'vehicle-mtmc[gpu]' on a machine with an NVIDIA GPU"),
    "torch": ("torch", "pip install 'vehicle-mtmc[torch]'"),
}


def validate(cfg: CfgNode, mode: Mode = "any") -> list[str]:
    """Every problem of ``cfg`` for the given runner ``mode``; empty when it is usable."""
    if mode not in MODES:
        raise ValueError(f"unknown validation mode {mode!r}; expected one of {MODES}")
    problems = [p for key in SCHEMA if (p := _check_value(key, _get(cfg, key.name), key.name))]
    problems += _check_cameras(cfg.EXPRESS.CAMERAS)
    if not problems:  # relations compare values, which must have the right types first
        problems += _check_relations(cfg)
    if problems or mode == "any":
        return problems  # file checks on ill-typed values would only repeat the same problems

    problems += _check_output_dir(cfg.OUTPUT_DIR)  # before the first result is due, not at it
    if mode in ("mot", "express", "live"):
        problems += _require(cfg, "OUTPUT_DIR")
    if mode == "mot":
        problems += _require(cfg, "MOT.VIDEO")
        problems += _check_mot_files(cfg.MOT, lambda name: f"MOT.{name}")
    if mode in ("express", "live"):
        problems += _check_express(cfg)
    if mode == "express" and cfg.EXPRESS.EXECUTOR == "ray":
        problems += _check_backend("ray", "EXPRESS.EXECUTOR")
    if mode == "mtmc":
        problems += _require(cfg, "OUTPUT_DIR") + _check_mtmc_inputs(cfg)
    if mode == "eval" or (mode == "express" and cfg.EVAL.GROUND_TRUTHS):
        problems += _check_eval(cfg, mode)
    return problems


def _get(cfg: CfgNode, name: str) -> Any:
    node: Any = cfg
    for part in name.split("."):
        node = node[part]
    return node


def _check_value(key: Key, value: Any, label: str) -> str | None:
    if key.check(value):
        return None
    return f"{label}: expected {key.check.expected}, got {value!r}"


def _check_output_dir(value: str) -> list[str]:
    problem = output_dir_problem(value) if value else None
    return [f"OUTPUT_DIR: {problem}"] if problem else []


def _require(cfg: CfgNode, name: str) -> list[str]:
    return [] if _get(cfg, name) else [f"{name}: required for this command, but empty"]


def _check_cameras(cameras: list[Any]) -> list[str]:
    problems: list[str] = []
    names: dict[str, int] = {}
    for i, cam in enumerate(cameras):
        label = f"EXPRESS.CAMERAS[{i}]"
        if not isinstance(cam, dict):
            continue  # already reported by the list check
        if not cam.get("video"):
            problems.append(f"{label}.video: required (a video file, image folder or stream URL)")
        for name, value in cam.items():
            if name in CAMERA_ONLY_KEYS:
                check = CAMERA_ONLY_KEYS[name]
                if not check(value):
                    problems.append(f"{label}.{name}: expected {check.expected}, got {value!r}")
            elif problem := _check_value(SCHEMA_BY_NAME[f"MOT.{name.upper()}"], value, f"{label}.{name}"):
                problems.append(problem)
        if cam.get("name"):
            name = str(cam["name"])
            if not CAMERA_NAME.match(name):
                problems.append(f"{label}.name: expected letters, digits, '_', '-' or '.', got {name!r}")
        else:  # the same derivation as config.loader.camera_name
            name = safe_name(Path(str(cam.get("video", ""))).stem, f"cam{i}")
        if name in names:
            problems.append(
                f"{label}.name: '{name}' is already used by EXPRESS.CAMERAS[{names[name]}]; "
                "give each camera a unique name"
            )
        names.setdefault(name, i)
    return problems


def _check_relations(cfg: CfgNode) -> list[str]:
    problems = []
    bt = cfg.MOT.BYTETRACK
    if bt.LOW_THRESH > bt.TRACK_THRESH:
        problems.append(
            f"MOT.BYTETRACK.LOW_THRESH: expected at most MOT.BYTETRACK.TRACK_THRESH "
            f"({bt.TRACK_THRESH}), got {bt.LOW_THRESH}"
        )
    if cfg.MOT.DETECTOR_INPUT_SIZE and len(cfg.MOT.DETECTOR_INPUT_SIZE) != 2:
        problems.append(
            f"MOT.DETECTOR_INPUT_SIZE: expected [] or [height, width], got {cfg.MOT.DETECTOR_INPUT_SIZE}"
        )
    if cfg.MTMC.TRACKLETS and cfg.MTMC.PICKLED_TRACKLETS:
        problems.append(
            "MTMC.PICKLED_TRACKLETS: give either MTMC.TRACKLETS or MTMC.PICKLED_TRACKLETS, not both"
        )
    problems += _check_attribute_relations(cfg.MOT, lambda name: f"MOT.{name}")
    if cfg.MTMC.PICKLED_TRACKLETS and not cfg.MTMC.ALLOW_PICKLE:
        problems.append(
            "MTMC.PICKLED_TRACKLETS: reading pickles executes code from the file; set "
            "MTMC.ALLOW_PICKLE true for files you trust, or convert them to .npz"
        )
    return problems


def _check_attribute_relations(mot: Any, label: Callable[[str], str]) -> list[str]:
    """Keys that only make sense together (checked for MOT and for every camera's view of it)."""
    problems = []
    for entry in mot.DYNAMIC_ATTRIBUTES:
        for name in entry:
            if name != "speed":
                problems.append(
                    f"{label('DYNAMIC_ATTRIBUTES')}: unknown dynamic attribute '{name}' (supported: speed)"
                )
            elif not mot.CALIBRATION:
                problems.append(
                    f"{label('DYNAMIC_ATTRIBUTES')}: speed needs MOT.CALIBRATION (a homography file)"
                )
    for entry in mot.STATIC_ATTRIBUTES:
        for name, model in entry.items():
            if model == "detector" and name != "type":
                problems.append(f"{label('STATIC_ATTRIBUTES')}: 'detector' gives only 'type', not '{name}'")
            if "vehicle-attributes-recognition" in model and name not in ("color", "type"):
                problems.append(f"{label('STATIC_ATTRIBUTES')}: {model} reads color and type, not '{name}'")
            if Path(model).suffix in (".pt", ".pth") and not mot.ATTRIBUTE_ALLOW_PICKLE:
                problems.append(
                    f"{label('STATIC_ATTRIBUTES')}: {model} is a whole torch module and loading it executes "
                    f"code from the file; set {label('ATTRIBUTE_ALLOW_PICKLE')} true for files you trust, or "
                    "convert it with tools/convert_attribute_model.py"
                )
    if mot.VALID_ZONEPATHS and not mot.ZONE_MASK_DIR:
        problems.append(f"{label('VALID_ZONEPATHS')}: needs MOT.ZONE_MASK_DIR (the zone masks)")
    return problems


def _check_mot_files(mot: Any, label: Callable[[str], str]) -> list[str]:
    """Files and backends of one camera's MOT settings (``mot`` is cfg.MOT or a camera's view of it).

    ``label`` names the key a problem belongs to (``MOT.X`` or ``EXPRESS.CAMERAS[i].x``).
    """
    problems = []
    video = mot.VIDEO
    if video and "://" not in video and not Path(video).exists():
        problems.append(f"{label('VIDEO')}: file or folder not found: {video}")
    for name, want_dir in (("DETECTION_MASK", False), ("CALIBRATION", False), ("ZONE_MASK_DIR", True)):
        problems += _check_existing(getattr(mot, name), label(name), want_dir)

    backend = detector_backend(mot.DETECTOR, mot.DETECTOR_BACKEND)
    problems += _check_backend(backend, label("DETECTOR_BACKEND"))
    if backend != "ultralytics":
        problems += _check_model(mot.DETECTOR, label("DETECTOR"))

    reid = mot.REID_BACKEND
    problems += _check_backend(reid, label("REID_BACKEND"))
    if reid == "none" and (mot.TRACKER == "deepsort" or mot.BYTETRACK.APPEARANCE):
        matcher = "MOT.TRACKER deepsort" if mot.TRACKER == "deepsort" else "MOT.BYTETRACK.APPEARANCE"
        problems.append(
            f"{label('REID_BACKEND')}: 'none' gives no appearance features, which {matcher} matches on; "
            "choose a ReID backend or plain ByteTrack"
        )
    if reid in ("onnxruntime", "openvino"):
        problems += _check_model(mot.REID_ONNX, label("REID_ONNX"))
    elif reid == "tensorrt":
        problems += _check_model(mot.REID_TRT, label("REID_TRT"))
    elif reid == "torch":
        for name in ("REID_MODEL_OPTS", "REID_MODEL_CKPT"):
            value = getattr(mot, name)
            problems += (
                _check_existing(value, label(name), False)
                if value
                else [f"{label(name)}: required when REID_BACKEND is 'torch'"]
            )
    for entry in mot.STATIC_ATTRIBUTES:
        for model in entry.values():
            if model != "detector":
                problems += _check_model(model, label("STATIC_ATTRIBUTES"))
                if model.endswith(".xml") or "recognition-barrier" in model:
                    problems += _check_backend("openvino", label("STATIC_ATTRIBUTES"))
                if Path(model).suffix in (".pt", ".pth"):
                    problems += _check_backend("torch", label("STATIC_ATTRIBUTES"))
    if mot.ENABLE_ALPR:
        problems += _check_backend(mot.ALPR_BACKEND, label("ALPR_BACKEND"))
        if mot.ALPR_BACKEND == "rapidocr" and mot.ALPR_LOCALISER == "openvino":
            problems += _check_backend("openvino", label("ALPR_LOCALISER"))
    return problems


def _check_backend(backend: str, label: str) -> list[str]:
    if backend not in BACKEND_PACKAGES:
        return []
    package, how = BACKEND_PACKAGES[backend]
    if importlib.util.find_spec(package) is None:
        return [f"{label}: '{backend}' needs the '{package}' package, which is not installed ({how})"]
    return []


def _check_existing(value: str, label: str, want_dir: bool) -> list[str]:
    if not value:
        return []
    path = Path(value)
    if want_dir and not path.is_dir():
        return [f"{label}: directory not found: {value}"]
    if not want_dir and not path.is_file():
        return [f"{label}: file not found: {value}"]
    return []


def _check_model(value: str, label: str) -> list[str]:
    if not value:
        return [f"{label}: required, but empty"]
    try:
        resolve_model(value)
    except ModelNotFoundError as err:
        return [f"{label}: {err}"]
    return []


def _check_layout(path: str, names: list[str] | None, n_expected: int, what: str) -> list[str]:
    if not path:
        return ["MTMC.CAMERA_LAYOUT: required for this command, but empty"]
    try:
        layout = parse_layout(path, names)
    except LayoutError as err:
        return [f"MTMC.CAMERA_LAYOUT: {problem}" for problem in err.problems]
    if layout.n_cams != n_expected:
        return [f"MTMC.CAMERA_LAYOUT: describes {layout.n_cams} cameras, but {what} has {n_expected}"]
    return []


def _check_express(cfg: CfgNode) -> list[str]:
    cameras = cfg.EXPRESS.CAMERAS
    if not cameras:
        return ["EXPRESS.CAMERAS: required for this command, but empty"]
    problems = []
    for i, entry in enumerate(cameras):

        def label(name: str, i: int = i, entry: dict = entry) -> str:
            return f"EXPRESS.CAMERAS[{i}].{name.lower()}" if name.lower() in entry else f"MOT.{name}"

        view = camera_config(cfg, i).MOT
        problems += _check_mot_files(view, label) + _check_attribute_relations(view, label)
        if view.REID_BACKEND == "none":
            problems.append(
                f"{label('REID_BACKEND')}: 'none' leaves the camera without appearance features, which "
                "matching across cameras needs; choose onnxruntime, openvino, torch or tensorrt "
                "(mot/run_tracker.py tracks without features)"
            )
    names = [camera_name(cfg, i) for i in range(len(cameras))]
    # A problem of a shared MOT key shows up once per camera: state it once.
    problems = list(dict.fromkeys(problems))
    return problems + _check_layout(cfg.MTMC.CAMERA_LAYOUT, names, len(cameras), "EXPRESS.CAMERAS")


def _check_mtmc_inputs(cfg: CfgNode) -> list[str]:
    files = cfg.MTMC.TRACKLETS or cfg.MTMC.PICKLED_TRACKLETS
    key = "MTMC.TRACKLETS" if cfg.MTMC.TRACKLETS else "MTMC.PICKLED_TRACKLETS"
    if not files:
        return ["MTMC.TRACKLETS: required for this command (one tracklet file per camera), but empty"]
    problems = [p for i, f in enumerate(files) for p in _check_existing(f, f"{key}[{i}]", False)]
    return problems + _check_layout(cfg.MTMC.CAMERA_LAYOUT, None, len(files), key)


def _check_eval(cfg: CfgNode, mode: str) -> list[str]:
    gts, preds = cfg.EVAL.GROUND_TRUTHS, cfg.EVAL.PREDICTIONS
    problems = [p for i, f in enumerate(gts) for p in _check_existing(f, f"EVAL.GROUND_TRUTHS[{i}]", False)]
    if mode == "eval":
        problems += [
            p for i, f in enumerate(preds) for p in _check_existing(f, f"EVAL.PREDICTIONS[{i}]", False)
        ]
        if not gts:
            problems.append("EVAL.GROUND_TRUTHS: required for this command, but empty")
        if len(preds) != len(gts):
            problems.append(
                f"EVAL.PREDICTIONS: expected one file per ground truth ({len(gts)}), got {len(preds)}"
            )
    elif len(gts) != len(cfg.EXPRESS.CAMERAS):
        problems.append(
            f"EVAL.GROUND_TRUTHS: expected one file per camera ({len(cfg.EXPRESS.CAMERAS)}), got {len(gts)}"
        )
    return problems
