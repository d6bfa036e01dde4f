"""A downloaded vehicle ReID model wins over the shipped default unless the config names a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.cameras import camera_config
from config.defaults import SCHEMA_BY_NAME
from config.loader import load_config
from config.reid_defaults import CONVENTION_KEYS, reid_choice
from models.registry import ENV_VAR, load_manifest, manifest_entry

OMZ = manifest_entry("vehicle-reid-0001")
RAW_STD = [1 / 255] * 3


@pytest.fixture
def downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A download directory on $VEHICLE_MTMC_MODELS holding a file of the OMZ model's name and size."""
    assert OMZ is not None and OMZ.size is not None
    with (tmp_path / OMZ.file).open("wb") as f:
        f.truncate(OMZ.size)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    return tmp_path


SHIPPED = "vehicle_reid_mnv2_aic_vn2cam.onnx"  # the default vehicle model, in models/


def test_without_a_download_the_shipped_default_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    if (Path(__file__).parents[2] / "models" / "osnet_ain_x1_0_vehicle_reid.onnx").exists():
        pytest.skip("the OMZ model has been downloaded into models/ on this machine")
    cfg = load_config(None)
    assert cfg.MOT.REID_ONNX == SHIPPED
    assert list(cfg.MOT.REID_INPUT_SIZE) == [224, 224]
    assert "shipped default" in reid_choice(cfg.MOT)
    # its weights are research-use (AI City crops): the log names the open variant
    assert "research use" in reid_choice(cfg.MOT) and "vehicle_reid_mnv2_vn2cam.onnx" in reid_choice(cfg.MOT)


def test_a_downloaded_model_wins_with_its_convention(downloads: Path) -> None:
    cfg = load_config(None)
    assert str(downloads / OMZ.file) == cfg.MOT.REID_ONNX
    assert list(cfg.MOT.REID_INPUT_SIZE) == [208, 208] and cfg.MOT.REID_CHANNEL_ORDER == "rgb"
    assert list(cfg.MOT.REID_MEAN) == [0.0, 0.0, 0.0]
    assert list(cfg.MOT.REID_STD) == pytest.approx(RAW_STD)
    assert "downloaded vehicle-reid-0001" in reid_choice(cfg.MOT) and "MOT.REID_ONNX" in reid_choice(cfg.MOT)


def test_a_model_named_in_the_config_wins_over_a_download(downloads: Path) -> None:
    cfg = load_config(None, ["MOT.REID_ONNX", "mobilenetv2_imagenet_features.onnx"])
    assert cfg.MOT.REID_ONNX == "mobilenetv2_imagenet_features.onnx"
    assert list(cfg.MOT.REID_INPUT_SIZE) == [224, 224] and list(cfg.MOT.REID_STD) == [0.229, 0.224, 0.225]
    assert reid_choice(cfg.MOT) == "set in the config"


def test_a_convention_key_set_by_the_user_is_kept(downloads: Path) -> None:
    cfg = load_config(None, ["MOT.REID_INPUT_SIZE", "[256, 256]"])
    assert str(downloads / OMZ.file) == cfg.MOT.REID_ONNX
    assert list(cfg.MOT.REID_INPUT_SIZE) == [256, 256]  # the start-up checks will name it against the model


def test_a_partial_download_is_not_used(downloads: Path) -> None:
    with (downloads / OMZ.file).open("r+b") as f:
        f.truncate(1000)
    assert load_config(None).MOT.REID_ONNX == SHIPPED


def test_backends_without_reid_onnx_are_left_alone(downloads: Path) -> None:
    cfg = load_config(None, ["MOT.REID_BACKEND", "none"])
    assert cfg.MOT.REID_ONNX == SHIPPED
    assert list(cfg.MOT.REID_INPUT_SIZE) == [224, 224]


def test_a_camera_naming_its_own_model_gets_that_models_convention(downloads: Path, shared: Path) -> None:
    video = str(shared / "data" / "traffic" / "intersection_960x540.mp4")
    mobilenet = "mobilenetv2_imagenet_features.onnx"
    cameras = f"[{{video: {video}, name: a}}, {{video: {video}, name: b, reid_onnx: {mobilenet}}}]"
    cfg = load_config(None, ["EXPRESS.CAMERAS", cameras])
    first, second = camera_config(cfg, 0), camera_config(cfg, 1)
    assert str(downloads / OMZ.file) == first.MOT.REID_ONNX and list(first.MOT.REID_INPUT_SIZE) == [208, 208]
    assert second.MOT.REID_ONNX == "mobilenetv2_imagenet_features.onnx"
    assert list(second.MOT.REID_INPUT_SIZE) == [224, 224]


def test_every_reid_model_of_the_manifest_recommends_a_valid_convention() -> None:
    reid = [e for e in load_manifest().values() if e.role == "reid" and e.recommended]
    assert "vehicle-reid-0001" in {e.name for e in reid}
    for entry in reid:
        assert set(entry.recommended) == set(CONVENTION_KEYS), entry.name
        for key, value in entry.recommended.items():
            assert SCHEMA_BY_NAME[key].check(value), (entry.name, key, value)
