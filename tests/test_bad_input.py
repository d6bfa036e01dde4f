"""Bad input as a user types it: each case exits 2 with a message naming the key, file or line, no traceback.

The table of docs/faults.md lists these cases and what the user sees.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from config.cameras import camera_name
from config.layout import LayoutError, parse_layout
from config.loader import ConfigError, load_config
from config.paths import output_dir_problem, safe_name
from detection.video import probe_video
from evaluate.formats import AnnotationError, read_detrac_xml, read_ground_truth, read_mot_challenge
from mot.plan import frame_input_errors
from mot.result_set import completed_result, fingerprint
from mot.storage import load_tracklets
from mot.tracklet import Tracklet
from mot.tracklet_file import TrackletFileError, save_tracklets

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "config" / "examples"
MOT_EXAMPLE = EXAMPLES / "mot_intersection.yaml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=180)


def problems_of(path: Path | None, overrides: list[str] = (), mode: str = "any") -> str:
    with pytest.raises(ConfigError) as err:
        load_config(path, overrides, mode=mode)
    return str(err.value)


# --------------------------------------------------------------------------- the runners, end to end


@pytest.mark.parametrize(
    ("case", "extra", "expected"),
    [
        ("override-yaml", ["MOT.TRACKED_CLASSES", "[2, "], "MOT.TRACKED_CLASSES: the override value '[2, '"),
        ("output-proc", ["OUTPUT_DIR", "/proc/mtmc"], "OUTPUT_DIR: /proc/mtmc is under /proc"),
        ("dry-run-last", ["OUTPUT_DIR", "--dry-run"], "'OUTPUT_DIR' has no value"),
    ],
)
def test_runner_exits_2_without_traceback(
    case: str, extra: list[str], expected: str, shared: Path, tmp_path: Path
) -> None:
    proc = run("mot/run_tracker.py", "--config", str(MOT_EXAMPLE), *extra)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr


def test_non_utf8_config_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("OUTPUT_DIR: out\n# caf\xe9 in Latin-1\n".encode("latin-1"))
    proc = run("mot/run_tracker.py", "--config", str(bad))
    assert proc.returncode == 2
    assert f"{bad}:2: not UTF-8 text (byte 0xe9); save the file as UTF-8" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_options_after_the_overrides_are_options(shared: Path, tmp_path: Path) -> None:
    proc = run(
        "mot/run_tracker.py",
        "--config",
        str(MOT_EXAMPLE),
        "OUTPUT_DIR",
        str(tmp_path),
        "--log-level",
        "warning",
        "--dry-run",
    )
    assert proc.returncode == 0, proc.stderr
    assert " INFO " not in proc.stderr  # --log-level took effect
    assert (tmp_path / "plan.json").is_file() and not (tmp_path / "mot.npz").exists()


# --------------------------------------------------------------------------- config values


def test_exponent_without_a_dot_is_a_number(tmp_path: Path) -> None:
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text("MOT:\n  DETECTION_CONF_THRESH: 5e-1\n")
    cfg = load_config(cfg_file, ["MTMC.MIN_SIM", "25E-2"])
    assert cfg.MOT.DETECTION_CONF_THRESH == 0.5
    assert cfg.MTMC.MIN_SIM == 0.25


def test_a_key_given_twice_is_an_error(tmp_path: Path) -> None:
    cfg_file = tmp_path / "dup.yaml"
    cfg_file.write_text("MOT:\n  TRACKER: deepsort\n  MIN_FRAMES: 3\n  TRACKER: bytetrack_iou\n")
    assert f"{cfg_file}:4: not valid YAML ('TRACKER' given twice (first at line 2))" in problems_of(cfg_file)


def test_override_problems_are_all_reported() -> None:
    text = problems_of(
        None, ["MOT.TRACKED_CLASSES", "[2, ", "MTMC.MIN_SIM", "{a: ", "MOT", "x", "MOT.A", "1"]
    )
    assert "MOT.TRACKED_CLASSES: the override value '[2, ' is not valid YAML" in text
    assert "MTMC.MIN_SIM: the override value '{a: ' is not valid YAML" in text
    assert "MOT.A: 'MOT' was already given a value in the overrides" in text


def test_config_that_is_a_folder_or_binary(tmp_path: Path) -> None:
    assert f"{tmp_path}: not a file" in problems_of(tmp_path)
    blob = tmp_path / "blob.yaml"
    blob.write_bytes(b"MOT:\n  TRACKER: \xff\xfe\n")
    assert f"{blob}:2: not UTF-8 text (byte 0xff)" in problems_of(blob)


def test_output_dir_problems(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert "is a file, not a folder" in output_dir_problem(tmp_path / "file")
    assert f"cannot be created: {tmp_path / 'file'} is a file" in output_dir_problem(
        tmp_path / "file" / "sub"
    )
    assert "under /sys, a kernel interface" in output_dir_problem("/sys/kernel/mtmc")
    assert "under /proc, a kernel interface" in output_dir_problem("/proc/self/mtmc")
    assert output_dir_problem(tmp_path / "new" / "deeper") is None
    text = problems_of(None, ["OUTPUT_DIR", str(tmp_path / "file")], mode="mtmc")
    assert f"OUTPUT_DIR: {tmp_path / 'file'} is a file, not a folder" in text


def test_output_dir_not_writable_or_not_reachable() -> None:
    """Checked with real permissions; root may write anywhere, so as root the check runs as 'nobody'."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        base.chmod(0o755)
        (base / "locked").mkdir()
        (base / "locked").chmod(0o555)
        (base / "private").mkdir()
        (base / "private").chmod(0o700)
        targets = [str(base / "locked" / "run"), str(base / "private" / "run")]
        code = f"from config.paths import output_dir_problem as p; print([p(t) for t in {targets!r}])"
        command = [sys.executable, "-c", code]
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv: cannot drop the right to write anywhere")
            command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    locked, private = ast.literal_eval(proc.stdout.strip())
    assert locked == f"{targets[0]} (its nearest existing parent {base / 'locked'}) is not writable"
    if os.geteuid() == 0:  # as its owner a non-root user may enter 'private'
        assert private == f"{targets[1]} cannot be reached (Permission denied)"


