"""ReID training on real crops: sources, pseudo-identities, losses, a few steps, and the ONNX export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from models.runtime import open_runner  # noqa: E402
from reid.training.augment import Augment, augment_crop, normalise  # noqa: E402
from reid.training.bank import build_bank  # noqa: E402
from reid.training.export import export_embedding  # noqa: E402
from reid.training.loop import TrainSettings, embed, resized_crops, train  # noqa: E402
from reid.training.losses import batch_hard_triplet  # noqa: E402
from reid.training.model import ReidNet, embedding_of, load_backbone  # noqa: E402
from reid.training.pseudo import Quality, Tracks, known_negatives, occlusion, pseudo_samples  # noqa: E402
from reid.training.sources import (  # noqa: E402
    Sample,
    hold_out,
    labelled_samples,
    time_halves_as_cameras,
)

WEIGHTS = "mobilenetv2_imagenet_features.pt"


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> None:
    """One torch thread: on a shared, busy CPU a second one mostly waits at barriers."""
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def s01(shared: Path) -> list[Sample]:
    return labelled_samples(shared / "data" / "aic_s01_c001_crops" / "labels.csv")


@pytest.fixture(scope="module")
def weights(shared: Path) -> Path:
    return shared / "models" / WEIGHTS


def few_vehicles(samples: list[Sample], vehicles: int, per_vehicle: int) -> list[Sample]:
    chosen: dict[str, list[Sample]] = {}
    for s in samples:
        if len(chosen) < vehicles or s.identity in chosen:
            group = chosen.setdefault(s.identity, [])
            if len(group) < per_vehicle:
                group.append(s)
    return [s for group in chosen.values() for s in group]


def test_labels_csv_gives_prefixed_identities_frames_and_a_whole_vehicle_holdout(s01: list[Sample]) -> None:
    assert len(s01) == 2945 and s01[0].identity == "aic_s01_c001_crops:7" and s01[0].frame == 100
    kept, held = hold_out(s01, 15, seed=0)
    held_ids = {s.identity for s in held}
    assert len(held_ids) == 15 and not held_ids & {s.identity for s in kept}
    assert len(kept) + len(held) == len(s01)


def test_time_halves_split_each_vehicle_at_its_median_frame() -> None:
    frames = [10, 11, 12, 13, 50, 60]
    ids = ["a", "a", "a", "a", "b", "b"]
    samples = [Sample(Path("x.jpg"), i, "c1", "s", f) for i, f in zip(ids, frames, strict=True)]
    cameras = [s.camera for s in time_halves_as_cameras(samples)]
    assert cameras == ["early", "early", "late", "late", "early", "late"]


def test_veri_style_folder_names_give_vehicle_and_camera(tmp_path: Path, shared: Path) -> None:
    source = next((shared / "data" / "aic_s01_c001_crops" / "images").iterdir())
    for name in ("0002_c003_00084280_0.jpg", "0002_c010_00001_1.jpg", "0015_c003_0001.jpg", "notes.jpg"):
        (tmp_path / name).write_bytes(source.read_bytes())
    samples = labelled_samples(tmp_path, name="veri")
    assert [(s.identity, s.camera) for s in samples] == [
        ("veri:2", "c3"),
        ("veri:2", "c10"),
        ("veri:15", "c3"),
    ]


def test_occlusion_is_the_largest_covered_fraction_of_each_box() -> None:
    frames = np.array([0, 0, 0, 1])
    xywh = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [100, 100, 4, 4], [0, 0, 10, 10]], float)
    assert occlusion(frames, xywh).tolist() == [0.5, 0.5, 0.0, 0.0]


def test_batch_hard_triplet_by_hand() -> None:
    # unit vectors at angles 0, 0.2 (same car) and 1.0 rad (another car)
    angles = torch.tensor([0.0, 0.2, 1.0])
    features = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    labels = torch.tensor([0, 0, 1])
    chord = lambda a: 2 * np.sin(a / 2)  # noqa: E731
    expected = np.mean(
        [max(0, chord(0.2) - chord(1.0) + 0.3), max(0, chord(0.2) - chord(0.8) + 0.3)]
    )  # the third anchor has no positive
    assert float(batch_hard_triplet(features, labels)) == pytest.approx(expected, abs=1e-5)
    nobody = torch.zeros(3, 3, dtype=torch.bool)
    assert float(batch_hard_triplet(features, labels, nobody)) == 0.0


def test_known_negatives_follow_sources_and_coexistence() -> None:
    crop = np.zeros((4, 4, 3), np.uint8)
    samples = [
        Sample(crop, "v:1", "v", "v", 0, (0, 10)),
        Sample(crop, "v:2", "v", "v", 5, (5, 20)),  # coexists with v:1
        Sample(crop, "v:3", "v", "v", 30, (30, 40)),  # after both: may be v:2 again
        Sample(Path("a.jpg"), "lab:7", "c1", "lab"),
        Sample(Path("b.jpg"), "lab:8", "c2", "lab"),
    ]
    known = known_negatives(samples)
    assert known[0, 1] and known[1, 0]
    assert not known[0, 2] and not known[1, 2]
    assert known[3, 4] and known[0, 3] and known[2, 4]
    assert not known.diagonal().any()


def test_pseudo_identities_from_a_real_clip_have_coexisting_negatives(shared: Path) -> None:
    clip = shared / "data" / "aic_s03_c010"
    gt = np.loadtxt(clip / "gt.txt", delimiter=",")
    tracks = Tracks(gt[:, 0].astype(int) - 1, gt[:, 1].astype(int), gt[:, 2:6])
    samples = pseudo_samples(clip / "c010_first100.mp4", tracks, Quality(per_track=4), name="c010")
    identities = {s.identity for s in samples}
    assert len(identities) >= 3
    for s in samples:
        crop = s.image
        assert isinstance(crop, np.ndarray) and crop.shape[0] >= 40 and crop.shape[1] >= 40
        assert sum(t.identity == s.identity for t in samples) <= 4
    known = known_negatives(samples)
    same = np.array([[a.identity == b.identity for b in samples] for a in samples])
    assert not (known & same).any()
    assert known.sum() > 0  # parked cars of one clip coexist: guaranteed different vehicles


@pytest.mark.parametrize(
    "options",
    [{"augment": Augment(enabled=False)}, {"bank": 2, "map_erase": 0.5}],
    ids=["augment_each_step", "feature_bank"],
)
def test_a_few_steps_on_real_crops_lower_the_loss(s01: list[Sample], weights: Path, options: dict) -> None:
    samples = few_vehicles(s01, vehicles=4, per_vehicle=4)
    settings = TrainSettings(
        input_size=(64, 64), trainable_blocks=3, steps=12, p=4, k=4, lr=1e-3, warmup=0.0, **options
    )
    _, losses = train(samples, settings, weights)
    assert len(losses) == 12
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.1


def test_the_onnx_export_equals_torch_and_declares_its_convention(
    s01: list[Sample], weights: Path, tmp_path: Path
) -> None:
    samples = few_vehicles(s01, vehicles=2, per_vehicle=4)
    settings = TrainSettings(input_size=(64, 64), trainable_blocks=2, steps=2, p=2, k=2)
    net, _ = train(samples, settings, weights)
    module = embedding_of(net)
    batch = normalise(resized_crops(samples, (64, 64)))
    expected = embed(module, samples, (64, 64))
    for fp16, tolerance in ((False, 1e-4), (True, 2e-2)):
        path = tmp_path / f"model_{fp16}.onnx"
        export_embedding(module, path, (64, 64), fp16, {"sources": "test"})
        runner = open_runner(path, "onnxruntime")
        actual = runner.run(batch)[0]
        assert np.abs(actual - expected).max() <= tolerance * max(1.0, np.abs(expected).max())
        assert '"size": [64, 64]' in runner.metadata["vehicle_mtmc.input"]
        assert '"channel_order": "rgb"' in runner.metadata["vehicle_mtmc.input"]
    assert (tmp_path / "model_True.onnx").stat().st_size < 0.6 * (
        tmp_path / "model_False.onnx"
    ).stat().st_size


def test_the_bank_holds_the_frozen_trunks_output_of_each_view(s01: list[Sample], weights: Path) -> None:
    samples = few_vehicles(s01, vehicles=2, per_vehicle=2)
    crops = resized_crops(samples, (64, 64))
    net = ReidNet(load_backbone(weights), 2, trainable_blocks=5)
    bank = build_bank(net.trunk, crops, views=2, aug=Augment(enabled=False), rng=np.random.default_rng(0))
    with torch.inference_mode():
        expected = net.trunk.eval()(torch.from_numpy(normalise(crops)))
    assert bank.maps.shape == (4, 2, 96, 4, 4) and bank.maps.dtype == torch.float16
    for view in range(2):  # no augmentation: both views are the crop itself
        assert torch.allclose(bank.maps[:, view].float(), expected, atol=2e-2, rtol=1e-2)
    maps = bank.batch(np.array([0, 3]), np.random.default_rng(0), map_erase=1.0)
    assert maps.dtype == torch.float32 and maps.shape == (2, 96, 4, 4)
    zero = (maps == 0).all(dim=1)  # every map lost a rectangle across all channels
    assert zero.any(dim=(1, 2)).all() and not zero.all(dim=(1, 2)).any()
    kept = ~zero[:, None].expand_as(maps)
    assert torch.allclose(maps[kept], bank.maps[[0, 3], 0].float()[kept], atol=2e-2, rtol=1e-2)


def test_the_low_resolution_augmentation_keeps_size_and_colour_and_loses_detail(s01: list[Sample]) -> None:
    import cv2

    crop = resized_crops(s01[:1], (224, 224))[0]
    only_downscale = Augment(pad=0, flip=0.0, jitter_p=0.0, downscale=1.0, downscale_range=(0.25, 0.25))
    low = augment_crop(crop, only_downscale, np.random.default_rng(0))
    assert low.shape == crop.shape and low.dtype == np.uint8
    assert abs(float(low.mean()) - float(crop.mean())) < 2.0  # the same vehicle, the same colours
    detail = [cv2.Laplacian(cv2.cvtColor(c, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var() for c in (crop, low)]
    assert detail[1] < 0.5 * detail[0]  # a quarter of the pixels: edges blur
    untouched = augment_crop(crop, Augment(pad=0, flip=0.0, jitter_p=0.0), np.random.default_rng(0))
    assert np.array_equal(untouched, crop)
