"""Config loading and validation: examples, all-at-once errors, overrides, path resolution."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.cameras import camera_config, camera_name
from config.defaults import SCHEMA, get_cfg_defaults
from config.loader import ConfigError, load_config
from mot.tracklet import Tracklet
from mot.tracklet_file import save_tracklets

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "config" / "examples"
MODES = {
    "mot_intersection.yaml": "mot",
    "express_demo.yaml": "express",
    "express_parking.yaml": "express",
    "mtmc_only.yaml": "mtmc",
    "live_demo.yaml": "live",
    "profile_tiled_1080p.yaml": "mot",
    "profile_offline_best.yaml": "mot",
    "profile_fast.yaml": "mot",
}
# Examples whose model a tool makes on the user's machine: validated where the tests make it.
MADE_BY_TOOLS = {"profile_int8.yaml": "tests/tools/test_quantize_openvino.py"}


def write(tmp_path: Path, text: str, name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_example_is_listed() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted([*MODES, *MADE_BY_TOOLS])


@pytest.mark.parametrize("name", sorted(MODES))
def test_example_validates_in_its_mode(name: str, demo_cameras: Path, tmp_path: Path) -> None:
    overrides: list[str] = []
    if MODES[name] == "mtmc":  # its inputs are the express demo's results: stand in small real files
        files = []
        for cam in range(2):
            path = tmp_path / f"cam{cam}.npz"
            save_tracklets(path, [Tracklet(1, cam, [0, 1], [[0, 0, 5, 5]] * 2, [0.9, 0.8])])
            files.append(str(path))
        overrides = ["MTMC.TRACKLETS", repr(files)]
    cfg = load_config(EXAMPLES / name, overrides, mode=MODES[name])
    assert cfg.is_frozen()
    assert Path(cfg.OUTPUT_DIR).is_absolute()


def test_defaults_validate_without_a_file() -> None:
    cfg = load_config(None, [], mode="any")
    assert cfg.MOT.TRACKER == "bytetrack_iou"


def test_broken_config_reports_every_problem_with_its_key_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
MOT:
  REID_BATCHSIZE: -3
  TRACKER: sort
  DETECTION_CONF_THRESH: 1.5
  TRACKED_CLASSES: [2, car]
  REID_FP16: "yes"
  DETECTR: x.onnx
MTMC:
  LINKAGE: ward
  MIN_SIM: 2
LIVE:
  MJPEG_PORT: 70000
EXPRES:
  CAMERAS: []
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, [], mode="express")
    problems = info.value.problems
    assert "MOT.DETECTR: unknown key; did you mean 'MOT.DETECTOR'?" in problems
    assert "EXPRES: unknown key; did you mean 'EXPRESS'?" in problems
    assert "MOT.REID_BATCHSIZE: expected a positive int, got -3" in problems
    assert "MOT.TRACKER: expected one of 'bytetrack_iou', 'deepsort', got 'sort'" in problems
    assert "MOT.DETECTION_CONF_THRESH: expected a number in [0.0, 1.0], got 1.5" in problems
    assert (
        "MOT.TRACKED_CLASSES: expected a list of items, each a non-negative int, got [2, 'car']" in problems
    )
    assert "MOT.REID_FP16: expected true or false, got 'yes'" in problems
    assert any(p.startswith("MTMC.LINKAGE: expected one of 'average', 'single'") for p in problems)
    assert "MTMC.MIN_SIM: expected a number in [-1.0, 1.0], got 2.0" in problems
    assert "LIVE.MJPEG_PORT: expected an int in [0, 65535], got 70000" in problems
    assert len(problems) == 10, problems
    assert str(path) in str(info.value)  # the message names the file


def test_missing_files_and_required_keys_for_the_mode(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
MOT:
  VIDEO: no_such_video.mp4
  DETECTOR: no_such_detector.onnx
  DETECTION_MASK: no_mask.png
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, [], mode="mot")
    problems = info.value.problems
    assert "OUTPUT_DIR: required for this command, but empty" in problems
    assert f"MOT.VIDEO: file or folder not found: {tmp_path / 'no_such_video.mp4'}" in problems
    assert f"MOT.DETECTION_MASK: file not found: {tmp_path / 'no_mask.png'}" in problems
    detector = next(p for p in problems if p.startswith("MOT.DETECTOR:"))
    assert "model 'no_such_detector.onnx' not found; looked in:" in detector


def test_express_camera_entries_are_checked(tmp_path: Path, demo_cameras: Path) -> None:
    path = write(
        tmp_path,
        f"""
