"""The original project's attribute models: whole torch modules saved with ``torch.save(model)``.

Both kinds are built here as the original saved them (a net on ReID features of a class of
its own, a CNN on crops), refused without the opt-in, run with it, and converted once into safe
files that give the same labels on real crops and on real ReID features.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")

from config.loader import ConfigError, load_config  # noqa: E402
from reid.attributes import ORIGINAL_LABELS, EmbeddingClassifier, build_attribute_readers  # noqa: E402
from reid.factory import build_embedder  # noqa: E402
from reid.onnx_exporter import grid_crops  # noqa: E402
from reid.preprocess import to_batch  # noqa: E402
from tools.convert_attribute_model import main as convert_main  # noqa: E402

# A module of the user's own, as the original project's training code defined its nets.
SEED_NETS = textwrap.dedent(
    """
    import torch
    from torch import nn


    class ColorNet(nn.Module):
        def __init__(self, dim: int, classes: int) -> None:
            super().__init__()
            self.fc1 = nn.Linear(dim, 64)
            self.fc2 = nn.Linear(64, classes)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))
    """
)
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@pytest.fixture(scope="module")
def crops(shared: Path) -> list[np.ndarray]:
    """Ten real crops: the mercedes photo and a 3 x 3 grid of it."""
    return grid_crops(cv2.imread(str(shared / "data/images/mercedes.jpg")))


@pytest.fixture(scope="module")
def features(crops: list[np.ndarray]) -> np.ndarray:
    """Real ReID features (the default MobileNetV2 model, 1280-d, unit length) of the crops."""
    return build_embedder().embed_crops(crops)


def spread(module: torch.nn.Module, seed: int, centre: np.ndarray | None = None) -> torch.nn.Module:
    """Seeded weights large enough that the crops do not all get one label.

    ReID features of crops of one photo share a large common part; ``centre`` (their mean) is
    taken out by the first layer's bias, as training would learn to.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 3 / max(p[0].numel(), 1) ** 0.5)
        if centre is not None:
            first = next(m for m in module.modules() if isinstance(m, torch.nn.Linear))
            first.weight.mul_(20)
            first.bias.copy_(-first.weight @ torch.from_numpy(centre))
    return module.eval()


@pytest.fixture
def seed_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, features: np.ndarray) -> dict[str, Path]:
    """The original's two kinds of attribute model, pickled whole as torch.save(model) does."""
    (tmp_path / "seed_attribute_nets.py").write_text(SEED_NETS)
    monkeypatch.syspath_prepend(str(tmp_path))
    import seed_attribute_nets

    centre = features.mean(axis=0)
    files = {
        "color_fc.pt": spread(seed_attribute_nets.ColorNet(1280, 12), 0, centre),
        "type_cnn.pth": spread(
            torch.nn.Sequential(
                torch.nn.Conv2d(3, 8, 3, stride=2),
                torch.nn.BatchNorm2d(8),
                torch.nn.ReLU(),
                torch.nn.AdaptiveAvgPool2d(1),
                torch.nn.Flatten(),
                torch.nn.Linear(8, 12),
            ),
            1,
        ),
        "color_linear.pt": spread(
            torch.nn.Sequential(torch.nn.Dropout(0.3), torch.nn.Linear(1280, 12)), 2, centre
        ),
    }
    for name, module in files.items():
        torch.save(module, tmp_path / name)
    return {name: tmp_path / name for name in files}


def original_labels(path: Path, attribute: str, inputs: np.ndarray) -> list[str]:
    """The original's rule: ``model(X).argmax(1)`` indexes its label list."""
    module = torch.load(str(path), weights_only=False).eval()
    with torch.inference_mode():
        return [ORIGINAL_LABELS[attribute][i] for i in module(torch.from_numpy(inputs)).argmax(1).tolist()]


@pytest.mark.parametrize(("name", "attribute"), [("color_fc.pt", "color"), ("type_cnn.pth", "type")])
def test_original_attribute_modules_are_refused_without_the_opt_in(
    seed_modules: dict[str, Path], tmp_path: Path, name: str, attribute: str
) -> None:
    path = seed_modules[name]
    with pytest.raises(ValueError, match=r"executes code from it\. Set MOT\.ATTRIBUTE_ALLOW_PICKLE true"):
        build_attribute_readers([{attribute: str(path)}])
    cfg_file = tmp_path / "mot.yaml"
    cfg_file.write_text(yaml.dump({"MOT": {"STATIC_ATTRIBUTES": [{attribute: str(path)}]}}))
    with pytest.raises(ConfigError, match=r"MOT.STATIC_ATTRIBUTES: .* set MOT.ATTRIBUTE_ALLOW_PICKLE true"):
        load_config(cfg_file)
    assert load_config(cfg_file, ["MOT.ATTRIBUTE_ALLOW_PICKLE", "true"]).MOT.ATTRIBUTE_ALLOW_PICKLE
    out = tmp_path / f"{attribute}.onnx"
    assert convert_main(["--input", str(path), "--attribute", attribute, "--output", str(out)]) == 2
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "attribute", "uses", "safe"),
    [
        ("color_fc.pt", "color", "features", "color.onnx"),
        ("type_cnn.pth", "type", "crops", "type.onnx"),
        ("color_linear.pt", "color", "features", "color.npz"),
    ],
)
def test_original_modules_run_with_the_opt_in_and_their_safe_files_give_the_same_labels(
    seed_modules: dict[str, Path],
    crops: list[np.ndarray],
    features: np.ndarray,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    name: str,
    attribute: str,
    uses: str,
    safe: str,
) -> None:
    path = seed_modules[name]
    with caplog.at_level(logging.WARNING):
        (reader,) = build_attribute_readers([{attribute: str(path)}], allow_pickle=True)
    assert "unpickling attribute model" in caplog.text
    assert reader.uses == uses
    inputs = crops if uses == "crops" else features
    labels, conf = reader.read(inputs)[attribute]
    net_input = to_batch(crops, (224, 224), *IMAGENET) if uses == "crops" else features
    assert labels == original_labels(path, attribute, net_input)
    assert len(set(labels)) > 1 and np.all((conf > 1 / 12) & (conf <= 1))

    out = tmp_path / safe
    args = ["--input", str(path), "--attribute", attribute, "--output", str(out), "--allow-pickle"]
    assert convert_main(args) == 0
    (converted,) = build_attribute_readers([{attribute: str(out)}])  # no unpickling needed now
    assert converted.uses == uses
    safe_labels, safe_conf = converted.read(inputs)[attribute]
    assert safe_labels == labels
    np.testing.assert_allclose(safe_conf, conf, atol=1e-5)
    if uses == "features":  # features of another ReID model are refused by name, not by a shape error
        with pytest.raises(ValueError, match=r"1280-d (ReID )?features.*, got 512-d ones"):
            converted.read(np.zeros((2, 512), np.float32))
    if out.suffix == ".npz":
        assert isinstance(converted, EmbeddingClassifier) and converted.classes == list(
            ORIGINAL_LABELS["color"]
        )


def test_a_net_on_features_with_hidden_layers_has_no_npz_form(
    seed_modules: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "color.npz"
    args = ["--input", str(seed_modules["color_fc.pt"]), "--attribute", "color", "--output", str(out)]
    assert convert_main([*args, "--allow-pickle"]) == 2
    assert not out.exists()