def test_camera_names_derived_from_awkward_file_names(tmp_path: Path) -> None:
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(
        "EXPRESS:\n  CAMERAS:\n"
        "    - video: 'Nord Kreuzung (2).mp4'\n"
        "    - video: 'Ostausfahrt Gr\u00fcnstra\u00dfe.mp4'\n"
        "    - video: '\u6771\u4eac.mp4'\n",
        encoding="utf-8",
    )
    cfg = load_config(cfg_file)
    assert [camera_name(cfg, i) for i in range(3)] == ["Nord_Kreuzung_2", "Ostausfahrt_Grunstrae", "cam2"]
    assert safe_name("..", "cam0") == "cam0"
    # a name the user chose is still checked as written
    cfg_file.write_text("EXPRESS:\n  CAMERAS:\n    - {name: 'Nord Kreuzung', video: a.mp4}\n")
    assert "EXPRESS.CAMERAS[0].name: expected letters, digits" in problems_of(cfg_file)


def test_ill_typed_values_do_not_break_the_relation_checks() -> None:
    text = problems_of(None, ["MOT.BYTETRACK.LOW_THRESH", "abc", "MOT.DYNAMIC_ATTRIBUTES", "[1]"])
    assert "MOT.BYTETRACK.LOW_THRESH: expected a number" in text


# --------------------------------------------------------------------------- layout


