"""The pseudo-label loop runs rounds on real crops: mine, cluster, train on from the model, mine again."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reid.training.crosscam import MinerOptions  # noqa: E402
from reid.training.loop import TrainSettings  # noqa: E402
from reid.training.rounds import clustered_samples, label_scene, pseudo_label_rounds  # noqa: E402
from reid.training.scene import build_scene, unlabelled_crops  # noqa: E402

SETTINGS = TrainSettings(input_size=(64, 64), steps=2, p=4, k=2)


@pytest.fixture(scope="module")
def scene(shared: Path, tmp_path_factory: pytest.TempPathFactory):
    """Ten vn2cam test vehicles seen by two cameras, their ids in a column kept for reporting only."""
    folder = shared / "data" / "reid_vn2cam"
    with (folder / "labels.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == "test"][:20]
    labels = tmp_path_factory.mktemp("unlabelled") / "labels.csv"
    labels.write_text(
        "path,camera_id,vehicle\n"
        + "".join(f"{folder / r['path']},{r['camera_id']},{r['vehicle_id']}\n" for r in rows),
        encoding="utf-8",
    )
    samples, spans, truth, seconds = unlabelled_crops(labels, name="street", truth_column="vehicle")
    return build_scene("street", samples, spans, None, truth, seconds)


def test_a_labelling_pass_joins_mined_pairs_into_identities(scene, shared: Path) -> None:
    from reid.training.model import load_backbone

    torch.set_num_threads(1)
    start = load_backbone(shared / "models" / "mobilenetv2_imagenet_features.pt")
    labels, pairs, report = label_scene(start, scene, SETTINGS.input_size, MinerOptions())
    assert report.tracklets == 20 and report.pairs == len(pairs) > 0
    assert report.multi_camera_identities == len(pairs)  # two cameras, one-to-one: identities are pairs
    truth = scene.truth
    assert report.precision == np.mean(truth[pairs[:, 0]] == truth[pairs[:, 1]])
    assert report.true_pairs_found == pytest.approx(report.precision * len(pairs) / 10)
    samples = clustered_samples(scene, labels)
    for i, j in pairs:
        assert samples[i].identity == samples[j].identity
    assert len({s.identity for s in samples}) == 20 - len(pairs)


def test_rounds_train_from_the_current_model_and_report_each(scene, shared: Path) -> None:
    torch.set_num_threads(1)
    weights = shared / "models" / "mobilenetv2_imagenet_features.pt"
    embedding, losses, reports = pseudo_label_rounds([scene], [], SETTINGS, weights, 2, MinerOptions())
    assert len(losses) == 4 and all(np.isfinite(losses))
    assert [r.round for r in reports] == [1, 2, 3]  # round 3: the final model's labels, for the report
    features = embedding(torch.zeros(2, 3, 64, 64))
    assert features.shape == (2, 1280)
    with pytest.raises(ValueError, match="rounds 0"):
        pseudo_label_rounds([scene], [], SETTINGS, weights, 0, MinerOptions())
