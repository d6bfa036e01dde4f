"""The seed's vehicle_reid checkpoints: opts.yaml + net_N.pth as the training code writes them.

No real weights exist offline, so the checkpoints are randomly initialised networks in exactly
the training code's state-dict layout (backbone under ``model.``, head ``classifier.add_block``
+ ``classifier.classifier``), saved as a user's files are, and loaded through the config.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")

from config.loader import load_config  # noqa: E402
from config.verify_config import validate  # noqa: E402
from detection.boxes import crop_boxes  # noqa: E402
from mot.model_cache import ModelCache  # noqa: E402
from reid.embedder import ModelEmbedder, l2_normalise  # noqa: E402
from reid.factory import build_embedder  # noqa: E402
from reid.onnx_exporter import export_onnx, max_abs_difference, verification_batch  # noqa: E402
from reid.preprocess import to_batch  # noqa: E402
from reid.vehicle_reid import ReidOpts, build_network  # noqa: E402

SIZE = (64, 64)
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# What train.py's ``yaml.dump(vars(opt))`` writes for a ResNet50-IBN run (a subset of its keys).
TRAIN_OPTS = {
    "batchsize": 32,
    "droprate": 0.5,
    "erasing_p": 0.5,
    "linear_num": 512,
    "lr": 0.05,
    "model": "resnet_ibn",
    "model_subtype": "default",
    "name": "resnet50_ibn",
    "nclasses": 40,
    "stride": 1,
    "total_epoch": 20,
}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> object:
    """One intra-op thread: on a busy shared machine torch's spinning threads only slow it down."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def randomise(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights and batch-norm statistics, so that every loaded tensor changes the features."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if not tensor.dtype.is_floating_point:
                continue
            noise = torch.randn(tensor.shape, generator=gen)
            if name.endswith("running_var"):
                tensor.copy_(noise.abs() * 0.5 + 0.5)
            elif name.endswith(("bn1.weight", "bn2.weight", "bn3.weight", "BN.weight", "IN.weight")):
                tensor.copy_(1 + 0.1 * noise)
            else:
                tensor.copy_(tensor + 0.02 * noise)
    return net.eval()


def save_checkpoint(folder: Path, opts: dict, net: torch.nn.Module, epoch: int = 19) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "opts.yaml").write_text(yaml.dump(opts, default_flow_style=False))
    torch.save(net.state_dict(), folder / f"net_{epoch}.pth")
    return folder / "opts.yaml", folder / f"net_{epoch}.pth"


@pytest.fixture(scope="module")
def ibn(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path, Path]:
    """A ResNet50-IBN checkpoint (2048 -> 512, last stride 1) and the network it was saved from."""
    net = randomise(build_network(ReidOpts.from_mapping(TRAIN_OPTS, "opts")), 0)
    opts, ckpt = save_checkpoint(tmp_path_factory.mktemp("resnet50_ibn"), TRAIN_OPTS, net)
    return net, opts, ckpt