OUTPUT_DIR: {tmp_path / "out"}
MTMC:
  CAMERA_LAYOUT: {demo_cameras / "layout.txt"}
EXPRESS:
  CAMERAS:
    - name: a
      video: {demo_cameras / "far.mp4"}
      detectr: x.onnx
      reid_batchsize: 0
    - name: a
      video: {demo_cameras / "near.mp4"}
    - name: "bad name"
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, [], mode="express")
    problems = info.value.problems
    assert "EXPRESS.CAMERAS[0].detectr: unknown camera key; did you mean 'detector'?" in problems
    fixed = path.read_text().replace("      detectr: x.onnx\n", "")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, fixed, "fixed.yaml"), [], mode="express")
    problems = info.value.problems
    assert "EXPRESS.CAMERAS[0].reid_batchsize: expected a positive int, got 0" in problems
    assert any("'a' is already used by EXPRESS.CAMERAS[0]" in p for p in problems)
    assert "EXPRESS.CAMERAS[2].video: required (a video file, image folder or stream URL)" in problems
    assert any(p.startswith("EXPRESS.CAMERAS[2].name: expected letters") for p in problems)


def test_layout_must_describe_every_camera(tmp_path: Path, demo_cameras: Path) -> None:
    layout = write(tmp_path, "0 1 0 5\nfps 30 30 30\n", "layout.txt")
    path = write(
        tmp_path,
        f"""
OUTPUT_DIR: out
MTMC:
  CAMERA_LAYOUT: {layout}
EXPRESS:
  CAMERAS:
    - {{name: a, video: {demo_cameras / "far.mp4"}}}
    - {{name: b, video: {demo_cameras / "near.mp4"}}}
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, [], mode="express")
    assert any("fps values for 2 cameras" in p for p in info.value.problems), info.value.problems


def test_camera_overrides_merge_onto_mot(demo_cameras: Path) -> None:
    cfg = load_config(EXAMPLES / "express_parking.yaml", [], mode="express")
    entrance, lot = camera_config(cfg, 0), camera_config(cfg, 1)
    assert (entrance.MOT.ENABLE_ALPR, entrance.MOT.TRACKER, entrance.MOT.TRACKED_CLASSES) == (
        True,
        "deepsort",
        [2, 5, 7],
    )
    assert (lot.MOT.ENABLE_ALPR, lot.MOT.TRACKER) == (False, "bytetrack_iou")
    assert lot.MOT.VIDEO.endswith("near.mp4") and Path(lot.MOT.VIDEO).is_file()
    assert [camera_name(cfg, i) for i in range(2)] == ["entrance", "lot"]
    assert cfg.MOT.TRACKER == "deepsort"  # the shared config is untouched


def test_cli_overrides_are_typed_and_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(
        None,
        [
            "MTMC.MIN_SIM",
            "1",
            "MOT.TRACKED_CLASSES",
            "[2, 7]",
            "MOT.SHOW",
            "false",
            "OUTPUT_DIR",
            "runs/a",
            "MOT.DETECTION_MASK",
            "mask.png",
        ],
        mode="any",
    )
    assert cfg.MTMC.MIN_SIM == 1.0 and isinstance(cfg.MTMC.MIN_SIM, float)
    assert cfg.MOT.TRACKED_CLASSES == [2, 7]
    assert cfg.MOT.SHOW is False
    assert str(tmp_path / "runs" / "a") == cfg.OUTPUT_DIR
    assert str(tmp_path / "mask.png") == cfg.MOT.DETECTION_MASK
    with pytest.raises(ConfigError, match="has no value"):
        load_config(None, ["MOT.TRACKER"], mode="any")


def test_input_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    sub = tmp_path / "configs"
    sub.mkdir()
    path = write(sub, "MOT:\n  VIDEO: ../videos/a.mp4\n  DETECTOR: yolox_nano.onnx\nOUTPUT_DIR: out\n")
    cfg = load_config(path, [], mode="any")
    assert str(tmp_path / "videos" / "a.mp4") == cfg.MOT.VIDEO
    assert cfg.MOT.DETECTOR == "yolox_nano.onnx"  # no such file beside the config: a model name
    assert str(Path.cwd() / "out") == cfg.OUTPUT_DIR
    url = load_config(None, ["MOT.VIDEO", "rtsp://10.0.0.1/stream"], mode="any")
    assert url.MOT.VIDEO == "rtsp://10.0.0.1/stream"


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "MOT:\n  VIDEO: a.mp4\n   TRACKER: [deepsort\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}:3")):
        load_config(path, [], mode="any")
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml", [], mode="any")


def test_tensorrt_backend_fails_validation_with_an_actionable_message(tmp_path: Path) -> None:
    try:
        import tensorrt  # noqa: F401

        pytest.skip("TensorRT is installed here")
    except ImportError:
        pass
    with pytest.raises(ConfigError) as info:
        load_config(
            None,
            [
                "MOT.VIDEO",
                str(tmp_path),
                "OUTPUT_DIR",
                str(tmp_path),
                "MOT.REID_BACKEND",
                "tensorrt",
                "MOT.REID_TRT",
                "reid.engine",
            ],
            mode="mot",
        )
    assert any(
        p.startswith("MOT.REID_BACKEND: 'tensorrt' needs the 'tensorrt' package") and "[gpu]" in p
        for p in info.value.problems
    ), info.value.problems


def test_schema_documents_every_key_and_declares_every_path_key() -> None:
    names = [k.name for k in SCHEMA]
    assert len(names) == len(set(names))
    for key in SCHEMA:
        assert key.doc.strip().endswith("."), key.name
        assert key.check(key.default), f"{key.name}: default {key.default!r} fails its own check"
    path_words = (
        "VIDEO",
        "MASK",
        "CALIBRATION",
        "_DIR",
        "LAYOUT",
        "TRACKLETS",
        "ONNX",
        "TRT",
        "OPTS",
        "CKPT",
        "DETECTOR",
        "GROUND_TRUTHS",
        "PREDICTIONS",
    )
    not_paths = {
        "MOT.VIDEO_OUTPUT",
        "MOT.DETECTOR_BACKEND",
        "MOT.DETECTOR_OUTPUT_FORMAT",
        "MOT.DETECTOR_INPUT_SIZE",
        "MOT.DETECTOR_FP16",
        "MOT.DETECTOR_CLASS_MAP",
        "EXPRESS.FINAL_VIDEO_OUTPUT",
        "LIVE.LOOP_VIDEO",
        "MOT.REID_BACKEND",
    }
    for key in SCHEMA:
        looks_like_path = any(w in key.name for w in path_words) and key.name not in not_paths
        assert (key.path is not None) == looks_like_path, key.name
    defaults = get_cfg_defaults()
    assert defaults.MOT.BYTETRACK.TRACK_BUFFER == 30


def test_attribute_settings_that_cannot_work_are_reported_together() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(
            None,
            [
                "MOT.STATIC_ATTRIBUTES",
                "[{brand: vehicle-attributes-recognition-barrier-0039}, {color: detector}]",
                "MOT.DYNAMIC_ATTRIBUTES",
                "[{speed: ''}, {brake: ''}]",
                "MOT.VALID_ZONEPATHS",
                "[[1, 2]]",
            ],
        )
    problems = info.value.problems
    assert (
        "MOT.STATIC_ATTRIBUTES: vehicle-attributes-recognition-barrier-0039 reads color and type, not 'brand'"
        in problems
    )
    assert "MOT.STATIC_ATTRIBUTES: 'detector' gives only 'type', not 'color'" in problems
    assert "MOT.DYNAMIC_ATTRIBUTES: speed needs MOT.CALIBRATION (a homography file)" in problems
    assert "MOT.DYNAMIC_ATTRIBUTES: unknown dynamic attribute 'brake' (supported: speed)" in problems
    assert "MOT.VALID_ZONEPATHS: needs MOT.ZONE_MASK_DIR (the zone masks)" in problems


@pytest.mark.parametrize("mode", ["express", "live"])
def test_matching_across_cameras_refuses_tracking_without_features(
    tmp_path: Path, demo_cameras: Path, mode: str
) -> None:
    path = write(
        tmp_path,
        f"""
OUTPUT_DIR: {tmp_path / "out"}
MTMC:
  CAMERA_LAYOUT: {demo_cameras / "layout.txt"}
EXPRESS:
  CAMERAS:
    - name: far
      video: {demo_cameras / "far.mp4"}
      reid_backend: none
    - name: near
      video: {demo_cameras / "near.mp4"}
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, [], mode=mode)
    (problem,) = info.value.problems
    assert problem.startswith("EXPRESS.CAMERAS[0].reid_backend: 'none' leaves the camera without appearance")