def test_layout_reports_every_bad_line(tmp_path: Path) -> None:
    layout = tmp_path / "layout.txt"
    layout.write_text("0 1 2 x\n1 0 5 2\nfps 30 30\n2 0 1 3\nbogus line here\noffset 0\n0 1 1 2\n")
    with pytest.raises(LayoutError) as err:
        parse_layout(layout)
    assert [p.split(": ", 1)[0] for p in err.value.problems] == [f"{layout}:{n}" for n in (1, 2, 4, 5, 6)]
    assert str(err.value).startswith(f"{layout}: 5 problems in the camera layout")
    # the start-up check lists them one per line, each under the key
    text = problems_of(None, ["MTMC.CAMERA_LAYOUT", str(layout), "MTMC.TRACKLETS", "[a.npz, b.npz]"], "mtmc")
    assert f"MTMC.CAMERA_LAYOUT: {layout}:5: expected 'cam_from cam_to" in text


def test_layout_bad_fps_line_is_reported_alone(tmp_path: Path) -> None:
    layout = tmp_path / "layout.txt"
    layout.write_text("fps 30 zz\n0 1 1 2\n")
    with pytest.raises(LayoutError, match=r"layout\.txt:1: expected a number, got 'zz'") as err:
        parse_layout(layout)
    assert len(err.value.problems) == 1  # not also "missing the 'fps' line"


# --------------------------------------------------------------------------- tracklet files


def test_npz_files_that_are_not_tracklet_files(tmp_path: Path) -> None:
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(TrackletFileError, match=r"empty\.npz: empty file \(0 bytes\)"):
        load_tracklets(tmp_path / "empty.npz")
    (tmp_path / "text.npz").write_text("frame,id\n1,2\n")
    with pytest.raises(TrackletFileError, match=r"text\.npz: not an \.npz archive") as err:
        load_tracklets(tmp_path / "text.npz")
    assert "allow_pickle" not in str(err.value)
    for name, meta in (("json", b"{not json"), ("list", b"[1, 2]"), ("version", b'{"format": "x"}')):
        np.savez(tmp_path / f"{name}.npz", meta=np.frombuffer(meta, np.uint8))
        with pytest.raises(TrackletFileError, match=rf"{name}\.npz: (corrupt tracklet metadata|format)"):
            load_tracklets(tmp_path / f"{name}.npz")
    good = tmp_path / "good.npz"
    save_tracklets(good, [Tracklet(1, 0, [0, 1], [[0, 0, 5, 5]] * 2, [0.9] * 2)])
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["lengths"] = np.array([5])  # more rows than the file holds
    np.savez(tmp_path / "short.npz", **arrays)
    with pytest.raises(TrackletFileError, match=r"short\.npz: corrupt tracklet file"):
        load_tracklets(tmp_path / "short.npz")


def test_empty_earlier_result_is_named_and_not_resumed(tmp_path: Path, caplog) -> None:
    cfg = load_config(MOT_EXAMPLE)
    (tmp_path / "mot.npz").write_bytes(b"")
    assert completed_result(tmp_path, cfg.MOT) is None
    assert f"{tmp_path / 'mot.npz'}: empty file (0 bytes)" in caplog.text
    assert "not resumable, tracking this camera again" in caplog.text
    assert fingerprint(cfg.MOT)  # the fingerprint still works: a good file would be reused


