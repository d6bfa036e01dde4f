"""bench/bench_reid.py on a tiny real set (vn2cam test crops) gives the Rank-1 and mAP ranked by hand."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.bench_reid import keep_held_out, main, within_camera
from reid.color import HistogramSpec, color_histogram
from reid.factory import build_embedder
from reid.fusion import FusionOptions, fuse
from reid.retrieval import read_labels_csv

BEFORE = [  # the histogram and fusion before: 8x4x4 over the central 60 %, colour part not centred
    *("MOT.COLOR_HIST_BINS", "[8, 4, 4]", "MOT.COLOR_HIST_MARGIN", "0.2", "MOT.COLOR_HIST_GREY_BINS", "0"),
    *("MTMC.COLOR_CAMERA_NORM", "false"),
]
VEHICLES = 20  # the first 20 vehicles of vn2cam test, each seen once by each of its two cameras


@pytest.fixture(scope="module")
def tiny_set(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A labelled folder of 40 real crops, paths relative to it, with a split column."""
    source = read_labels_csv(shared / "data" / "reid_vn2cam" / "labels.csv", split="test")
    folder = tmp_path_factory.mktemp("tiny_reid")
    (folder / "crops").mkdir()
    with (folder / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "vehicle_id", "camera_id", "split"])
        for i, path in enumerate(source.paths[: 2 * VEHICLES]):
            shutil.copy(path, folder / "crops" / path.name)
            writer.writerow([f"crops/{path.name}", source.vehicle_ids[i], source.camera_ids[i], "a"])
        writer.writerow([f"crops/{source.paths[0].name}", "other", "cam9", "b"])  # dropped by --split a
    return folder


def ranked_by_hand(descriptors: np.ndarray, vehicles: np.ndarray, cameras: np.ndarray) -> tuple[float, float]:
    """Rank-1 and mAP when each vehicle appears once in each of two cameras: AP = 1 / rank of the match."""
    ranks = []
    for q in range(len(descriptors)):
        gallery = [g for g in range(len(descriptors)) if cameras[g] != cameras[q]]
        sims = {g: float(descriptors[q] @ descriptors[g]) for g in gallery}
        match = next(g for g in gallery if vehicles[g] == vehicles[q])
        ranks.append(1 + sum(s > sims[match] for g, s in sims.items() if g != match))
    ranks_arr = np.array(ranks)
    return float(np.mean(ranks_arr == 1)), float(np.mean(1.0 / ranks_arr))


@pytest.mark.parametrize(
    "overrides, options, spec",
    [
        (  # the defaults
            [],
            FusionOptions(camera_norm=True, camera_shrinkage=1.0, color_weight=0.3, color_camera_norm=True),
            HistogramSpec(),
        ),
        (
            ["MTMC.CAMERA_NORM", "false", "MTMC.COLOR_WEIGHT", "0.0"],
            FusionOptions(center=True, color_weight=0.0, color_camera_norm=True),
            HistogramSpec(),
        ),
        (
            BEFORE,
            FusionOptions(camera_norm=True, camera_shrinkage=1.0, color_weight=0.3),
            HistogramSpec((8, 4, 4), 0.2, 0),
        ),
    ],
)
def test_scores_are_the_hand_ranked_ones(
    tiny_set: Path, tmp_path: Path, overrides: list[str], options: FusionOptions, spec: HistogramSpec
) -> None:
    out = tmp_path / "scores.json"
    assert main(["--labels", str(tiny_set), "--split", "a", "--json", str(out), *overrides]) == 0
    scores = json.loads(out.read_text())
    crops = read_labels_csv(tiny_set / "labels.csv", split="a")
    images = [cv2.imread(str(p)) for p in crops.paths]
    histograms = np.stack([color_histogram(i, spec) for i in images])
    descriptors = fuse(build_embedder().embed_crops(images), histograms, crops.camera_ids, options)
    rank1, mean_ap = ranked_by_hand(descriptors, crops.vehicle_ids, crops.camera_ids)
    assert scores["queries"] == 2 * VEHICLES
    assert scores["rank1"] == pytest.approx(rank1, abs=1e-9)
    assert scores["mAP"] == pytest.approx(mean_ap, abs=1e-9)
    assert 0 < scores["rank1"] < 1  # a real mix of hits and misses, so the ranking is exercised
    assert set(scores["baselines"]) == {"random", "hsv_histogram", "model_raw"}
    assert scores["descriptor"]["histogram"]["bins"] == list(spec.bins)
    assert scores["descriptor"]["color_camera_norm"] == options.color_camera_norm


