"""Input conventions of ReID models from the config, held to what the model file declares.

The stand-in models return each input channel's mean, so the features show exactly what the
embedder fed them: channel order, scaling and size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")

from config.loader import load_config  # noqa: E402
from mot.model_cache import ModelCache  # noqa: E402
from reid.factory import build_embedder  # noqa: E402

BGR = (10, 20, 30)  # a solid crop: blue 10, green 20, red 30
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


class ChannelMeans(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


def export_plain_onnx(path: Path, size: tuple[int, int]) -> Path:
    """An ONNX file as other tools write it: fixed H x W, dynamic batch, no metadata of ours."""
    torch.onnx.export(
        ChannelMeans(),
        (torch.zeros(1, 3, *size),),
        str(path),
        input_names=["data"],
        dynamic_axes={"data": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    return path


def solid_crop() -> np.ndarray:
    return np.broadcast_to(np.array(BGR, np.uint8), (50, 40, 3)).copy()


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def mot_config(tmp_path: Path, **mot: object) -> object:
    (tmp_path / "mot.yaml").write_text(yaml.dump({"MOT": mot}))
    return load_config(tmp_path / "mot.yaml")


def test_vehicle_reid_0001_style_ir_takes_raw_bgr_pixels_at_208(tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    from models.runtime import import_openvino

    ov = import_openvino()
    xml = tmp_path / "vehicle-reid-0001.xml"
    ov.save_model(ov.convert_model(str(export_plain_onnx(tmp_path / "reid.onnx", (208, 208)))), str(xml))

    with pytest.raises(ValueError) as err:
        build_embedder("openvino", str(xml))
    message = str(err.value)
    for line in (
        "MOT.REID_INPUT_SIZE: vehicle-reid-0001.xml takes [208, 208], the config gives [224, 224]",
        "MOT.REID_CHANNEL_ORDER: vehicle-reid-0001.xml takes bgr, the config gives rgb",
        "MOT.REID_MEAN: vehicle-reid-0001.xml takes [0.0, 0.0, 0.0]",
        "MOT.REID_STD: vehicle-reid-0001.xml takes [0.003922, 0.003922, 0.003922]",
    ):
        assert line in message

    cfg = mot_config(
        tmp_path,
        REID_BACKEND="openvino",
        REID_ONNX=str(xml),
        REID_INPUT_SIZE=[208, 208],
        REID_CHANNEL_ORDER="bgr",
        REID_MEAN=[0.0, 0.0, 0.0],
        REID_STD=[1 / 255] * 3,
    )
    features = ModelCache().embedder(cfg.MOT).embed_crops([solid_crop()])
    np.testing.assert_allclose(features[0], unit(np.array(BGR, float)), atol=1e-5)  # raw B, G, R


def test_osnet_onnx_takes_imagenet_rgb_at_its_own_size(tmp_path: Path) -> None:
    onnx = export_plain_onnx(tmp_path / "osnet_x1_0_veri.onnx", (256, 128))
    with pytest.raises(ValueError, match=r"MOT.REID_INPUT_SIZE: osnet_x1_0_veri.onnx takes \[256, 128\]"):
        build_embedder("onnxruntime", str(onnx))
    with pytest.raises(
        ValueError, match=r"MOT.REID_CHANNEL_ORDER: osnet_x1_0_veri.onnx takes rgb, the config gives bgr"
    ):
        build_embedder("onnxruntime", str(onnx), input_size=(256, 128), channel_order="bgr")
    with pytest.raises(ValueError, match=r"MOT.REID_STD: osnet_x1_0_veri.onnx takes \[0.229, 0.224, 0.225\]"):
        build_embedder("onnxruntime", str(onnx), input_size=(256, 128), std=(0.5, 0.5, 0.5))

    cfg = mot_config(tmp_path, REID_ONNX=str(onnx), REID_INPUT_SIZE=[256, 128])
    features = ModelCache().embedder(cfg.MOT).embed_crops([solid_crop()])
    rgb = np.array(BGR[::-1], float) / 255
    np.testing.assert_allclose(features[0], unit((rgb - IMAGENET_MEAN) / IMAGENET_STD), atol=1e-4)


def test_a_model_that_declares_nothing_follows_the_config(tmp_path: Path) -> None:
    onnx = export_plain_onnx(tmp_path / "custom_reid.onnx", (64, 64))
    embedder = build_embedder("onnxruntime", str(onnx), input_size=(64, 64), channel_order="bgr")
    expected = (np.array(BGR, float) / 255 - IMAGENET_MEAN) / IMAGENET_STD  # the config's mean/std, BGR order
    np.testing.assert_allclose(embedder.embed_crops([solid_crop()])[0], unit(expected), atol=1e-4)
    with pytest.raises(ValueError, match=r"MOT.REID_INPUT_SIZE: custom_reid.onnx takes \[64, 64\]"):
        build_embedder("onnxruntime", str(onnx))


def test_omz_vehicle_reid_onnx_takes_raw_rgb_pixels_at_208(tmp_path: Path) -> None:
    # a stand-in under the Open Model Zoo file name, fixed batch 1 like the real export
    onnx = tmp_path / "osnet_ain_x1_0_vehicle_reid.onnx"
    torch.onnx.export(
        ChannelMeans(), (torch.zeros(1, 3, 208, 208),), str(onnx), opset_version=17, dynamo=False
    )
    with pytest.raises(ValueError) as err:
        build_embedder("onnxruntime", str(onnx))
    for line in (
        "MOT.REID_INPUT_SIZE: osnet_ain_x1_0_vehicle_reid.onnx takes [208, 208], the config gives [224, 224]",
        "MOT.REID_MEAN: osnet_ain_x1_0_vehicle_reid.onnx takes [0.0, 0.0, 0.0]",
        "MOT.REID_STD: osnet_ain_x1_0_vehicle_reid.onnx takes [0.003922, 0.003922, 0.003922]",
    ):
        assert line in str(err.value)
    # naming the model is enough: its manifest entry fills the convention keys left unset
    cfg = mot_config(tmp_path, REID_ONNX=str(onnx))
    assert list(cfg.MOT.REID_INPUT_SIZE) == [208, 208] and cfg.MOT.REID_CHANNEL_ORDER == "rgb"
    features = ModelCache().embedder(cfg.MOT).embed_crops([solid_crop(), solid_crop()])
    np.testing.assert_allclose(features, [unit(np.array(BGR[::-1], float))] * 2, atol=1e-5)  # raw R, G, B
