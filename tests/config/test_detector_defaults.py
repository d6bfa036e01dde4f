"""Detector-aware defaults: the manifest's values apply to every tunable key the user left unset."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.cameras import camera_config
from config.defaults import SCHEMA_BY_NAME
from config.detector_defaults import TUNABLE_KEYS, explicit_keys, recommended_values, value_sources
from config.loader import ConfigError, load_config
from models.registry import load_manifest


def test_every_detector_of_the_manifest_recommends_every_tunable_key() -> None:
    detectors = [e for e in load_manifest().values() if e.recommended and e.role != "reid"]
    assert {e.name for e in detectors} >= {"yolox_nano", "vehicle-detection-0202", "vehicle-detection-0200"}
    for entry in detectors:
        assert set(entry.recommended) == set(TUNABLE_KEYS), entry.name
        for key, value in entry.recommended.items():
            assert SCHEMA_BY_NAME[key].check(value), (entry.name, key, value)


def test_unset_keys_follow_the_detector_and_set_keys_win(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("MOT:\n  DETECTOR: yolov8n_int8.onnx\n  DETECTION_NMS_IOU: 0.5\n")
    cfg = load_config(path, ["MOT.BYTETRACK.TRACK_THRESH", "0.4"])
    assert cfg.MOT.BYTETRACK.TRACK_THRESH == 0.4  # command line
    assert cfg.MOT.DETECTION_NMS_IOU == 0.5  # config file
    assert (
        recommended_values("yolov8n_int8.onnx")["MOT.BYTETRACK.NEW_TRACK_THRESH"]
        == cfg.MOT.BYTETRACK.NEW_TRACK_THRESH
    )
    assert cfg.MOT.DETECTOR_INPUT_SIZE == [640, 640]
    assert explicit_keys(cfg) >= {"MOT.DETECTOR", "MOT.DETECTION_NMS_IOU", "MOT.BYTETRACK.TRACK_THRESH"}
    sources = value_sources(cfg.MOT)
    assert sources["MOT.DETECTION_NMS_IOU"]["source"] == "config"
    assert sources["MOT.BYTETRACK.NEW_TRACK_THRESH"]["source"].startswith("detector yolov8n_int8")


def test_the_default_detector_brings_its_values() -> None:
    cfg = load_config(None)
    assert cfg.MOT.DETECTOR == "vehicle-detection-0202"
    assert (
        recommended_values("vehicle-detection-0202")["MOT.DETECTOR_INPUT_SIZE"] == cfg.MOT.DETECTOR_INPUT_SIZE
    )


def test_an_unknown_detector_keeps_the_schema_defaults(tmp_path: Path) -> None:
    cfg = load_config(None, ["MOT.DETECTOR", str(tmp_path / "custom.onnx")])
    for key in TUNABLE_KEYS:
        node = cfg
        for part in key.split("."):
            node = node[part]
        assert node == SCHEMA_BY_NAME[key].default
    assert {v["source"] for v in value_sources(cfg.MOT).values()} == {"default"}


def test_a_camera_with_its_own_detector_gets_that_detectors_values(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(
        "MOT:\n  BYTETRACK:\n    LOW_THRESH: 0.05\n"
        "EXPRESS:\n  CAMERAS:\n    - {video: a.mp4}\n    - {video: b.mp4, detector: yolox_nano.onnx}\n"
    )
    cfg = load_config(path)
    first, second = camera_config(cfg, 0).MOT, camera_config(cfg, 1).MOT
    assert first.DETECTOR_INPUT_SIZE == [576, 1024] and second.DETECTOR_INPUT_SIZE == [416, 416]
    assert first.BYTETRACK.LOW_THRESH == second.BYTETRACK.LOW_THRESH == 0.05  # set by the user for all
    assert value_sources(second)["MOT.DETECTOR_INPUT_SIZE"]["source"].startswith("detector yolox_nano")


def test_a_detector_of_the_wrong_type_is_a_config_error_not_a_crash() -> None:
    with pytest.raises(ConfigError, match=r"MOT\.DETECTOR: expected a string"):
        load_config(None, ["MOT.DETECTOR", "5"])
