"""mtmc-train-reid: source specs, tracker tracklets of a real clip as pseudo-identities, scoring a model."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import INTERSECTION
from tools.train_reid import EVAL_KEYS, main, parse_spec, track_video


def short_clip(path: Path, frames: int) -> Path:
    """The first ``frames`` frames of the real intersection clip as an mp4 of its own."""
    capture = cv2.VideoCapture(str(INTERSECTION))
    writer = None
    for _ in range(frames):
        ok, image = capture.read()
        assert ok
        if writer is None:
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, image.shape[1::-1])
        writer.write(image)
    capture.release()
    assert writer is not None
    writer.release()
    return path


def test_source_specs_take_known_keys_only(shared: Path) -> None:
    labels = shared / "data" / "reid_vn2cam" / "labels.csv"
    assert parse_spec(f"{labels},split=test,name=t", EVAL_KEYS, "--eval") == (
        labels,
        {"split": "test", "name": "t"},
    )
    with pytest.raises(ValueError, match=r"--eval .*keys \['cameras', 'name', 'split'\], got 'holdout=3'"):
        parse_spec(f"{labels},holdout=3", EVAL_KEYS, "--eval")
    with pytest.raises(ValueError, match=r"nowhere\.csv does not exist"):
        parse_spec("nowhere.csv", EVAL_KEYS, "--eval")


def test_bad_arguments_exit_2_naming_the_problem(caplog: pytest.LogCaptureFixture) -> None:
    assert main(["--output", "x.onnx", "--labelled", "missing/labels.csv"]) == 2
    assert main(["--eval", "missing/labels.csv"]) == 2  # neither --output nor --score
    assert "missing/labels.csv does not exist" in caplog.text and "exactly one of --output" in caplog.text


def test_the_trackers_tracklets_of_a_real_clip_become_pseudo_identities(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from reid.training.pseudo import Quality, known_negatives, pseudo_samples

    clip = short_clip(tmp_path / "clip.mp4", 20)
    tracks = track_video(clip, None, tmp_path)
    assert len(np.unique(tracks.ids)) >= 5 and tracks.frames.max() <= 19
    samples = pseudo_samples(clip, tracks, Quality(per_track=3, min_crops=3))
    identities = [s.identity for s in samples]
    assert len(set(identities)) >= 3 and all(identities.count(i) <= 3 for i in identities)
    known = known_negatives(samples)
    assert known.any()  # vehicles seen at the same moment: guaranteed different
    assert not known[np.equal.outer(identities, identities)].any()


def test_scoring_a_model_writes_the_retrieval_table(shared: Path, tmp_path: Path) -> None:
    labels = shared / "data" / "reid_vn2cam" / "labels.csv"
    out = tmp_path / "table.json"
    code = main(
        [
            "--score",
            "mobilenetv2_imagenet_features.onnx",
            "--eval",
            f"{labels},split=test,name=test",
            "--json",
            str(out),
            "--threads",
            "1",
        ]
    )
    assert code == 0
    (row,) = json.loads(out.read_text())
    # the figure of ../shared/README.md for this model and set
    assert (row["set"], row["queries"], round(row["rank1"], 3), round(row["mAP"], 3)) == (
        "test",
        120,
        0.65,
        0.75,
    )
