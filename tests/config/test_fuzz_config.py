"""Fuzzing the config loader, the override parser, the command line and the layout parser.

Arbitrary bytes and near-valid inputs must give a valid result or our own error type
(``ConfigError``, ``LayoutError``, argparse's exit 2), never another exception. Seeded
(``derandomize``) and bounded, so the run is the same every time and takes seconds.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.cli import build_parser, parse_args
from config.defaults import SCHEMA
from config.layout import CameraLayout, LayoutError, parse_layout
from config.loader import ConfigError, load_config, parse_overrides

FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
KEY_NAMES = [k.name for k in SCHEMA]
# Values a user might write for any key: right and wrong types, edge numbers, regex-like text.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["5e-1", "1e3", "[2, ", "(", "*", "cpu", "deepsort", "average", "", "~", ".inf"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
key_names = st.sampled_from(KEY_NAMES) | st.sampled_from(KEY_NAMES).map(str.lower) | st.text(max_size=15)
cameras = st.lists(
    st.dictionaries(
        st.sampled_from(["name", "video", "tracker", "min_frames", "detection_mask", "bogus", "NAME"]),
        values,
        max_size=4,
    )
    | values,
    max_size=3,
)


def nested(flat: dict[str, object]) -> dict[str, object]:
    """``{"A.B": 1}`` -> ``{"A": {"B": 1}}``; a clash keeps the first (it is a fuzz input anyway)."""
    root: dict[str, object] = {}
    for name, value in flat.items():
        *parents, leaf = name.split(".")
        node = root
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node.setdefault(leaf, value)
    return root


@pytest.fixture(scope="module")
def scratch() -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def load_or_config_error(path: Path | None, overrides: list[str] = (), mode: str = "any") -> None:
    try:
        cfg = load_config(path, overrides, mode=mode)
    except ConfigError as err:
        assert err.problems and all(isinstance(p, str) and p for p in err.problems)
        return
    assert cfg.is_frozen()


@FUZZ
@given(data=st.binary(max_size=300))
def test_config_file_of_arbitrary_bytes(scratch: Path, data: bytes) -> None:
    path = scratch / "bytes.yaml"
    path.write_bytes(data)
    load_or_config_error(path)


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("MOT.:- \n[]{},'\"&*!#%|>0123456789eE")), max_size=120))
def test_config_file_of_yaml_punctuation(scratch: Path, text: str) -> None:
    path = scratch / "punct.yaml"
    path.write_text(text, encoding="utf-8")
    load_or_config_error(path)


@FUZZ
@given(
    flat=st.dictionaries(key_names, values, max_size=6), cams=cameras, mode=st.sampled_from(["any", "mtmc"])
)
def test_near_valid_config_files(scratch: Path, flat: dict, cams: list, mode: str) -> None:
    raw = nested(flat)
    if cams:
        raw.setdefault("EXPRESS", {})
        if isinstance(raw["EXPRESS"], dict):
            raw["EXPRESS"]["CAMERAS"] = cams
    path = scratch / "near.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    load_or_config_error(path, mode=mode)


def like_default(default: object) -> st.SearchStrategy:
    """Values of the default's shape with wrong or extreme contents: where the checks are tested."""
    if isinstance(default, list):
        return st.lists(values, max_size=4)
    if isinstance(default, bool):
        return st.sampled_from(["yes", "off", 1, 0, None, "true"])
    if isinstance(default, (int, float)):
        return (
            st.floats(allow_nan=True) | st.integers(-(2**64), 2**64) | st.sampled_from(["5e-1", "-0", ".nan"])
        )
    return st.text(max_size=10) | st.sampled_from(["(", "[a-", "*", "rtsp://x", "~/x", "$HOME/x"])


@FUZZ
@given(data=st.data(), n_keys=st.integers(1, 4))
def test_every_key_with_values_of_its_shape(data: st.DataObject, n_keys: int) -> None:
    flat = {}
    for _ in range(n_keys):
        key = data.draw(st.sampled_from(SCHEMA))
        flat[key.name] = data.draw(like_default(key.default))
    try:
        cfg = load_config(None, [t for name, v in flat.items() for t in (name, yaml.safe_dump(v))])
    except ConfigError:
        return
    assert cfg.is_frozen()


@FUZZ
@given(
    pairs=st.lists(st.tuples(key_names, st.text(max_size=15) | values.map(str)), max_size=5),
    odd=st.booleans(),
)
def test_overrides(pairs: list[tuple[str, str]], odd: bool) -> None:
    tokens = [token for pair in pairs for token in pair] + (["MOT.TRACKER"] if odd else [])
    try:
        nested_overrides = parse_overrides(tokens)
    except ConfigError:
        return
    assert isinstance(nested_overrides, dict)
    load_or_config_error(None, tokens)


@FUZZ
@given(
    tokens=st.lists(
        st.sampled_from(
            ["--dry-run", "--log-level", "--log-level=debug", "warning", "LOUD", "--config", "x.yaml"]
        )
        | st.sampled_from(KEY_NAMES[:20])
        | st.text(max_size=6),
        max_size=8,
    )
)
def test_command_line_options_mixed_with_overrides(tokens: list[str]) -> None:
    parser = build_parser("fuzz")
    try:
        args = parse_args(parser, ["--config", "c.yaml", *tokens])
    except SystemExit as err:  # argparse's own message and exit code
        assert err.code == 2
        return
    assert not {"--dry-run", "--log-level", "--log-level=debug"} & set(args.opts)


def check_layout(path: Path, names: list[str] | None) -> None:
    try:
        layout = parse_layout(path, names)
    except LayoutError as err:
        assert err.problems and all(str(path) in p for p in err.problems)
        return
    assert isinstance(layout, CameraLayout)
    assert all(math.isfinite(v) and v > 0 for v in layout.fps)


@FUZZ
@given(data=st.binary(max_size=200))
def test_layout_of_arbitrary_bytes(scratch: Path, data: bytes) -> None:
    path = scratch / "layout_bytes.txt"
    path.write_bytes(data)
    check_layout(path, None)


layout_tokens = st.sampled_from(
    [
        "fps",
        "offset",
        "scale",
        "scales",
        "0",
        "1",
        "2",
        "-1",
        "30",
        "0.5",
        "inf",
        "-inf",
        "nan",
        "x",
        "1e400",
        "a",
        "b",
    ]
)
section_words = st.sampled_from(["fps", "offset", "scales", "compatibility", "dtmin", "dtmax"])


@FUZZ
@given(
    lines=st.lists(
        st.lists(layout_tokens, min_size=1, max_size=5).map(" ".join) | section_words, max_size=10
    ),
    names=st.none() | st.just(["a", "b"]) | st.just(["a", "b", "c"]),
)
def test_near_valid_layouts(scratch: Path, lines: list[str], names: list[str] | None) -> None:
    path = scratch / "layout_near.txt"
    path.write_text("\n".join(lines) + "\n")
    check_layout(path, names)