def test_unreadable_pickle_when_pickles_are_allowed(tmp_path: Path) -> None:
    (tmp_path / "bad.pkl").write_text("garbage")
    with pytest.raises(TrackletFileError, match=r"bad\.pkl: not a readable pickle"):
        load_tracklets(tmp_path / "bad.pkl", allow_pickle=True)
    (tmp_path / "empty.pkl").write_bytes(b"")
    with pytest.raises(TrackletFileError, match=r"empty\.pkl: not a readable pickle \(EOFError"):
        load_tracklets(tmp_path / "empty.pkl", allow_pickle=True)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "frame,id,x,y,w,h,color,type,speed,plate\n1,x,1,1,1,1,,,,\n",
            r"t\.csv:2: id is 'x', expected an integer",
        ),
        ("frame,id,x,y,w,h,color,type,speed,plate\n1,4,1,1,1,1,,,fast,\n", r"t\.csv:2: speed is 'fast'"),
        ("frame,id,x,y,w,h,color,type,speed,plate\n1,4,1,1,1\n", r"t\.csv:2: h is missing"),
        ("frame,id\n1,2\n", r"t\.csv: missing CSV column\(s\) x, y, w, h"),
    ],
)
def test_csv_tracklets_name_the_bad_line(body: str, expected: str, tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(body)
    with pytest.raises(TrackletFileError, match=expected):
        load_tracklets(tmp_path / "t.csv")


# --------------------------------------------------------------------------- ground truth


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("frame,id,x,y,w,h,conf\n1,1,10,10,20,20,1\n", r"gt\.txt:1: frame is 'frame', expected an integer"),
        ("1,1,10,10,20,20,1\n2,one,11,10,20,20,1\n", r"gt\.txt:2: id is 'one', expected an integer"),
        ("1,1,10,10,20,20,1\n\n3,1,10,10,20\n", r"gt\.txt:3: expected at least 6 columns \(frame,id,x,y,w,h"),
        ("1 1 10 10 20 nan 1\n", r"gt\.txt:1: h is 'nan', expected a number"),
        ("", r"gt\.txt: the ground truth has no boxes"),
        ("1,1,10,10,20,20,0\n", r"gt\.txt: the ground truth has no boxes .*flagged 0"),
    ],
)
def test_bad_ground_truth_is_named(body: str, expected: str, tmp_path: Path) -> None:
    (tmp_path / "gt.txt").write_text(body)
    with pytest.raises(AnnotationError, match=expected):
        read_ground_truth(tmp_path / "gt.txt")


def test_text_after_the_number_columns_is_allowed(tmp_path: Path) -> None:
    (tmp_path / "gt.txt").write_text("1,1,10,10,20,20,1,car\n2,1,11,10,20,20,1,car\n")
    rows = read_mot_challenge(tmp_path / "gt.txt")
    assert rows.frame.tolist() == [1, 2] and rows.xywh[1].tolist() == [11, 10, 20, 20]


def test_detrac_xml_with_bad_attributes(shared: Path, tmp_path: Path) -> None:
    text = (shared / "data" / "traffic" / "MVI_20011.xml").read_text()
    assert len(read_detrac_xml(shared / "data" / "traffic" / "MVI_20011.xml")) == 5
    first_left = text.index('left="', text.index("<target ")) + len('left="')
    bad = tmp_path / "bad.xml"
    bad.write_text(text[:first_left] + "wide" + text[text.index('"', first_left) :])
    with pytest.raises(AnnotationError, match=r"bad\.xml: frame 1, target 1, <box>: 'left' is 'wide'"):
        read_detrac_xml(bad)


