"""Inputs that cost far more than their size (YAML alias bombs, npz zip bombs) or hold impossible numbers.

Each is refused before it is expanded, with a message naming the file; the runners exit 2.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from config.cameras import tracklet_camera_names
from config.layout import parse_layout
from config.loader import ConfigError, load_config
from config.yaml_safe import read_yaml_file
from mot.storage import load_tracklets
from mot.tracklet import Tracklet
from mot.tracklet_file import TrackletFileError, load_tracklet_file, save_tracklets

REPO = Path(__file__).resolve().parent.parent


def alias_bomb(levels: int = 9) -> str:
    """Nine levels of nine aliases each: 9**9 (387 million) strings once expanded, from ~400 bytes."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefghi", "bcdefghij"[:levels], strict=False):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    last = "abcdefghij"[levels]
    lines.append(f"MOT:\n  TRACKED_CLASSES: *{last}")  # where validation would walk all of it
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_fast_by_the_runner(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    proc = subprocess.run(
        [sys.executable, "mtmc/run_express_mtmc.py", "--config", str(bomb), "--dry-run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,  # without the fix this grows to gigabytes and runs for minutes
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{bomb}:1: not valid YAML (anchors and aliases" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("OUTPUT_DIR: &o out\nEVAL: {IGNORE_FP: false}\n", "cfg.yaml:1: not valid YAML (anchors and aliases"),
        ("A: " + "[" * 200 + "]" * 200 + "\n", "cfg.yaml:1: not valid YAML (nested deeper than 64 levels"),
    ],
)
def test_anchors_and_deep_nesting_are_refused_before_validation(
    text: str, expected: str, tmp_path: Path
) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path, [], mode="any")
    assert expected in str(err.value)
    with pytest.raises(ConfigError, match="anchors and aliases"):  # overrides go through the same loader
        load_config(None, ["MOT.TRACKED_CLASSES", "&x [2]"], mode="any")


def test_other_yaml_files_use_the_bounded_loader(tmp_path: Path) -> None:
    opts = tmp_path / "opts.yaml"
    opts.write_text(alias_bomb(3))
    with pytest.raises(ValueError, match=rf"{opts}:1: not valid YAML \(anchors and aliases"):
        read_yaml_file(opts)


def test_bom_at_the_start_of_config_and_layout(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_bytes(b"\xef\xbb\xbfEVAL:\n  MIN_IOU: 0.4\n")
    assert load_config(cfg, [], mode="any").EVAL.MIN_IOU == 0.4
    layout = tmp_path / "layout.txt"
    layout.write_bytes(b"\xef\xbb\xbfnorth south 1 5\nfps 10 10\n")
    assert parse_layout(layout, ["north", "south"]).allowed[0, 1]


# --------------------------------------------------------------------------- npz archives


def tracklet_file(path: Path, boxes: list[list[float]] | None = None) -> Path:
    boxes = boxes or [[10, 20, 30, 40], [12, 22, 30, 40]]
    features = np.eye(2, 8, dtype=np.float32)
    save_tracklets(path, [Tracklet(1, 0, range(len(boxes)), boxes, [0.9] * len(boxes), 2, features, [0, 1])])
    return path


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


def rewrite(path: Path, members: dict[str, bytes | int], deflate: bool = False) -> Path:
    """Copy ``path``'s members but ``members`` (bytes, or an int: that many deflated zeros after a header)."""
    forged = path.with_name(f"forged_{path.name}")
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(forged, "w", method) as dst:
        for info in src.infolist():
            if info.filename[:-4] not in members:
                dst.writestr(info.filename, src.read(info))
        for name, body in members.items():
            with dst.open(f"{name}.npy", "w", force_zip64=True) as f:
                if isinstance(body, bytes):
                    f.write(body)
                    continue
                f.write(npy_header((body // 4096, 1024)))
                for _ in range(body >> 20):
                    f.write(bytes(1 << 20))
    return forged


def test_unknown_members_are_never_read(tmp_path: Path) -> None:
    good = tracklet_file(tmp_path / "cam.npz")
    forged = rewrite(good, {"junk": npy_header((10**12,), "<f8") + bytes(64)})
    table = load_tracklet_file(forged)  # numpy would allocate 8 TB for 'junk' (or raise with a traceback)
    assert [len(t) for t in table.tracklets] == [2]


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        (npy_header((10**12, 1280)) + bytes(64), r"member 'features' declares shape \(1000000000000, 1280\)"),
        (npy_header((3, 4), "|O") + bytes(64), "member 'bboxes' holds Python objects"),
        (npy_header((1000, 4)) + bytes(64), r"member 'bboxes' declares .* more than the member's"),
    ],
)
def test_known_members_larger_than_declared_are_refused(member: bytes, expected: str, tmp_path: Path) -> None:
    good = tracklet_file(tmp_path / "cam.npz")
    name = "features" if "features" in expected else "bboxes"
    with pytest.raises(TrackletFileError, match=rf"forged_cam\.npz: {expected}"):
        load_tracklet_file(rewrite(good, {name: member}))


def test_deflated_zip_bomb_member_is_refused_before_inflating(tmp_path: Path) -> None:
    good = tracklet_file(tmp_path / "cam.npz")
    bomb = rewrite(good, {"features": 72 << 20}, deflate=True)  # 72 MiB of zeros in ~70 KB
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(TrackletFileError, match=r"member 'features' .*more than 100x \(a zip bomb\?\)"):
        load_tracklet_file(bomb)


def test_runner_exits_2_on_a_forged_tracklet_file(tmp_path: Path) -> None:
    good = tracklet_file(tmp_path / "north.npz")
    forged = rewrite(good, {"features": npy_header((10**12, 1280)) + bytes(64)})
    other = tracklet_file(tmp_path / "south.npz")
    (tmp_path / "layout.txt").write_text("0 1 1 5\nfps 10 10\n")
    cfg = tmp_path / "mtmc.yaml"
    cfg.write_text(
        f"OUTPUT_DIR: {tmp_path / 'out'}\nMTMC:\n  CAMERA_LAYOUT: layout.txt\n"
        f"  TRACKLETS: [{forged}, {other}]\n"
    )
    proc = subprocess.run(
        [sys.executable, "mtmc/run_mtmc.py", "--config", str(cfg)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{forged}: member 'features' declares shape" in proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- impossible numbers


@pytest.mark.parametrize(
    ("boxes", "expected"),
    [
        ([[1, 2, 30, 40], [1, 2, float("nan"), 40]], r"'bboxes' row 1 holds NaN or infinite values"),
        ([[1, 2, 30, 40], [1, 2, -3, 40]], r"'bboxes' row 1 has a negative width or height"),
    ],
)
def test_tracklet_files_with_impossible_boxes(boxes: list, expected: str, tmp_path: Path) -> None:
    with pytest.raises(TrackletFileError, match=rf"cam\.npz: impossible values: {expected}"):
        load_tracklet_file(tracklet_file(tmp_path / "cam.npz", boxes))
    csv = tmp_path / "cam.csv"
    csv.write_text("frame,id,x,y,w,h,color,type,speed,plate\n1,1,1,2,30,40,,,,\n2,1,1,2,-3,40,,,,\n")
    with pytest.raises(
        TrackletFileError, match=r"cam\.csv: impossible values: 'bboxes' row 1 has a negative"
    ):
        load_tracklets(csv)


def test_nan_features_and_zero_size_boxes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tracklet_file(tmp_path / "cam.npz", [[1, 2, 30, 40], [1, 2, 0, 40]])
    assert len(load_tracklet_file(path).tracklets) == 1  # a box clipped to the border: kept, with a warning
    assert "cam.npz: 1 of 2 boxes have zero width or height" in caplog.text
    forged = rewrite(path, {"features": npy_header((2, 8)) + np.full((2, 8), np.nan, np.float32).tobytes()})
    with pytest.raises(TrackletFileError, match=r"'features' row 0 holds NaN or infinite values"):
        load_tracklet_file(forged)


def test_run_mtmc_maps_layout_names_from_the_tracklet_files(tmp_path: Path) -> None:
    files = [tracklet_file(tmp_path / f"{i}_{name}" / "mot.npz") for i, name in enumerate(("north", "south"))]
    (tmp_path / "layout.txt").write_text("north south 1 5\nfps 10 10\n")
    overrides = ["MTMC.TRACKLETS", repr([str(f) for f in files]), "OUTPUT_DIR", str(tmp_path / "out")]
    overrides += ["MTMC.CAMERA_LAYOUT", str(tmp_path / "layout.txt")]
    cfg = load_config(None, overrides, mode="mtmc")  # refused before: "unknown camera 'north'"
    assert tracklet_camera_names(cfg.MTMC.TRACKLETS) == ["north", "south"]
    (tmp_path / "layout.txt").write_text("north west 1 5\nfps 10 10\n")
    with pytest.raises(ConfigError, match=r"unknown camera 'west' \(known cameras: north, south\)"):
        load_config(None, overrides, mode="mtmc")


@pytest.mark.parametrize("key", ["LIVE.REQUEST_TIMEOUT", "EXPRESS.RAY_NUM_CPUS", "LIVE.CLUSTER_INTERVAL"])
def test_infinite_numbers_are_refused_in_the_config(key: str) -> None:
    with pytest.raises(ConfigError, match=rf"{key}: expected a finite number in .*, got inf"):
        load_config(None, [key, ".inf"], mode="any")


def test_deeply_nested_json_metadata_is_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "deep.npz"
    np.savez(path, meta=np.frombuffer(b"[" * 200_000, np.uint8))  # json.loads recursed out of the stack
    with pytest.raises(TrackletFileError, match=r"deep\.npz: corrupt tracklet metadata"):
        load_tracklet_file(path)