@pytest.fixture(scope="module")
def crops(shared: Path) -> list[np.ndarray]:
    image = cv2.imread(str(shared / "data/images/mercedes.jpg"))
    h, w = image.shape[:2]
    return crop_boxes(image, np.array([[0, 0, w // 2, h // 2], [w // 3, h // 3, w, h]], np.float32))


def expected_features(net: torch.nn.Module, crops: list[np.ndarray], flip: bool = False) -> np.ndarray:
    """What the training code's network gives on our preprocessing, normalised as its extraction does."""
    batch = torch.from_numpy(to_batch(crops, SIZE, *IMAGENET))
    with torch.inference_mode():
        out = net(batch)
        if flip:
            out = out + net(torch.flip(batch, dims=[3]))
    return l2_normalise(out.numpy())


def config_for(tmp_path: Path, opts: Path, ckpt: Path, *extra: str) -> object:
    cfg_file = tmp_path / "mot.yaml"
    cfg_file.write_text(
        yaml.dump(
            {
                "MOT": {
                    "REID_BACKEND": "torch",
                    "REID_MODEL_OPTS": str(opts),
                    "REID_MODEL_CKPT": str(ckpt),
                    "REID_INPUT_SIZE": list(SIZE),
                }
            }
        )
    )
    return load_config(cfg_file, list(extra))


def test_resnet50_ibn_checkpoint_runs_through_the_config_and_exports_to_onnx(
    ibn: tuple[torch.nn.Module, Path, Path], crops: list[np.ndarray], tmp_path: Path, shared: Path
) -> None:
    net, opts, ckpt = ibn
    cfg = config_for(tmp_path, opts, ckpt)
    assert validate(cfg, "any") == []
    embedder = ModelCache().embedder(cfg.MOT)
    feats = embedder.embed_crops(crops)
    assert feats.shape == (2, 512) and embedder.dim == 512
    np.testing.assert_allclose(feats, expected_features(net, crops), atol=1e-5)

    flipped = ModelEmbedder(embedder.runner, SIZE, *IMAGENET, flip=True)  # what MOT.REID_FLIP builds
    np.testing.assert_allclose(
        flipped.embed_crops(crops), expected_features(net, crops, flip=True), atol=1e-5
    )

    onnx_path = tmp_path / "resnet50_ibn.onnx"
    module = embedder.runner.module
    export_onnx(module, onnx_path, SIZE)
    check = verification_batch([shared / "data/images/mercedes.jpg"], SIZE)  # ten real crops
    assert max_abs_difference(module, onnx_path, check) < 1e-4
    ort = build_embedder("onnxruntime", str(onnx_path), input_size=SIZE)
    batch = to_batch(crops, SIZE, *IMAGENET)
    with torch.inference_mode():
        reference = net(torch.from_numpy(batch)).numpy()
    assert np.abs(ort.runner.run(batch)[0] - reference).max() < 1e-4
    np.testing.assert_allclose(ort.embed_crops(crops), feats, atol=1e-4)
    # The exported file states its convention, and the config is held to it.
    with pytest.raises(ValueError, match=r"MOT.REID_CHANNEL_ORDER: resnet50_ibn.onnx takes rgb"):
        build_embedder("onnxruntime", str(onnx_path), input_size=SIZE, channel_order="bgr")
    with pytest.raises(
        ValueError,
        match=r"MOT.REID_INPUT_SIZE: resnet50_ibn.onnx takes \[64, 64\], the config gives \[128, 64\]",
    ):
        build_embedder("onnxruntime", str(onnx_path), input_size=(128, 64))


def test_wrong_checkpoint_names_the_first_mismatched_key(
    ibn: tuple[torch.nn.Module, Path, Path], tmp_path: Path
) -> None:
    net, _, _ = ibn
    state = net.state_dict()

    def load(opts_dict: dict, weights: dict) -> None:
        o, c = save_checkpoint(tmp_path / str(len(list(tmp_path.iterdir()))), opts_dict, _Weights(weights))
        build_embedder("torch", opts=str(o), checkpoint=str(c), input_size=SIZE)

    missing = {k: v for k, v in state.items() if k != "model.layer2.0.conv1.weight"}
    with pytest.raises(ValueError, match=r"first mismatched key 'model.layer2.0.conv1.weight' is missing"):
        load(TRAIN_OPTS, missing)
    # A plain ResNet50 opts.yaml for the IBN weights: the first IBN norm is where they part.
    with pytest.raises(ValueError, match=r"first mismatched key 'model.layer1.0.bn1.weight' is missing"):
        load({**TRAIN_OPTS, "model": "resnet"}, state)
    with pytest.raises(
        ValueError,
        match=r"'classifier.add_block.0.weight' has shape \[512, 2048\] in the checkpoint, the network needs "
        r"\[256, 2048\]",
    ):
        load({**TRAIN_OPTS, "linear_num": 256}, state)
    extra = {**state, "model.layer5.weight": torch.zeros(1)}
    with pytest.raises(
        ValueError, match=r"first mismatched key 'model.layer5.weight' is not part of the network"
    ):
        load(TRAIN_OPTS, extra)
    # The identity classifier of training is dropped: another class count still loads.
    other_classes = {**state, "classifier.classifier.0.weight": torch.zeros(7, 512)}
    other_classes["classifier.classifier.0.bias"] = torch.zeros(7)
    load(TRAIN_OPTS, other_classes)
    with pytest.raises(ValueError, match=r"model 'mobilenet' is not supported"):
        load({**TRAIN_OPTS, "model": "mobilenet"}, state)


class _Weights(torch.nn.Module):
    """Saves an arbitrary state dict the way train.py saves the network's."""

    def __init__(self, state: dict) -> None:
        super().__init__()
        self._state = state

    def state_dict(self, *args: object, **kwargs: object) -> dict:  # type: ignore[override]
        return dict(self._state)


# State-dict sizes of the backbones as the reference libraries build them (torchvision 0.29,
# efficientnet_pytorch 0.7.1: counted with those libraries; IBN-a: torchvision's ResNet50 with
# two more keys, IN.weight and IN.bias, in each of the 13 blocks of layer1-3), and probes.
IBN_PROBES = {
    "model.layer1.0.bn1.IN.weight": [32],
    "model.layer1.0.bn1.BN.running_mean": [32],
    "model.layer3.5.bn1.IN.bias": [128],
    "model.layer4.0.bn1.weight": [512],
    "model.fc.weight": [1000, 2048],
}
DENSENET_PROBES = {
    "model.features.denseblock4.denselayer16.conv2.weight": [32, 128, 3, 3],
    "model.features.norm5.running_var": [1024],
    "model.classifier.weight": [1000, 1024],
}
B0_PROBES = {
    "model._blocks.15._project_conv.weight": [320, 1152, 1, 1],
    "model._conv_head.weight": [1280, 320, 1, 1],
    "model._blocks.0._se_reduce.bias": [8],
    "model._fc.weight": [1000, 1280],
}
B3_PROBES = {
    "model._blocks.25._project_conv.weight": [384, 2304, 1, 1],
    "model._conv_head.weight": [1536, 384, 1, 1],
}
HEAD_KEYS = {
    *(f"classifier.add_block.0.{p}" for p in ("weight", "bias")),
    *(
        f"classifier.add_block.1.{p}"
        for p in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    ),
    *(f"classifier.classifier.0.{p}" for p in ("weight", "bias")),
}


@pytest.mark.parametrize(
    ("opts", "keys", "probes"),
    [
        ({"model": "resnet_ibn"}, 320 + 2 * 13, IBN_PROBES),
        (
            {"model": "resnet", "model_subtype": "101"},
            626,
            {"model.layer3.22.conv3.weight": [1024, 256, 1, 1]},
        ),
        ({"model": "densenet"}, 727, DENSENET_PROBES),
        ({"model": "efficientnet", "model_subtype": "b0"}, 360, B0_PROBES),
        ({"model": "efficientnet", "model_subtype": "b3"}, 574, B3_PROBES),
    ],
    ids=["resnet50_ibn", "resnet101", "densenet121", "efficientnet-b0", "efficientnet-b3"],
)
def test_architectures_have_the_training_code_state_dict_layout(opts: dict, keys: int, probes: dict) -> None:
    net = build_network(ReidOpts.from_mapping({**TRAIN_OPTS, **opts}, "opts"))
    state = net.state_dict()
    backbone = [k for k in state if k.startswith("model.")]
    assert len(backbone) == keys
    for key, shape in probes.items():
        assert list(state[key].shape) == shape, key
    assert set(state) - set(backbone) == HEAD_KEYS
    assert state["classifier.add_block.0.weight"].shape[0] == 512
    with torch.inference_mode():
        assert net.eval()(torch.zeros(2, 3, *SIZE)).shape == (2, 512)


@pytest.mark.skipif(importlib.util.find_spec("timm") is not None, reason="timm is installed")
def test_timm_variants_say_that_they_need_timm(tmp_path: Path) -> None:
    from models.runtime import BackendUnavailableError

    (tmp_path / "opts.yaml").write_text(yaml.dump({**TRAIN_OPTS, "model": "hr"}))
    with pytest.raises(BackendUnavailableError, match="'timm' package"):
        build_embedder("torch", opts=str(tmp_path / "opts.yaml"), checkpoint=str(tmp_path / "net_1.pth"))


def test_hrnet_through_timm_loads_strictly(tmp_path: Path) -> None:
    pytest.importorskip("timm")
    opts_dict = {**TRAIN_OPTS, "model": "hr"}
    net = randomise(build_network(ReidOpts.from_mapping(opts_dict, "opts")), 1)
    opts, ckpt = save_checkpoint(tmp_path, opts_dict, net)
    embedder = build_embedder("torch", opts=str(opts), checkpoint=str(ckpt), input_size=SIZE)
    assert embedder.dim == 512
    assert not any(k.startswith("model.classifier.") for k in net.state_dict())


def test_resnet50_ibn_checkpoint_tracks_real_frames_end_to_end(
    ibn: tuple[torch.nn.Module, Path, Path], tmp_path: Path, shared: Path
) -> None:
    from mot.run_tracker import main as run_tracker
    from mot.tracklet_file import load_tracklet_file
    from tests.conftest import EXAMPLES

    _, opts, ckpt = ibn
    overrides = {
        "MOT.VIDEO": shared / "data/traffic/MVI_20011",
        "MOT.VIDEO_OUTPUT": "false",
        "MOT.REID_BACKEND": "torch",
        "MOT.REID_MODEL_OPTS": opts,
        "MOT.REID_MODEL_CKPT": ckpt,
        "MOT.REID_INPUT_SIZE": "[64, 64]",
        "OUTPUT_DIR": tmp_path,
    }
    args = [str(v) for kv in overrides.items() for v in kv]
    assert run_tracker(["--config", str(EXAMPLES / "mot_intersection.yaml"), *args]) == 0
    tracklets = load_tracklet_file(tmp_path / "mot.npz").tracklets
    assert tracklets and all(t.mean_feature is not None and t.mean_feature.shape == (512,) for t in tracklets)


def _randomised_pair(ours: torch.nn.Module, reference: torch.nn.Module) -> None:
    """The same random weights in both networks, whose state dicts must have the same keys and shapes."""
    a, b = ours.state_dict(), reference.state_dict()
    assert list(a) == list(b)
    assert all(a[k].shape == b[k].shape for k in a)
    randomise(reference, 3)
    ours.load_state_dict(reference.state_dict())
    ours.eval()


def test_efficientnet_equals_efficientnet_pytorch() -> None:
    """Checked against the library the training code used, where it is installed (not a dependency)."""
    reference_lib = pytest.importorskip("efficientnet_pytorch")
    from reid.backbones import EfficientNet

    for variant in ("b0", "b4"):  # b4: "same" padding fixed for 380 x 380, run at 224 x 224
        reference = reference_lib.EfficientNet.from_name(f"efficientnet-{variant}")
        ours = EfficientNet(variant)
        _randomised_pair(ours, reference)
        x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            expected = torch.nn.functional.adaptive_avg_pool2d(reference.extract_features(x), 1).flatten(1)
            assert (ours.pooled(x) - expected).abs().max() < 1e-5


def test_resnet_and_densenet_equal_torchvision() -> None:
    """Checked against torchvision where it is installed (not a dependency)."""
    models = pytest.importorskip("torchvision.models")
    from reid.backbones import DenseNet121, ResNet

    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    reference = models.resnet50()
    ours = ResNet("50")
    _randomised_pair(ours, reference)
    reference.fc = torch.nn.Identity()
    with torch.inference_mode():
        assert (ours.pooled(x) - reference(x)).abs().max() < 1e-5
    dense = models.densenet121()
    ours_dense = DenseNet121()
    dense.features.avgpool = torch.nn.AdaptiveAvgPool2d(1)  # as the training code adds it
    _randomised_pair(ours_dense, dense)
    with torch.inference_mode():
        assert (ours_dense.pooled(x) - dense.features(x).flatten(1)).abs().max() < 1e-5
