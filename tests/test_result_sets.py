"""Crash-consistent result sets: manifests written last, readers refuse unfinished or mixed sets."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import mot.camera
import mtmc.output
from config.loader import load_config
from evaluate.run_eval import main as run_eval
from mot.camera import run_camera
from mot.manifest import (
    ResultSetError,
    check_result_file,
    read_manifest,
    verify_manifest,
    write_manifest,
)
from mot.model_cache import FeatureExtractionError, ModelCache
from mot.run_tracker import main as run_tracker
from mot.tracklet_file import load_tracklet_file
from mtmc.run_express_mtmc import main as run_express
from mtmc.run_mtmc import main as run_mtmc
from tests.conftest import EXAMPLES
from tests.mtmc.chaos import express_argv, short_cameras

MVI = "data/traffic/MVI_20011"


def tracker_args(shared: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--config",
        str(EXAMPLES / "mot_intersection.yaml"),
        "MOT.VIDEO",
        str(shared / MVI),
        "MOT.VIDEO_OUTPUT",
        "false",
        "MOT.MIN_FRAMES",
        "2",
        "OUTPUT_DIR",
        str(out),
        *extra,
    ]


def eval_args(shared: Path, prediction: Path) -> list[str]:
    config = prediction.parent / "eval.yaml"
    config.write_text(
        f"EVAL:\n  GROUND_TRUTHS: [{shared / 'data/traffic/MVI_20011.xml'}]\n  PREDICTIONS: [{prediction}]\n"
    )
    return ["--config", str(config)]


def express_args(cameras: Path, out: Path, *extra: str) -> list[str]:
    """In-process express arguments: no videos, one camera after another."""
    return express_argv(cameras, out, "MOT.VIDEO_OUTPUT", "false", "EXPRESS.EXECUTOR", "sequential", *extra)


@pytest.fixture(scope="module")
def mvi_run(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mvi")
    assert run_tracker(tracker_args(shared, out)) == 0
    return out


def test_a_manifest_lists_the_set_and_catches_a_changed_or_missing_file(tmp_path: Path) -> None:
    files = [tmp_path / "a" / "mot.npz", tmp_path / "a" / "mot.csv"]
    files[0].parent.mkdir()
    for i, path in enumerate(files):
        path.write_bytes(bytes([i]) * 100)
    manifest = write_manifest(
        tmp_path / "a", "mot", files, run_id="r1", command="mot", fingerprint="f", complete=True
    )
    assert sorted(read_manifest(manifest)["files"]) == ["mot.csv", "mot.npz"]
    verify_manifest(manifest)
    files[1].write_bytes(b"another run's rows")
    with pytest.raises(ResultSetError, match=r"mot\.csv: was changed by another run"):
        verify_manifest(manifest)
    files[1].unlink()
    with pytest.raises(ResultSetError, match=r"mot\.csv: listed in .* but missing"):
        verify_manifest(manifest)
    assert check_result_file(tmp_path / "elsewhere.txt") is None  # not written by a run: accepted


def test_every_result_file_carries_run_id_and_fingerprint_and_the_manifest_matches(mvi_run: Path) -> None:
    table = load_tracklet_file(mvi_run / "mot.npz")
    manifest = check_result_file(mvi_run / "mot.txt")
    assert manifest is not None and manifest["complete"]
    assert table.info["run_id"] == manifest["run_id"] and table.info["fingerprint"] == manifest["fingerprint"]
    assert sorted(manifest["files"]) == ["mot.csv", "mot.npz", "mot.pkl", "mot.txt"]


def test_evaluation_refuses_a_mixed_or_unfinished_set_naming_the_file(
    mvi_run: Path, shared: Path, tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "run"
    shutil.copytree(mvi_run, folder)
    assert run_eval(eval_args(shared, folder / "mot.txt")) == 0
    with (folder / "mot.csv").open("a") as f:
        f.write("1,99,0,0,10,10,,,,\n")  # another run rewrote part of the set
    capfd.readouterr()
    assert run_eval(eval_args(shared, folder / "mot.txt")) == 2
    assert f"{folder / 'mot.csv'}: was changed by another run" in capfd.readouterr().err
    (folder / "mot.manifest.json").unlink()  # the run was killed before its manifest
    assert run_eval(eval_args(shared, folder / "mot.txt")) == 2
    err = capfd.readouterr().err
    assert f"{folder / 'mot.txt'}: no mot.manifest.json" in err and "again" in err


def test_a_crash_while_writing_mtmc_leaves_no_set_that_looks_complete(
    demo_cameras: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    cameras = short_cameras(demo_cameras, tmp_path / "cams", 30)
    out = tmp_path / "out"
    common = express_args(cameras, out)
    assert run_express(common) == 0
    old_near = load_tracklet_file(out / "1_near" / "mtmc.npz").info["run_id"]
    real, calls = mtmc.output.save_all, []

    def crash_on_second_camera(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise RuntimeError("simulated crash while writing the second camera's mtmc.*")
        return real(*args, **kwargs)

    monkeypatch.setattr(mtmc.output, "save_all", crash_on_second_camera)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_express([*common, "MTMC.MIN_SIM", "0.6"])
    monkeypatch.setattr(mtmc.output, "save_all", real)
    assert not (out / "mtmc.manifest.json").exists() and not (out / "mtmc.npz").exists()
    assert not list((out / "1_near").glob("mtmc.*")), "the old run's mtmc.* must not survive"
    assert load_tracklet_file(out / "0_far" / "mtmc.npz").info["run_id"] != old_near
    with pytest.raises(ResultSetError, match=r"no mtmc\.manifest\.json"):
        check_result_file(out / "0_far" / "mtmc.txt")
    # the MTMC-only runner refuses it too, naming the file
    config = tmp_path / "mtmc.yaml"
    config.write_text(
        f"OUTPUT_DIR: {tmp_path / 'again'}\nMTMC:\n  CAMERA_LAYOUT: {cameras / 'layout.txt'}\n"
        f"  TRACKLETS: [{out / '0_far/mtmc.npz'}, {out / '0_far/mot.npz'}]\n"
    )
    capfd.readouterr()
    assert run_mtmc(["--config", str(config)]) == 2
    assert f"{out / '0_far/mtmc.npz'}: no mtmc.manifest.json" in capfd.readouterr().err
    # a re-run writes a whole, verified set
    assert run_express([*common, "MTMC.MIN_SIM", "0.6"]) == 0
    for camera in ("0_far", "1_near"):
        assert check_result_file(out / camera / "mtmc.txt") is not None


def test_run_mtmc_refuses_tracklets_of_an_unfinished_camera(
    mvi_run: Path, shared: Path, tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "cam"
    shutil.copytree(mvi_run, folder)
    (folder / "mot.manifest.json").unlink()
    layout = tmp_path / "layout.txt"
    layout.write_text("0 1 -1 5\n1 0 -1 5\nfps 10 10\n")
    config = tmp_path / "mtmc.yaml"
    config.write_text(
        f"OUTPUT_DIR: {tmp_path / 'out'}\nMTMC:\n  CAMERA_LAYOUT: {layout}\n"
        f"  TRACKLETS: [{mvi_run / 'mot.npz'}, {folder / 'mot.npz'}]\n"
    )
    capfd.readouterr()
    assert run_mtmc(["--config", str(config)]) == 2
    assert f"{folder / 'mot.npz'}: no mot.manifest.json" in capfd.readouterr().err


@pytest.mark.parametrize("executor", ["sequential", "batched"])
def test_a_resumed_express_run_writes_the_missing_mot_video(
    demo_cameras: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture,
    executor: str,
) -> None:
    cameras = short_cameras(demo_cameras, tmp_path / "cams", 20)
    out = tmp_path / "out"
    args = express_args(cameras, out, "MOT.VIDEO_OUTPUT", "true")
    real = mot.camera.write_video

    def killed_while_drawing(mot_cfg, tracklets, output_dir, progress=True):
        if output_dir.name == "1_near":
            raise KeyboardInterrupt
        return real(mot_cfg, tracklets, output_dir, progress)

    monkeypatch.setattr(mot.camera, "write_video", killed_while_drawing)
    assert run_express(args) == 130
    manifest = read_manifest(out / "1_near" / "mot.manifest.json")
    assert manifest["complete"] and "mot.mp4" not in manifest["files"]
    monkeypatch.setattr(mot.camera, "write_video", real)
    capfd.readouterr()
    assert run_express([*args, "EXPRESS.EXECUTOR", executor]) == 0
    err = capfd.readouterr().err
    assert "did not write mot.mp4; writing it now" in err
    assert err.count("writing it now") == 1  # only the camera whose video was missing
    assert "mot.mp4" in check_result_file(out / "1_near" / "mot.npz")["files"]  # type: ignore[index]


def test_a_failing_reid_model_keeps_the_tracked_boxes(shared: Path, tmp_path: Path) -> None:
    cfg = load_config(str(EXAMPLES / "mot_intersection.yaml"), tracker_args(shared, tmp_path)[2:])
    cfg.defrost()
    # a detector given as ReID model, at its own input size: it loads, and fails on its first crops
    # (run_camera is called without the runners' start-up model checks, which would refuse it)
    cfg.MOT.REID_ONNX = "yolox_nano.onnx"
    cfg.MOT.REID_INPUT_SIZE = [416, 416]
    cfg.freeze()
    with pytest.raises(FeatureExtractionError, match=r"MOT\.REID_INPUT_SIZE \[416, 416\]") as caught:
        run_camera(cfg, 0, "mvi", tmp_path, ModelCache())
    assert caught.value.__context__ is None or not isinstance(
        caught.value.__context__, FeatureExtractionError
    )
    table = load_tracklet_file(tmp_path / "mot.npz")
    assert len(table.tracklets) >= 3 and table.info["complete"] is False
    assert all(t.mean_feature is None and len(t) >= 2 for t in table.tracklets)
    assert np.all([t.bboxes[:, 2:].min() > 0 for t in table.tracklets])


def test_the_tracker_reports_a_failing_reid_model_cleanly(
    shared: Path, tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    code = run_tracker(tracker_args(shared, tmp_path, "MOT.REID_INPUT_SIZE", "[96, 48]"))
    err = capfd.readouterr().err
    assert code in (1, 2) and "Traceback" not in err and "MOT.REID_INPUT_SIZE" in err
    if code == 1:  # found at run time (not by a start-up check): the boxes are saved
        assert "saved without appearance features" in err
        assert load_tracklet_file(tmp_path / "mot.npz").tracklets
