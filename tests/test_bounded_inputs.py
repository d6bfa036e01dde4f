"""Inputs that cost far more than their size (YAML alias bombs, npz zip bombs) or hold impossible numbers.

Each is refused before it is expanded, with a message naming the file; the runners exit 2.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config.layout import parse_layout
from config.loader import ConfigError, load_config
from config.yaml_safe import read_yaml_file

REPO = Path(__file__).resolve().parent.parent


def alias_bomb(levels: int = 9) -> str:
    """Nine levels of nine aliases each: 9**9 (387 million) strings once expanded, from ~400 bytes."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefghi", "bcdefghij"[:levels], strict=False):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
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