def test_eval_runner_refuses_empty_ground_truth(tmp_path: Path) -> None:
    (tmp_path / "gt.txt").write_text("")
    (tmp_path / "pred.txt").write_text("1,1,10,10,20,20,1,-1,-1,-1\n")
    proc = run(
        "evaluate/run_eval.py",
        "--config",
        str(MOT_EXAMPLE),
        "EVAL.GROUND_TRUTHS",
        f"[{tmp_path / 'gt.txt'}]",
        "EVAL.PREDICTIONS",
        f"[{tmp_path / 'pred.txt'}]",
        "OUTPUT_DIR",
        "",
    )
    assert proc.returncode == 2
    assert f"{tmp_path / 'gt.txt'}: the ground truth has no boxes" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_express_with_derived_names_rerun_after_an_empty_result(shared: Path, tmp_path: Path) -> None:
    """Folders named with a space and an umlaut need no 'name'; a 0-byte mot.npz is re-tracked, not fatal."""
    frames = sorted((shared / "data" / "traffic" / "MVI_20011").glob("*.jpg"))[:6]
    for folder in ("Nord Kreuzung", "S\u00fcd Ausfahrt"):
        (tmp_path / folder).mkdir()
        for frame in frames:
            (tmp_path / folder / frame.name).symlink_to(frame)
    (tmp_path / "layout.txt").write_text("0 1 -1 5\n1 0 -1 5\nfps 25 25\n")
    cfg = tmp_path / "express.yaml"
    cfg.write_text(
        "MOT: {DETECTOR: yolox_nano.onnx, REID_ONNX: mobilenetv2_imagenet_features.onnx, MIN_FRAMES: 2}\n"
        "MTMC: {CAMERA_LAYOUT: layout.txt}\n"
        "EXPRESS:\n  EXECUTOR: sequential\n  CAMERAS:\n"
        "    - video: Nord Kreuzung\n    - video: S\u00fcd Ausfahrt\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    first = run("mtmc/run_express_mtmc.py", "--config", str(cfg), "OUTPUT_DIR", str(out))
    assert first.returncode == 0, first.stderr
    assert (out / "0_Nord_Kreuzung" / "mot.npz").is_file() and (out / "1_Sud_Ausfahrt" / "mot.npz").is_file()
    expected = load_tracklets(out / "0_Nord_Kreuzung" / "mot.npz").tracklets
    (out / "0_Nord_Kreuzung" / "mot.npz").write_bytes(b"")  # as a full disk or a crash can leave it
    again = run("mtmc/run_express_mtmc.py", "--config", str(cfg), "OUTPUT_DIR", str(out))
    assert again.returncode == 0, again.stderr
    assert f"{out / '0_Nord_Kreuzung' / 'mot.npz'}: empty file (0 bytes)" in again.stderr
    assert "camera 'Sud_Ausfahrt': complete results of an identical configuration" in again.stderr
    redone = load_tracklets(out / "0_Nord_Kreuzung" / "mot.npz").tracklets
    assert [t.frames.tolist() for t in redone] == [t.frames.tolist() for t in expected]


def test_masks_zones_and_calibration_are_checked_before_the_run(shared: Path, tmp_path: Path) -> None:
    """A bad side input stops the run at start-up (exit 2, before any model loads), not after."""
    small = np.full((10, 10), 255, np.uint8)
    cv2.imwrite(str(tmp_path / "small.png"), small)
    (tmp_path / "zones").mkdir()
    cv2.imwrite(str(tmp_path / "zones" / "zone1.png"), small)
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "calib.txt").write_text("1 2 3\n")
    cfg = load_config(MOT_EXAMPLE, ["OUTPUT_DIR", str(tmp_path / "out")])
    info = probe_video(cfg.MOT.VIDEO)
    cases = {
        "DETECTION_MASK": (tmp_path / "text.png", "text.png: cannot read the detection mask image"),
        "ZONE_MASK_DIR": (tmp_path / "zones", "zones: zone masks are 10x10, the camera's frames 960x540"),
        "CALIBRATION": (tmp_path / "calib.txt", "calib.txt: expected a 3 x 3 homography"),
    }
    for key, (value, expected) in cases.items():
        mot = cfg.MOT.clone()
        mot.defrost()
        mot[key] = str(value)
        (error,) = frame_input_errors(mot, info)
        assert expected in error
    proc = run(
        "mot/run_tracker.py",
        "--config",
        str(MOT_EXAMPLE),
        "OUTPUT_DIR",
        str(tmp_path / "out"),
        "MOT.DETECTION_MASK",
        str(tmp_path / "small.png"),
    )  # no --dry-run: stops all the same
    assert proc.returncode == 2
    assert "small.png: detection mask is 10x10 but the camera's frames are 960x540" in proc.stderr
    assert "Traceback" not in proc.stderr and "loading" not in proc.stderr
