"""Model resolution order, the miss message, and the manifest's hashes against the real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from models import registry
from models.registry import MODELS_DIR, ModelNotFoundError, load_manifest, resolve_model, sha256_of


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: Path) -> None:
    env_dir = tmp_path / "env_models"
    env_dir.mkdir()
    (env_dir / "yolox_nano.onnx").write_bytes(b"env copy")
    monkeypatch.setenv(registry.ENV_VAR, str(env_dir))
    # $VEHICLE_MTMC_MODELS comes before ../shared/models
    assert resolve_model("yolox_nano.onnx") == env_dir / "yolox_nano.onnx"
    # a manifest name finds its file
    assert resolve_model("yolox_nano") == env_dir / "yolox_nano.onnx"
    # models/ comes before the environment variable
    monkeypatch.setattr(registry, "MODELS_DIR", tmp_path / "repo_models")
    (tmp_path / "repo_models").mkdir()
    (tmp_path / "repo_models" / "yolox_nano.onnx").write_bytes(b"repo copy")
    assert resolve_model("yolox_nano.onnx") == tmp_path / "repo_models" / "yolox_nano.onnx"
    # an explicit path wins over everything
    explicit = tmp_path / "mine.onnx"
    explicit.write_bytes(b"x")
    assert resolve_model(str(explicit)) == explicit


def test_shared_models_are_found_without_configuration(monkeypatch: pytest.MonkeyPatch, shared: Path) -> None:
    monkeypatch.delenv(registry.ENV_VAR, raising=False)
    found = resolve_model("mobilenetv2_imagenet_features.onnx")
    assert found.resolve() == (shared / "models" / "mobilenetv2_imagenet_features.onnx").resolve()
    xml = resolve_model("vehicle-attributes-recognition-barrier-0039")
    assert xml.name == "vehicle-attributes-recognition-barrier-0039.xml"


def test_miss_lists_every_place_and_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(registry.ENV_VAR, str(tmp_path))
    monkeypatch.setattr(registry, "SHARED_MODELS_DIR", tmp_path / "no_shared")
    monkeypatch.setattr(registry, "MODELS_DIR", tmp_path / "repo_models")
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("yolox_nano")
    message = str(info.value)
    assert str(tmp_path / "repo_models" / "yolox_nano.onnx") in message
    assert str(tmp_path / "yolox_nano.onnx") in message
    assert "python tools/download_models.py yolox_nano" in message
    with pytest.raises(ModelNotFoundError, match=r"to create it: python reid/onnx_exporter\.py"):
        resolve_model("mobilenetv2_imagenet_features")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model(str(tmp_path / "absent.onnx"))


def test_manifest_hashes_match_the_offline_copies(shared: Path) -> None:
    checked = 0
    for entry in load_manifest().values():
        if not entry.sha256 and entry.sha384:  # the publisher's sha384 (OMZ); no offline copy to check
            assert entry.url and entry.size, entry.name
            continue
        if not entry.sha256:  # made on the user's machine by a tool (its ``export`` line), e.g. int8 copies
            assert entry.export and not entry.url, entry.name
            continue
        for item in entry.downloads:
            shipped = MODELS_DIR / item.file  # models trained by the project ship in the package
            path = shipped if shipped.is_file() else shared / "models" / item.file
            assert path.is_file(), f"{entry.name}: {path} missing"
            assert sha256_of(path) == item.sha256, item.file
            checked += 1
    assert checked == 14  # incl. vehicle-detection-0202 (.xml, .bin), yolov8n_int8, the 2 shipped ReID models