def test_colour_sweep_prints_every_variant(tiny_set: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.reid_colour_sweep import VARIANTS, spec_name

    assert main(["--labels", str(tiny_set), "--split", "a", "--colour-sweep"]) == 0
    printed = capsys.readouterr().out
    for spec in VARIANTS:
        assert f"{spec_name(spec)} cc " in printed


def test_only_keeps_the_listed_crops(tiny_set: Path, tmp_path: Path) -> None:
    names = sorted(p.name for p in (tiny_set / "crops").iterdir())[:4]
    listed = tmp_path / "names.txt"
    listed.write_text("\n".join(names) + "\n")
    out = tmp_path / "scores.json"
    assert main(["--labels", str(tiny_set), "--split", "a", "--only", str(listed), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["queries"] <= 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["--labels", "missing/labels.csv"], "missing/labels.csv"),
        (["MTMC.COLOR_WEIGHT", "2"], "MTMC.COLOR_WEIGHT"),
        (["MOT.REID_BACKEND", "none"], "MOT.REID_BACKEND"),
    ],
)
def test_bad_input_exits_2_naming_it(
    tiny_set: Path, args: list[str], message: str, capfd: pytest.CaptureFixture[str]
) -> None:
    argv = args if args[0] == "--labels" else ["--labels", str(tiny_set), *args]
    assert main(argv) == 2
    assert message in capfd.readouterr().err


def test_within_camera_pairs_early_and_late_thirds_of_real_s01_tracks(shared: Path) -> None:
    labels = shared / "data" / "aic_s01_c001_crops" / "labels.csv"
    crops = read_labels_csv(labels)
    frames = {}
    with labels.open(newline="") as handle:
        for row in csv.DictReader(handle):
            frames[labels.parent / row["path"]] = int(row["frame"])
    split = within_camera(crops, labels)
    for vehicle in np.unique(crops.vehicle_ids)[:5]:
        total = int((crops.vehicle_ids == vehicle).sum())
        mine = split.vehicle_ids == vehicle
        early = [
            frames[p]
            for p, m, c in zip(split.paths, mine, split.camera_ids, strict=True)
            if m and c.endswith(":early")
        ]
        late = [
            frames[p]
            for p, m, c in zip(split.paths, mine, split.camera_ids, strict=True)
            if m and c.endswith(":late")
        ]
        assert len(early) == len(late) == total // 3
        assert max(early) < min(late)  # the middle third lies between them
    assert set(split.camera_ids) == {"c001:early", "c001:late"}


def test_holdout_keeps_exactly_the_vehicles_the_default_model_never_trained_on(shared: Path) -> None:
    """--holdout 60 on vn2cam train is the complement of the shipped default's training crops, whose
    count the model's own recipe (ONNX metadata) records."""
    import onnxruntime as ort

    from config.loader import load_config
    from models.registry import resolve_model

    model = resolve_model(load_config(None, [], mode="any").MOT.REID_ONNX)
    recipe = json.loads(
        ort.InferenceSession(str(model)).get_modelmeta().custom_metadata_map["vehicle_mtmc.training"]
    )
    assert any("holdout=60" in spec for spec in recipe["labelled"]) and recipe["seed"] == 0
    labels = shared / "data" / "reid_vn2cam" / "labels.csv"
    train = read_labels_csv(labels, split="train")
    held = keep_held_out(train, labels, "train", 60, 0)
    assert len(set(held.vehicle_ids)) == 60
    assert len(train.paths) - len(held.paths) == recipe["sources"]["reid_vn2cam"]["crops"]
    trained_ids = set(train.vehicle_ids) - set(held.vehicle_ids)
    assert len(trained_ids) == recipe["sources"]["reid_vn2cam"]["identities"]


def test_cast_changes_only_the_last_camera_and_bad_gains_exit_2(tiny_set: Path) -> None:
    from bench.reid_colour_sweep import colour_cast

    crops = read_labels_csv(tiny_set / "labels.csv", split="a")
    images = [cv2.imread(str(p)) for p in crops.paths[:4]]
    cast = colour_cast(images, crops.camera_ids[:4], (1.0, 1.0, 0.5))
    for image, out, camera in zip(images, cast, crops.camera_ids[:4], strict=True):
        if camera == max(crops.camera_ids):
            np.testing.assert_array_equal(out[..., 2], image[..., 2] // 2)  # red halved, truncated
            np.testing.assert_array_equal(out[..., :2], image[..., :2])
        else:
            assert out is image
    assert main(["--labels", str(tiny_set), "--split", "a", "--cast", "1,2"]) == 2
